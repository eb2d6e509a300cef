# Files only: the second apply changes nothing (an unchanged report).
file { '/etc/steady': ensure => directory, mode => '0755' }
file { '/etc/steady/a.conf': ensure => file, content => "a = 1\n", mode => '0644' }
file { '/etc/steady/link': ensure => link, target => 'a.conf' }
