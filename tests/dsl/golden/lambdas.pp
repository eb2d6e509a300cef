# Iteration functions, lambdas and method chains.
$nums = [3, 1, 4, 1, 5, 9, 2, 6]
$h = { 'a' => 1, 'b' => 2, 'c' => 3 }
$nums.each |$i, $v| {
  if $i < 2 { notify { "each-${i}": message => $v } }
}
$h.each |$pair| { notify { "each-pair-${pair[0]}": message => $pair[1] } }
$h.each |$k, $v| { notify { "each-kv-${k}": message => $v * 10 } }
notify { 'map': message => $nums.map |$x| { $x * 2 } }
notify { 'map-index': message => $nums.map |$i, $x| { $i + $x } }
notify { 'map-hash': message => $h.map |$k, $v| { "${k}=${v}" } }
notify { 'filter': message => $nums.filter |$x| { $x > 3 } }
notify { 'filter-hash': message => $h.filter |$k, $v| { $v != 2 } }
notify { 'reduce': message => $nums.reduce |$memo, $x| { $memo + $x } }
notify { 'reduce-start': message => $nums.reduce(100) |$memo, $x| { $memo - $x } }
notify { 'reduce-hash': message => $h.reduce('') |$memo, $kv| { "${memo}${kv[0]}" } }
notify { 'chain': message => $nums.filter |$x| { $x % 2 == 1 }.map |$x| { $x * $x }.sort }
notify { 'any': message => $nums.any |$x| { $x > 8 } }
notify { 'all': message => $nums.all |$x| { $x > 0 } }
notify { 'index': message => $nums.index |$x| { $x == 4 } }
notify { 'index-value': message => $nums.index(5) }
notify { 'with': message => with(1, 2) |$a, $b| { $a + $b } }
notify { 'then': message => $h['b'].then |$x| { $x + 100 } }
notify { 'then-undef': message => "[${h['z'].then |$x| { $x + 100 }}]" }
notify { 'lest': message => $h['z'].lest || { 'fallback' } }
notify { 'step': message => Integer[0, 10].step(3).map |$x| { $x } }
notify { 'times': message => 3.map |$x| { $x } }
notify { 'range-each': message => Integer[1, 4].map |$x| { $x * $x } }
$rev = []
notify { 'reverse-each': message => $nums.reverse_each.map |$x| { $x } }
notify { 'string-each': message => 'abc'.map |$c| { $c.upcase } }
notify { 'default-param': message => [1, 2].map |$x, $y = 'n/a'| { "${x}/${y}" } }
notify { 'closure': message => [1, 2].map |$x| { $x + $nums[0] } }
