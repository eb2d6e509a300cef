# A MySQL server with a root password, tuned options and two application databases.
class { 'mysql::server':
  root_password           => 'Sup3rS3cret',
  remove_default_accounts => true,
  override_options        => {
    'mysqld' => {
      'bind-address'       => '0.0.0.0',
      'max_connections'    => '512',
      'innodb_buffer_pool_size' => '1G',
    },
  },
}

mysql::db { 'wiki':
  user     => 'wiki',
  password => 'wikipass',
  host     => 'localhost',
  grant    => ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
}

mysql::db { 'shop':
  user     => 'shop',
  password => 'shoppass',
  host     => '10.0.0.%',
  charset  => 'utf8mb4',
  collate  => 'utf8mb4_unicode_ci',
}
