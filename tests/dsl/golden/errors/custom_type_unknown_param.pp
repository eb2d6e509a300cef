notify { 'ok': }
sysctl { 'vm.swappiness':
  ensure => present,
  value  => '10',
}
