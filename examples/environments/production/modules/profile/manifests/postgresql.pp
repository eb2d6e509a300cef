# @summary PostgreSQL from Debian's packages, tuned to the host's memory.
#
# @param version          major version (Debian 12 ships 15)
# @param max_connections  postgresql.conf max_connections
# @param allowed_networks networks allowed to connect with md5 authentication
# @param listen_addresses postgresql.conf listen_addresses
class profile::postgresql (
  Pattern[/\A\d+\z/] $version = '15',
  Integer[10, 10000] $max_connections = 100,
  Array[String[1]] $allowed_networks = [],
  String[1] $listen_addresses = 'localhost',
) {
  $confdir = "/etc/postgresql/${version}/main"
  # a quarter of the RAM for shared buffers, in MB
  $shared_buffers_mb = $facts['memory']['system']['total_bytes'] / 4 / 1024 / 1024

  package { "postgresql-${version}":
    ensure => installed,
    before => File["${confdir}/conf.d/bunraku.conf", "${confdir}/pg_hba.conf"],
  }

  file { "${confdir}/conf.d/bunraku.conf":
    ensure  => file,
    owner   => 'postgres',
    group   => 'postgres',
    mode    => '0644',
    content => epp('profile/postgresql.conf.epp', {
      'listen_addresses' => $listen_addresses,
      'max_connections'  => $max_connections,
      'shared_buffers'   => "${shared_buffers_mb}MB",
    }),
    notify  => Service['postgresql'],
  }

  file { "${confdir}/pg_hba.conf":
    ensure  => file,
    owner   => 'postgres',
    group   => 'postgres',
    mode    => '0640',
    content => epp('profile/pg_hba.conf.epp', { 'networks' => $allowed_networks }),
    notify  => Service['postgresql'],
  }

  service { 'postgresql':
    ensure => running,
    enable => true,
  }

  file { '/var/backups/postgresql':
    ensure => directory,
    owner  => 'postgres',
    group  => 'postgres',
    mode   => '0750',
  }

  cron { 'pg_dumpall':
    command => 'pg_dumpall | gzip > /var/backups/postgresql/all-$(date +\%a).sql.gz',
    user    => 'postgres',
    hour    => 2,
    minute  => 30,
    require => [Package["postgresql-${version}"], File['/var/backups/postgresql']],
  }
}
