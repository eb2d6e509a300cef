# A class and a resource type share the name 'archive': `include archive` is this class,
# `archive { ... }` the type in lib/puppet/type/archive.rb.
class archive (
  String $staging = '/var/cache/golden-archive',
) {
  file { $staging:
    ensure => directory,
  }
}
