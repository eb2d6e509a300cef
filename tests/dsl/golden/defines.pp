# Defined types: $title and $name, defaults, several instances, nested defines, define inside class.
define vhost (
  Integer $port = 80,
  String $docroot = "/var/www/${title}",
  String $server = $name,
) {
  file { $docroot: ensure => directory }
  notify { "vhost-${title}":
    message => "title=${title} name=${name} server=${server} port=${port}",
  }
}

define site (Array[String] $vhosts) {
  $vhosts.each |$v| {
    vhost { "${title}-${v}": port => 8000 }
  }
  notify { "site-${title}": message => "${vhosts.length} vhosts" }
}

vhost { 'a.example.com': }
vhost { ['b.example.com', 'c.example.com']:
  port => 8080,
}
vhost { 'd':
  name => 'renamed.example.com',
}
site { 'shop': vhosts => ['front', 'api'] }

class hosting {
  gmod::thing { 'x': value => 'ex', size => 2 }
  gmod::thing { 'y': }
}
include hosting
