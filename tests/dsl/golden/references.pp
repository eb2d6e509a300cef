# Resource references: single, multi-title, arrays, relationship metaparams and chaining arrows.
file { ['/r/a', '/r/b', '/r/c']: ensure => file }

package { 'p1': ensure => installed }
package { 'p2':
  ensure  => installed,
  require => Package['p1'],
}

service { 's1':
  ensure    => running,
  subscribe => File['/r/a', '/r/b'],
  require   => [Package['p1'], Package['p2']],
}

exec { 'e1':
  command => '/bin/true',
  before  => File['/r/c'],
  notify  => Service['s1'],
}

notify { 'refs':
  message => "${File['/r/a']} ${Package['p1', 'p2']} ${Service}",
}

Package['p1'] -> File['/r/c'] ~> Service['s1']
File['/r/a'] <- Exec['e1']
Service['s1'] <~ Package['p2']
[Package['p1'], Package['p2']] -> Exec['e1']

class ordered { notify { 'in-ordered': } }
include ordered
Class['ordered'] -> Notify['refs']
notify { 'ref-type': message => String(type(Package['p1'])) }
