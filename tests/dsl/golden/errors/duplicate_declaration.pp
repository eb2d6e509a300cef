file { '/etc/dup':
  ensure => file,
}
notify { 'between': }
file { '/etc/dup':
  ensure => absent,
}
