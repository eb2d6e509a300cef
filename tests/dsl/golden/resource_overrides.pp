# Overrides from an inheriting class (File['x'] { }), +> appends, and =>undef removal.
class base_cls {
  file { '/etc/base.conf':
    ensure  => file,
    mode    => '0644',
    owner   => 'root',
    require => Package['pkg-a'],
  }
  service { 'svc':
    ensure => running,
    enable => true,
  }
  package { ['pkg-a', 'pkg-b']: ensure => installed }
}

class child_cls inherits base_cls {
  File['/etc/base.conf'] {
    mode    => '0600',
    owner   => undef,
    require +> Package['pkg-b'],
  }
  Service['svc'] {
    ensure => stopped,
  }
  notify { 'child': message => 'overrode parent resources' }
}

include child_cls
