# Number literals: decimal, hex, octal, floats, exponents, negative; how they land in the catalog.
notify { 'dec': message => 42 }
notify { 'hex': message => 0x1F }
notify { 'hex-upper': message => 0XFF }
notify { 'octal': message => 0755 }
notify { 'float': message => 3.14 }
notify { 'float-zero': message => 2.0 }
notify { 'exp': message => 1e3 }
notify { 'exp-neg': message => 1.5e-3 }
notify { 'exp-upper': message => 2E2 }
notify { 'negative': message => -17 }
notify { 'neg-float': message => -0.5 }
notify { 'big-float': message => 1.0e20 }
notify { 'small-float': message => 0.000001 }
notify { 'list': message => [1, 0x10, 010, 1.0, 1e1] }
notify { 'conv-int': message => Integer('0x1A') }
notify { 'conv-octal': message => Integer('0644') }
notify { 'conv-radix': message => Integer('777', 8) }
notify { 'conv-float': message => Float('2.5e2') }
notify { 'num-from-str': message => Numeric('12') + Numeric('0.5') }
notify { 'string-of': message => [String(0x1F), String(1.0), String(1e3), String(-0.0)] }
file { '/tmp/mode-number': ensure => file, mode => '0640' }
