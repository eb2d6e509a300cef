# Resource types modules ship in Ruby (modules/*/lib/puppet/type/*.rb), read without running Ruby.

# A class and a type of the same name: `include` takes the class, a resource the type.
include archive

archive { '/tmp/golden/app.tar.gz':
  ensure       => present,
  source       => 'https://example.com/app.tar.gz',
  extract      => true,
  extract_path => '/opt',
  creates      => '/opt/app',
  checksum     => 'abc123',
  cleanup      => false,
}

# Defaults and a namevar given as a parameter: the resource is also known by its name.
Sysctl {
  target => '/etc/sysctl.d/99-golden.conf',
}

sysctl { 'net.ipv4.ip_forward':
  ensure => present,
  val    => '1',
}

sysctl { 'ipv6-forwarding':
  name    => 'net.ipv6.conf.all.forwarding',
  val     => '1',
  require => Sysctl['net.ipv4.ip_forward'],
}

notify { 'after-sysctl':
  require => Sysctl['net.ipv6.conf.all.forwarding'],
}

# A provider in the module gives the type its `provider` parameter.
ini_setting { 'golden colour':
  ensure   => present,
  path     => '/etc/golden.ini',
  section  => 'main',
  setting  => 'colour',
  value    => 'blue',
  provider => ruby,
}

ini_setting { 'golden shape':
  path    => '/etc/golden.ini',
  section => 'main',
  setting => 'shape',
  value   => 'round',
  before  => Ini_setting['golden colour'],
}

# Title patterns: the title stands for both namevars, and they show in the catalog.
gkv { '/etc/golden.kv:size':
  value => '10',
}

gkv { 'weight setting':
  path  => '/etc/golden.kv',
  key   => 'weight',
  value => '3',
}

# The namevar in the catalog, as Puppet writes it.
file { '/tmp/golden/dir/':
  ensure => directory,
}

file { '/tmp/golden/named':
  name    => '/tmp/golden/renamed',
  content => 'x',
}

file { '/tmp/golden/same':
  path   => '/tmp/golden/same',
  ensure => file,
}

exec { 'true-one':
  command => '/bin/true',
}

exec { 'true-two':
  command => '/bin/true',
}

package { 'golden-pkg-a':
  name => 'golden-pkg',
}

package { 'golden-pkg-b':
  name     => 'golden-pkg',
  provider => 'pip',
}

define golden_named (String $colour = 'red') {
  notify { "golden_named ${title} ${name} ${colour}": }
}

golden_named { 'n1':
  name => 'n1',
}

golden_named { 'n2':
  name => 'other-name',
}
