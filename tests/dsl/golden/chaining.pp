# Chaining arrows between resources, arrays of references, declarations, classes and collectors.
package { 'ch-pkg': ensure => installed }
-> file { '/ch/conf': ensure => file }
~> service { 'ch-svc': ensure => running }

exec { 'ch-a': command => '/bin/true' }
exec { 'ch-b': command => '/bin/true' }
exec { 'ch-c': command => '/bin/true' }
Exec['ch-a'] -> Exec['ch-b'] -> Exec['ch-c']
[Exec['ch-a'], Exec['ch-b']] ~> Service['ch-svc']
Exec['ch-c'] <- Package['ch-pkg']

class ch_cls1 { notify { 'ch1': } }
class ch_cls2 { notify { 'ch2': } }
include ch_cls1, ch_cls2
Class['ch_cls1'] -> Class['ch_cls2']
Class['ch_cls2'] -> Exec['ch-a']


define ch_def () { notify { "in-${title}": } }
ch_def { 'd1': }
-> ch_def { 'd2': }
Notify <| title == 'ch1' |> -> Ch_def['d1']
