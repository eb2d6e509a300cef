# Arithmetic: precedence, integer vs float division, modulo, negation, shifts, string-to-number.
$a = 7
$b = 2
notify { 'add': message => $a + $b }
notify { 'sub': message => $a - $b * 3 }
notify { 'mul': message => ($a - $b) * 3 }
notify { 'div-int': message => $a / $b }
notify { 'div-neg': message => -7 / 2 }
notify { 'div-float': message => 7.0 / 2 }
notify { 'mod': message => $a % $b }
notify { 'mod-neg': message => -7 % 3 }
notify { 'neg': message => -$a }
notify { 'shl': message => 1 << 10 }
notify { 'shr': message => 1024 >> 3 }
notify { 'float-sum': message => 0.1 + 0.2 }
notify { 'float-mul': message => 2.5 * 4 }
notify { 'int-float': message => 3 + 1.5 }
notify { 'string-num': message => '3' + 4 }
notify { 'string-float': message => '1.5' * 2 }
notify { 'big': message => 2147483647 * 4 }
notify { 'in-string': message => "sum=${$a + $b} prod=${$a * $b} float=${$a / 2.0} bare=${a} access=${a.type}" }
notify { 'typed-results': message => [type($a / $b), type(7.0 / 2), type(2.5 * 4)] }
