sysctl { 'vm.swappiness':
  val => '10',
}
sysctl { 'swappiness':
  name => 'vm.swappiness',
  val  => '20',
}
