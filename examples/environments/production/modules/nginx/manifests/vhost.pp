# @summary One nginx server block: a file under sites-available and its symlink in sites-enabled.
#
# @param docroot      document root; defaults to /var/www/<name>
# @param port         listen port
# @param server_aliases  extra server_name entries
# @param proxy_pass   proxy every request to this upstream URL instead of serving files
# @param ensure       present or absent
define nginx::vhost (
  Enum['present', 'absent'] $ensure = 'present',
  Optional[String[1]] $docroot = undef,
  Nginx::Port $port = 80,
  Array[String[1]] $server_aliases = [],
  Optional[String[1]] $proxy_pass = undef,
) {
  include nginx

  $root = $docroot.lest || { "/var/www/${name}" }
  $available = "${nginx::params::conf_dir}/sites-available/${name}.conf"
  $enabled = "${nginx::params::conf_dir}/sites-enabled/${name}.conf"

  file { $available:
    ensure  => $ensure ? { 'present' => file, default => absent },
    owner   => 'root',
    group   => 'root',
    mode    => '0644',
    content => epp('nginx/vhost.conf.epp', {
      'server_names' => [$name] + $server_aliases,
      'port'         => $port,
      'root'         => $root,
      'proxy_pass'   => $proxy_pass,
      'log_dir'      => $nginx::params::log_dir,
    }),
    notify  => Service[$nginx::service_name],
  }

  file { $enabled:
    ensure => $ensure ? { 'present' => link, default => absent },
    target => $available,
    notify => Service[$nginx::service_name],
  }

  if $proxy_pass =~ Undef and $ensure == 'present' {
    file { $root:
      ensure => directory,
      owner  => $nginx::user,
      group  => $nginx::user,
      mode   => '0755',
    }
  }
}
