# A PostgreSQL server listening everywhere with two databases (the module predates Debian 12: the
# version is the site's).
class { 'postgresql::globals':
  version => '15',
}

class { 'postgresql::server':
  listen_addresses  => '*',
  postgres_password => 'pgroot',
}

postgresql::server::db { 'app':
  user     => 'app',
  password => postgresql::postgresql_password('app', 'apppass'),
}

postgresql::server::db { 'reports':
  user     => 'reporter',
  password => 'reportpass',
  encoding => 'UTF8',
  grant    => 'CONNECT',
}
