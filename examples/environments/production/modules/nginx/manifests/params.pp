# @summary OS-dependent defaults for the nginx class.
class nginx::params {
  $package_name = 'nginx'
  $service_name = 'nginx'
  $conf_dir     = '/etc/nginx'
  $log_dir      = '/var/log/nginx'
  $user = $facts['os']['family'] ? {
    'Debian'            => 'www-data',
    /^(RedHat|Suse)$/   => 'nginx',
    default             => 'nobody',
  }
  $worker_processes = $facts['processors']['count']
}
