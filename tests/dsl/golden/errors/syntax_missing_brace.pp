class broken {
  file { '/tmp/a':
    ensure => file,

notify { 'after': }
