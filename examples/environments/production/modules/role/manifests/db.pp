# @summary A PostgreSQL database server.
class role::db {
  include profile::base
  include profile::postgresql

  Class['profile::base'] -> Class['profile::postgresql']
}
