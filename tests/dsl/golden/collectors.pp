# Collectors with ==, !=, and, or, tag, parentheses; override blocks; collecting realizes virtuals.
@package { 'nginx': ensure => installed, tag => ['web'] }
@package { 'apache2': ensure => installed, tag => ['web', 'legacy'] }
@package { 'postgresql': ensure => installed, tag => ['db'] }
@package { 'redis': ensure => '6.0', tag => ['db', 'cache'] }

Package <| tag == 'web' and title != 'apache2' |>
Package <| (tag == 'db' or tag == 'cache') and ensure != '6.0' |>

@user { 'alice': ensure => present, groups => ['admins', 'dev'] }
@user { 'bob': ensure => present, groups => ['dev'] }
User <| groups == 'admins' |>

file { '/c/one': ensure => file, mode => '0644', tag => 'conf' }
file { '/c/two': ensure => file, mode => '0644', tag => 'conf' }
file { '/c/three': ensure => file, mode => '0644' }
File <| tag == 'conf' |> {
  mode  => '0600',
  owner => 'app',
}

service { 'a-svc': ensure => running }
service { 'b-svc': ensure => running }
Service <| title == 'a-svc' |> -> Service <| title == 'b-svc' |>
Package <| title == 'nginx' |> -> Service <| title == 'a-svc' |>

Notify <| |> { loglevel => 'err' }
notify { 'collected-by-empty': }
