# @summary Installs nginx and manages its main configuration; vhosts come from nginx::vhost.
#
# @param worker_connections  events { worker_connections }
# @param worker_processes    defaults to one per CPU
# @param user                the worker user
class nginx (
  Integer[1] $worker_connections = 1024,
  Integer[1] $worker_processes = $nginx::params::worker_processes,
  String[1] $user = $nginx::params::user,
  String[1] $package_name = $nginx::params::package_name,
  String[1] $service_name = $nginx::params::service_name,
) inherits nginx::params {
  package { $package_name:
    ensure => installed,
  }

  file { "${nginx::params::conf_dir}/nginx.conf":
    ensure  => file,
    owner   => 'root',
    group   => 'root',
    mode    => '0644',
    content => epp('nginx/nginx.conf.epp', {
      'user'               => $user,
      'worker_processes'   => $worker_processes,
      'worker_connections' => $worker_connections,
      'log_dir'            => $nginx::params::log_dir,
    }),
    require => Package[$package_name],
    notify  => Service[$service_name],
  }

  file { ["${nginx::params::conf_dir}/sites-available", "${nginx::params::conf_dir}/sites-enabled"]:
    ensure  => directory,
    owner   => 'root',
    group   => 'root',
    mode    => '0755',
    purge   => true,
    recurse => true,
    require => Package[$package_name],
  }

  file { "${nginx::params::conf_dir}/sites-enabled/default":
    ensure => absent,
    notify => Service[$service_name],
  }

  service { $service_name:
    ensure     => running,
    enable     => true,
    hasrestart => true,
  }
}
