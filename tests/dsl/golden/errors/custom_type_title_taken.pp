sysctl { 'swappiness':
  name => 'vm.swappiness',
  val  => '20',
}
sysctl { 'vm.swappiness':
  val => '10',
}
