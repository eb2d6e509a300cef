# The params/inherits pattern and inherited scope; module class with params from gmod::params.
class pkg::params {
  $package = $facts['os']['family'] ? {
    'Debian' => 'apache2',
    default  => 'httpd',
  }
  $version = 'installed'
}

class pkg (
  String $package = $pkg::params::package,
  String $version = $pkg::params::version,
) inherits pkg::params {
  package { $package: ensure => $version }
  notify { 'pkg-scope': message => "inherited var: ${version} / ${package} / ${pkg::params::package}" }
}

include pkg
include gmod
notify { 'outside': message => "${pkg::package} ${pkg::params::version} ${gmod::greeting} ${gmod::list}" }
