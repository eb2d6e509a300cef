# @summary Time synchronisation with ntpd: package -> config ~> service.
#
# @param servers  upstream NTP servers (from Hiera: profile::ntp::servers)
# @param iburst   add 'iburst' to each server line
class profile::ntp (
  Array[String[1], 1] $servers,
  Boolean $iburst = true,
) {
  case $facts['os']['family'] {
    'Debian': {
      $package = 'ntp'
      $service = 'ntp'
      $config  = '/etc/ntpsec/ntp.conf'
    }
    'RedHat': {
      $package = 'ntp'
      $service = 'ntpd'
      $config  = '/etc/ntp.conf'
    }
    default: {
      fail("profile::ntp does not support ${facts['os']['family']}")
    }
  }

  package { $package:
    ensure => installed,
  }

  file { $config:
    ensure  => file,
    owner   => 'root',
    group   => 'root',
    mode    => '0644',
    content => epp('profile/ntp.conf.epp', { 'servers' => $servers, 'iburst' => $iburst }),
  }

  service { $service:
    ensure => running,
    enable => true,
  }

  Package[$package] -> File[$config] ~> Service[$service]
}
