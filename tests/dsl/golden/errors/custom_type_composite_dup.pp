gkv { '/etc/a.kv:size':
  value => '1',
}
gkv { 'size again':
  name  => '/etc/a.kv:size',
  path  => '/etc/a.kv',
  key   => 'size',
  value => '2',
}
