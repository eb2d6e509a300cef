# The unfold/splat operator * in function calls, arrays, case options and selectors.
$args = ['%s-%s', 'a', 'b']
notify { 'call-splat': message => sprintf(*$args) }
notify { 'array-splat': message => [0, *[1, 2], 3] }
notify { 'array-splat-scalar': message => [*'x', *undef] }
$opts = ['a', 'b']
notify { 'case-splat':
  message => case 'b' {
    *$opts: { 'in opts' }
    default: { 'not' }
  },
}
notify { 'sel-splat': message => 'a' ? { *$opts => 'sel in opts', default => 'no' } }
notify { 'include-splat': message => with(*[1, 2, 3]) |$a, $b, $c| { $a + $b + $c } }
