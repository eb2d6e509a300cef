# A message of the day assembled from fragments.
concat { '/etc/motd':
  owner => 'root',
  group => 'root',
  mode  => '0644',
}

concat::fragment { 'motd header':
  target  => '/etc/motd',
  content => "Welcome to ${facts['networking']['fqdn']}\n",
  order   => '01',
}

concat::fragment { 'motd policy':
  target  => '/etc/motd',
  content => "Authorised use only.\n",
  order   => '10',
}
