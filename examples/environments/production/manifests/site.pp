# Node classification for the example site. Each node gets exactly one role; roles only
# include profiles, profiles hold the logic, Hiera holds the data.

# Every exec in the site gets a sane PATH unless it sets its own.
Exec {
  path => ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'],
}

node 'web01.example.com', 'web02.example.com' {
  include role::web
}

node 'db01.example.com' {
  include role::db
}

node 'app01.example.com' {
  include role::app
}

node default {
  include profile::base
  notify { 'unclassified':
    message => "Node ${trusted['certname']} has no role; applying the base profile only",
  }
}
