# Resource declarations: single, several bodies, title arrays, undef dropping an attribute.
file { '/etc/app':
  ensure => directory,
  mode   => '0755',
}

file { '/etc/app/a.conf':
  ensure  => file,
  content => "a\n",
  owner   => undef,
}

file {
  '/etc/app/b.conf':
    ensure => file,
    mode   => '0600';
  '/etc/app/c.conf':
    ensure => absent;
}

package { ['curl', 'git', 'vim']:
  ensure => installed,
}

$users = ['u1', 'u2']
user { $users:
  ensure     => present,
  managehome => true,
  shell      => '/bin/bash',
  uid        => undef,
}

service { 'cron':
  ensure    => running,
  enable    => true,
  hasstatus => true,
}

exec { 'refresh-cache':
  command     => '/usr/bin/true',
  refreshonly => true,
  timeout     => 30,
}

group { 'admins':
  gid => 3000,
}

notify { 'plain': }
notify { 'with message':
  message  => 'hello',
  withpath => false,
}
