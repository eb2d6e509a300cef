Sysctl {
  value => '1',
}
notify { 'between': }
sysctl { 'vm.swappiness':
  val => '10',
}
