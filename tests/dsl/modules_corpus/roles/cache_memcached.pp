# A memcached cache listening on the private interface.
class { 'memcached':
  max_memory      => 2048,
  listen_ip       => '10.0.0.5',
  tcp_port        => 11311,
  udp_port        => 0,
  max_connections => 4096,
  extended_opts   => ['lru_crawler'],
}
