# @summary nginx with the virtual hosts of this role.
#
# @param vhosts  virtual hosts keyed by server name; each value is nginx::vhost's parameters
# @param worker_connections  passed to the nginx class
class profile::nginx (
  Hash[String[1], Hash] $vhosts = {},
  Integer[1] $worker_connections = 1024,
) {
  class { 'nginx':
    worker_connections => $worker_connections,
  }
  contain nginx

  $vhosts.each |String $server_name, Hash $vhost| {
    nginx::vhost { $server_name:
      * => $vhost,
    }
  }

  file { '/var/www':
    ensure => directory,
    owner  => 'root',
    group  => 'root',
    mode   => '0755',
  }
}
