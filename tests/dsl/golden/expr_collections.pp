# + and - on arrays and hashes, << on arrays, concatenation rules, unique keys and order.
$a = [1, 2, 3]
$h = { 'a' => 1, 'b' => 2 }
notify { 'arr-plus-arr': message => $a + [4, 5] }
notify { 'arr-plus-elem': message => $a + 4 }
notify { 'arr-plus-nested': message => $a + [[6, 7]] }
notify { 'arr-plus-hash': message => [0] + { 'k' => 'v' } }
notify { 'arr-minus': message => [1, 2, 3, 2, 1] - [2] }
notify { 'arr-minus-elem': message => $a - 1 }
notify { 'arr-append': message => $a << [9] }
notify { 'arr-append-elem': message => $a << 10 }
notify { 'hash-plus': message => $h + { 'b' => 20, 'c' => 3 } }
notify { 'hash-minus-arr': message => $h - ['a'] }
notify { 'hash-minus-hash': message => $h - { 'b' => 99 } }
notify { 'hash-minus-key': message => $h - 'b' }
notify { 'hash-plus-arr': message => $h + ['z', 26] }
notify { 'nested': message => { 'list' => [1, { 'x' => [true, false] }], 'n' => undef } }
