# Selectors: literal, case-insensitive strings, regex with captures, types, arrays of options, default.
$osf = $facts['os']['family']
notify { 'sel-literal': message => $osf ? { 'Debian' => 'deb', 'RedHat' => 'rpm', default => 'other' } }
notify { 'sel-case': message => 'DEBIAN' ? { 'debian' => 'insensitive', default => 'sensitive' } }
notify { 'sel-regex': message => 'web-03' ? { /^web-(\d+)$/ => "web #${1}", default => 'no' } }
notify { 'sel-type': message => 42 ? { String => 'string', Integer[0, 10] => 'small', Integer => 'int', default => 'x' } }
notify { 'sel-default': message => 'zzz' ? { 'a' => 1, default => 'fallback' } }
notify { 'sel-number': message => 3 ? { 1 => 'one', 3 => 'three', default => 'many' } }
notify { 'sel-bool': message => true ? { false => 'f', true => 't' } }
notify { 'sel-undef': message => undef ? { undef => 'was undef', default => 'defined' } }
$v = 'b'
notify { 'sel-var': message => $v ? { $osf => 'os', 'b' => 'bee', default => 'd' } }
