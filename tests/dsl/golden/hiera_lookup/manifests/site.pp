# Hiera 5 lookups: merge strategies, defaults, value types, automatic parameter lookup, interpolation.
include hl
$lookups = {
  'first'            => lookup('greeting'),
  'first-array'      => lookup('packages'),
  'unique'           => lookup('packages', Array[String], 'unique'),
  'hash'             => lookup('settings', Hash, 'hash'),
  'deep'             => lookup('settings', { 'merge' => 'deep' }),
  'deep-options'     => lookup('users'),
  'default'          => lookup('nope', String, 'first', 'the default'),
  'default-hash'     => lookup({ 'name' => 'nope', 'default_value' => [] }),
  'default-lambda'   => lookup('nope') |$key| { "no ${key}" },
  'typed-int'        => lookup('number', Integer),
  'typed-float'      => lookup('float_val', Float),
  'bool'             => lookup('bool_val', Boolean),
  'dotted-key'       => lookup('nested.deep.value'),
  'codename'         => lookup('codename'),
  'legacy'           => lookup('legacy_host'),
  'fqdn'             => lookup('fqdn_from_facts'),
  'interp-lookup'    => lookup('interp_lookup'),
  'alias'            => lookup('aliased'),
  'literal'          => lookup('literal_pct'),
  'empty-string'     => lookup('empty_string'),
  'null-default'     => lookup('null_value', Optional[String], 'first', 'dflt'),
  'multi-name'       => lookup(['nope1', 'greeting']),
  'autoparam-merge'  => $hl::flags,
}
$lookups.each |$k, $v| {
  notify { "lookup-${k}": message => $v }
}
