# Variable scopes: top, node, class, define, qualified names, $::x, $facts, $trusted, shadowing.
$top = 'T'
$shadow = 'top-shadow'

class scoped {
  $local = 'L'
  $shadow = 'class-shadow'
  notify { 'class-scope':
    message => "${top} ${::top} ${local} ${shadow} ${::shadow} ${scoped::local}",
  }
}

class reader {
  notify { 'reader':
    message => "${scoped::local} ${scoped::shadow} ${::scoped::local}",
  }
}

define scoped_def ($param = 'p') {
  $in_def = "D-${title}"
  notify { "def-${title}":
    message => "${top} ${in_def} ${param} ${name}",
  }
}

include scoped
include reader
scoped_def { 'one': }

notify { 'facts':
  message => "${facts['os']['family']} ${::osfamily} ${osfamily} ${facts['networking']['hostname']} ${::networking['ip']}",
}
notify { 'trusted':
  message => "${trusted['certname']} ${trusted['hostname']} ${trusted['domain']} ${trusted['authenticated']}",
}
notify { 'unknown-var': message => "[${does_not_exist}] [${scoped::nope}]" }
notify { 'module-name': message => "[${module_name}] [${name}] [${title}]" }

$list = [1, 2, 3]
$list.each |$x| {
  $inner = $x * 10
}
notify { 'lambda-scope': message => "inner not visible: [${inner}]" }
