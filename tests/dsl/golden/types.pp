# The type system: parameterised types, matching with =~ and assert_type, type() and type rendering.
$checks = {
  'int-range'      => 5 =~ Integer[1, 10],
  'int-out'        => 11 =~ Integer[1, 10],
  'int-min'        => 100 =~ Integer[50],
  'float'          => 1.5 =~ Float[1.0, 2.0],
  'numeric'        => 3 =~ Numeric,
  'string-size'    => 'abc' =~ String[2, 3],
  'string-too-long' => 'abcd' =~ String[2, 3],
  'enum'           => 'b' =~ Enum['a', 'b'],
  'enum-no'        => 'B' =~ Enum['a', 'b'],
  'pattern'        => 'web01' =~ Pattern[/^web\d+$/, /^db/],
  'array-of'       => [1, 2] =~ Array[Integer],
  'array-size'     => [1, 2, 3] =~ Array[Integer, 1, 2],
  'array-empty'    => [] =~ Array[String],
  'hash-of'        => { 'a' => 1 } =~ Hash[String, Integer],
  'hash-bad'       => { 'a' => 'x' } =~ Hash[String, Integer],
  'tuple'          => ['a', 1] =~ Tuple[String, Integer],
  'tuple-opt'      => ['a'] =~ Tuple[String, Integer, 1, 2],
  'struct'         => { 'name' => 'x', 'port' => 80 } =~ Struct[{ 'name' => String, 'port' => Integer }],
  'struct-opt'     => { 'name' => 'x' } =~ Struct[{ 'name' => String, Optional['port'] => Integer }],
  'struct-extra'   => { 'name' => 'x', 'z' => 1 } =~ Struct[{ 'name' => String }],
  'optional-undef' => undef =~ Optional[String],
  'optional-val'   => 'x' =~ Optional[String],
  'variant'        => 3 =~ Variant[String, Integer],
  'notundef'       => undef =~ NotUndef,
  'notundef-val'   => 0 =~ NotUndef[Integer],
  'data'           => { 'a' => [1, 'b', true, undef, 1.5] } =~ Data,
  'data-not'       => Integer =~ Data,
  'scalar'         => 'x' =~ Scalar,
  'scalar-arr'     => [] =~ Scalar,
  'boolean'        => false =~ Boolean,
  'undef-type'     => undef =~ Undef,
  'any'            => undef =~ Any,
  'type-of-type'   => Integer =~ Type[Numeric],
  'collection'     => [1] =~ Collection[1],
  'regexp'         => /x/ =~ Regexp,
  'default'        => default =~ Default,
  'catalog-entry'  => File['/x'] =~ Type[Resource],
  'class-ref'      => Class['foo'] =~ Type[Class],
  'sensitive'      => Sensitive('s') =~ Sensitive[String],
  'iterable'       => 'abc' =~ Iterable,
  'callable'       => Integer =~ Callable,
  'integer-float'  => 1 =~ Float,
  'float-integer'  => 1.0 =~ Integer,
  'compare-types'  => Integer[1, 5] < Integer,
  'type-equal'     => Integer[1] == Integer[1, default],
}
$checks.each |$k, $v| {
  notify { "type-${k}": message => $v }
}
notify { 'type-of':
  message => [type(1), type(1.5), type('ab'), type([1, 'a']), type({ 'a' => 1 }), type(undef), type(true), type(/re/)].map |$t| { String($t) },
}
notify { 'type-generalized': message => [type(1, 'generalized'), type('ab', 'generalized'), type([1, 'a'], 'generalized')].map |$t| { String($t) } }
notify { 'type-names': message => [String(Optional[String]), String(Variant[Integer, String]), String(Hash[String, Array[Integer]]), String(Enum['b', 'a']), String(Pattern[/x/])] }
notify { 'assert-type': message => assert_type(Integer[0], 42) }
notify { 'assert-type-block': message => assert_type(Integer, 'nope') |$expected, $actual| { "expected ${expected}, got ${actual}" } }
