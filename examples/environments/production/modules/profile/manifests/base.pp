# @summary Everything every host gets: admins and their groups, sudo, sshd, NTP, motd, cron jobs.
#
# @param admins        administrators keyed by login (from Hiera: profile::base::admins)
# @param admin_group   the group that may use sudo
# @param packages      extra packages every host needs
# @param cron_jobs     cron resources keyed by title, passed to create_resources()
# @param ssh_port      the port sshd listens on
# @param permit_root_login  sshd's PermitRootLogin
# @param motd_banner   first line of /etc/motd
class profile::base (
  Hash[String[1], Hash] $admins,
  String[1] $admin_group,
  Array[String[1]] $packages = [],
  Hash[String[1], Hash] $cron_jobs = {},
  Integer[1, 65535] $ssh_port = 22,
  Enum['yes', 'no', 'prohibit-password'] $permit_root_login = 'no',
  String $motd_banner = 'Authorised access only',
) {
  # Files managed by the base profile belong to root unless they say otherwise.
  File {
    owner => 'root',
    group => 'root',
    mode  => '0644',
  }

  contain profile::ntp
  contain profile::base::ssh

  package { $packages:
    ensure => installed,
  }

  group { $admin_group:
    ensure => present,
    system => true,
  }

  $admins.each |String $login, Hash $admin| {
    group { $login:
      ensure => present,
      gid    => $admin['uid'],
    }

    user { $login:
      ensure     => present,
      uid        => $admin['uid'],
      gid        => $admin['uid'],
      groups     => [$admin_group],
      comment    => $admin['name'],
      home       => "/home/${login}",
      managehome => true,
      shell      => $admin.get('shell', '/bin/bash'),
      require    => Group[$login, $admin_group],
    }

    unless $admin['ssh_key'] =~ Undef {
      ssh_authorized_key { "${login}@${admin['key_comment']}":
        ensure => present,
        user   => $login,
        type   => 'ssh-ed25519',
        key    => $admin['ssh_key'],
      }
    }
  }

  $sudoers = @("SUDOERS"/L)
    # Managed by Bunraku (profile::base) - local changes will be overwritten.
    %${admin_group} ALL=(ALL:ALL) NOPASSWD: ALL
    Defaults:%${admin_group} !requiretty, \
    env_keep += "SSH_AUTH_SOCK"
    | SUDOERS

  file { '/etc/sudoers.d/admins':
    ensure       => file,
    mode         => '0440',
    content      => $sudoers,
    validate_cmd => '/usr/sbin/visudo -cf %',
  }

  file { '/etc/motd':
    ensure  => file,
    content => epp('profile/motd.epp', {
      'banner'   => $motd_banner,
      'role'     => $facts['role'],
      'admins'   => $admins.keys.sort,
    }),
  }

  create_resources('cron', $cron_jobs, { 'user' => 'root', 'environment' => ['MAILTO=root'] })
}
