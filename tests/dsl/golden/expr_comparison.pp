# Comparisons: ==, != (case-insensitive on strings), <, <=, >, >=, 'in' for strings/arrays/hashes/regex.
notify { 'eq-case': message => 'Hello' == 'hello' }
notify { 'ne': message => 'a' != 'A' }
notify { 'num-eq': message => 1 == 1.0 }
notify { 'str-num': message => '1' == 1 }
notify { 'arr-eq': message => [1, 'A'] == [1, 'a'] }
notify { 'hash-eq': message => { 'a' => 'X' } == { 'a' => 'x' } }
notify { 'lt': message => 1 < 2 }
notify { 'str-lt': message => 'apple' < 'Banana' }
notify { 'ge': message => 3 >= 3.0 }
notify { 'in-str': message => 'ell' in 'Hello' }
notify { 'in-str-case': message => 'ELL' in 'Hello' }
notify { 'in-arr': message => 'b' in ['a', 'B', 'c'] }
notify { 'in-arr-num': message => 2 in [1, 2, 3] }
notify { 'in-hash': message => 'k' in { 'k' => 1 } }
notify { 'in-regex': message => /^b/ in ['abc', 'bcd'] }
notify { 'in-type': message => Integer in ['a', 3] }
notify { 'undef-eq': message => undef == undef }
notify { 'bool-eq': message => true == 'true' }
