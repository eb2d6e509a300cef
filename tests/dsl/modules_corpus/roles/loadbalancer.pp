# An HAProxy load balancer in front of two web servers.
include haproxy

haproxy::listen { 'web':
  collect_exported => false,
  ipaddress        => '0.0.0.0',
  ports            => '80',
  mode             => 'http',
  options          => {
    'option'  => ['httplog', 'forwardfor'],
    'balance' => 'leastconn',
  },
}

haproxy::balancermember { 'web01':
  listening_service => 'web',
  server_names      => 'web01.example.com',
  ipaddresses       => '10.0.0.11',
  ports             => '8080',
  options           => 'check',
}

haproxy::balancermember { 'web02':
  listening_service => 'web',
  server_names      => ['web02.example.com', 'web03.example.com'],
  ipaddresses       => ['10.0.0.12', '10.0.0.13'],
  ports             => '8080',
  options           => ['check', 'inter 2000'],
}
