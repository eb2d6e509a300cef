# undef in parameters, arrays and hashes, and empty strings/arrays as values.
$nothing = undef
file { '/u/a':
  ensure => file,
  owner  => $nothing,
  group  => '',
}
notify { 'arr-with-undef': message => [1, undef, 'x'] }
notify { 'hash-with-undef': message => { 'a' => undef, 'b' => 1 } }
notify { 'empty-array': message => [] }
notify { 'empty-hash': message => {} }
notify { 'empty-string': message => '' }
notify { 'undef-message': message => undef }
notify { 'undef-string': message => "${nothing}" }
notify { 'nested-undef': message => [[undef], { 'k' => [undef] }] }
exec { 'undef-array-param':
  command => '/bin/true',
  path    => ['/bin', undef, '/usr/bin'],
}
notify { 'default-value': message => default }
