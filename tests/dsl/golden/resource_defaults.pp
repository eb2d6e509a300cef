# Resource defaults: top scope, class scope, dynamic scoping into included classes, explicit wins.
File {
  owner => 'root',
  mode  => '0644',
}

Notify {
  withpath => true,
}

class inner {
  file { '/tmp/inner': ensure => file }
  notify { 'inner': }
}

class outer {
  File {
    mode  => '0600',
    group => 'outer',
  }
  file { '/tmp/outer': ensure => file }
  file { '/tmp/outer-explicit':
    ensure => file,
    mode   => '0400',
  }
  include inner
}

define wrapper () {
  Notify { loglevel => 'debug' }
  notify { "wrapped-${title}": }
}

include outer
file { '/tmp/top': ensure => file }
wrapper { 'w1': }
notify { 'top': }
package { 'declared-before-default': }
Package { ensure => 'latest' }
package { 'late-default': }
