file { '/tmp/golden/dup/':
  ensure => directory,
}
file { '/tmp/golden/dup':
  ensure => directory,
}
