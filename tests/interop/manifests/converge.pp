# What Puppet must apply from Bunraku's catalog exactly as Bunraku does: directories and modes,
# contents (one Sensitive), links, removal, refreshes (notify, subscribe, a chain, a defined type and a
# class as refresh sources), a stage. Paths are moved under a temporary root by the test.
stage { 'first': before => Stage['main'] }

class base {
  file { '/srv/app': ensure => directory, mode => '0750' }
}
class { 'base': stage => 'first' }

define site::vhost(String $port) {
  file { "/srv/app/${title}.conf":
    ensure  => file,
    content => "listen ${port}\n",
    mode    => '0640',
  }
}

site::vhost { 'www': port => '80' }
site::vhost { 'api': port => '8080', notify => Exec['reload-on-vhost'] }

file { '/srv/app/secret':
  ensure  => file,
  content => Sensitive("s3cret\n"),
  mode    => '0600',
}
file { '/srv/app/current': ensure => link, target => '/srv/app/www.conf' }
file { '/srv/app/relative': ensure => link, target => 'api.conf' }
file { '/srv/app/empty': ensure => file }
file { '/srv/app/present': ensure => present, content => "p\n" }
file { '/srv/app/gone': ensure => absent }
file { '/srv/app/data': ensure => directory }
file { '/srv/app/data/seed': ensure => file, content => "seed\n", notify => Exec['reload-on-seed'] }

exec { 'reload-on-vhost': command => '/bin/true', refreshonly => true }
exec { 'reload-on-seed': command => '/bin/true', refreshonly => true }
exec { 'subscriber':
  command     => '/bin/true',
  refreshonly => true,
  subscribe   => [File['/srv/app/secret'], File['/srv/app/present']],
}
exec { 'never': command => '/bin/true', refreshonly => true }
exec { 'always': command => '/bin/true' }

file { '/srv/app/chained': ensure => file, content => "c\n" }
~> exec { 'chain-target': command => '/bin/true', refreshonly => true }

class notifier {
  file { '/srv/app/from-class': ensure => file, content => "k\n" }
}
include notifier
exec { 'class-refreshed': command => '/bin/true', refreshonly => true, subscribe => Class['notifier'] }

notify { 'done': message => 'converged', require => Exec['always'] }
