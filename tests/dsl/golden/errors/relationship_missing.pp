notify { 'here': }
file { '/tmp/x':
  ensure  => file,
  require => Package['not-in-catalog'],
}
