# A failed run: a command that fails, what depends on it skipped, a refresh that fails, and one change
# that succeeds regardless.
exec { 'broken': command => '/bin/false' }
file { '/etc/after-broken': ensure => file, content => "never\n", require => Exec['broken'] }
file { '/etc/trigger': ensure => file, content => "t\n", notify => Exec['failing-refresh'] }
exec { 'failing-refresh': command => '/bin/false', refreshonly => true }
file { '/etc/fine': ensure => file, content => "fine\n" }
