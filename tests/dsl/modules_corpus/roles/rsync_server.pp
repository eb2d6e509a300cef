# An rsync daemon exporting two modules.
class { 'rsync::server':
  use_xinetd => false,
  address    => '0.0.0.0',
}

rsync::server::module { 'backups':
  path        => '/srv/backups',
  comment     => 'nightly backups',
  read_only   => 'no',
  uid         => 'backup',
  gid         => 'backup',
  hosts_allow => ['10.0.0.0/8'],
  auth_users  => ['backup'],
  secrets_file => '/etc/rsyncd.secrets',
}

rsync::server::module { 'mirror':
  path    => '/srv/mirror',
  exclude => ['*.tmp', '.git'],
}
