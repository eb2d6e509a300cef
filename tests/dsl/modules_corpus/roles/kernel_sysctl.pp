# Kernel tuning through sysctl values.
sysctl::value { 'net.ipv4.ip_forward':
  value => '1',
}

sysctl::value { 'vm.swappiness':
  value => 10,
}

class { 'sysctl::values':
  args => {
    'net.core.rmem_max' => { 'value' => '16777216' },
    'net.core.wmem_max' => { 'value' => '16777216' },
  },
}
