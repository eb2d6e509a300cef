# @summary The OpenSSH server, configured from an EPP template.
class profile::base::ssh {
  $service = $facts['os']['family'] ? {
    'Debian' => 'ssh',
    default  => 'sshd',
  }

  package { 'openssh-server':
    ensure => installed,
  }

  file { '/etc/ssh/sshd_config':
    ensure       => file,
    mode         => '0600',
    content      => epp('profile/sshd_config.epp', {
      'port'              => $profile::base::ssh_port,
      'permit_root_login' => $profile::base::permit_root_login,
      'allow_groups'      => [$profile::base::admin_group, 'root'],
      'listen'            => $facts['networking']['ip'],
    }),
    validate_cmd => '/usr/sbin/sshd -t -f %',
    require      => Package['openssh-server'],
    notify       => Service[$service],
  }

  service { $service:
    ensure => running,
    enable => true,
  }
}
