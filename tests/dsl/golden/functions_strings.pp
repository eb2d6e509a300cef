# String functions.
$s = '  Hello World  '
notify { 'split': message => split('a,b,,c', ',') }
notify { 'split-regex': message => split('a1b22c', /\d+/) }
notify { 'join': message => join(['x', 'y', 'z'], '-') }
notify { 'join-nosep': message => ['x', 1, true].join }
notify { 'upcase': message => upcase('abc') }
notify { 'upcase-arr': message => ['a', 'b'].upcase }
notify { 'downcase': message => 'ABC'.downcase }
notify { 'capitalize': message => 'hello world'.capitalize }
notify { 'capitalize-arr': message => ['abc', 'dEF'].capitalize }
notify { 'strip': message => "[${s.strip}]" }
notify { 'lstrip': message => "[${s.lstrip}]" }
notify { 'rstrip': message => "[${s.rstrip}]" }
notify { 'size': message => 'hello'.size }
notify { 'length': message => length('héllo') }
notify { 'regsubst': message => regsubst('foo-bar-baz', '-', '_') }
notify { 'regsubst-global': message => regsubst('foo-bar-baz', '-', '_', 'G') }
notify { 'regsubst-capture': message => regsubst('2024-05-06', /(\d+)-(\d+)-(\d+)/, '\3/\2/\1') }
notify { 'regsubst-icase': message => regsubst('ABCabc', 'b', 'x', 'GI') }
notify { 'regsubst-array': message => regsubst(['a1', 'b2'], /\d/, '#') }
notify { 'sprintf': message => sprintf('%s has %d items costing %.2f (%05d) %x %o %-4s| %%', 'cart', 3, 9.5, 42, 255, 8, 'ab') }
notify { 'sprintf-hash': message => sprintf('%<a>s and %<b>d', { 'a' => 'x', 'b' => 2 }) }
notify { 'match': message => 'web-01'.match(/^(\w+)-(\d+)$/) }
notify { 'match-none': message => "[${'xyz'.match(/\d/)}]" }
notify { 'match-array': message => ['a1', 'b'].match(/\d/) }
notify { 'versioncmp': message => [versioncmp('1.2.10', '1.2.9'), versioncmp('1.0', '1.0'), versioncmp('2.0', '10.0'), versioncmp('1.0a', '1.0')] }
notify { 'chars': message => 'abc'.map |$c| { $c } }
notify { 'downcase-hash': message => { 'A' => 'B' }.downcase }
