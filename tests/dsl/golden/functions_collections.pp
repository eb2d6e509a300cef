# Collection functions.
$h = { 'b' => 2, 'a' => 1, 'c' => { 'd' => [10, 20] } }
$a = [3, 1, 2, 3, 'x', [4, [5]]]
notify { 'keys': message => keys($h) }
notify { 'values': message => $h.values }
notify { 'sort': message => [3, 1, 2].sort }
notify { 'sort-str': message => ['b', 'C', 'a'].sort }
notify { 'sort-lambda': message => [3, 1, 2].sort |$x, $y| { compare($y, $x) } }
notify { 'unique': message => [1, 2, 1, 'a', 'A', 'a'].unique }
notify { 'flatten': message => $a.flatten }
notify { 'reverse-each': message => [1, 2, 3].reverse_each.map |$x| { $x } }
notify { 'min': message => [min(3, 1, 2), min('b', 'a'), [5, 4].min] }
notify { 'max': message => [max(3, 1, 2), max(1.5, 2), [5, 4].max] }
notify { 'abs': message => [abs(-3), abs(2.5), abs(-0.5)] }
notify { 'empty': message => [empty([]), empty({}), empty(''), empty('a'), empty([1])] }
notify { 'dig': message => $h.dig('c', 'd', 1) }
notify { 'dig-missing': message => "[${h.dig('x', 'y')}]" }
notify { 'get': message => $h.get('c.d.0') }
notify { 'get-default': message => $h.get('c.zz', 'dflt') }
notify { 'size': message => [$h.size, $a.size, length([])] }
notify { 'index': message => ['a', 'b', 'c'].index('c') }
notify { 'index-hash': message => $h.index |$v| { $v == 1 } }
notify { 'member-in': message => 'a' in keys($h) }
notify { 'hash-from-array': message => Hash([['k1', 'v1'], ['k2', 'v2']]) }
notify { 'array-from-hash': message => Array({ 'a' => 1 }) }
notify { 'compare': message => [compare(1, 2), compare('b', 'a'), compare('a', 'A', false)] }
notify { 'convert-array': message => Array('abc', true) }
notify { 'tree-each': message => [[1, [2]], 3].flatten.map |$x| { $x + 1 } }
