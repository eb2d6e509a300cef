# NTP against the site's own servers.
class { 'ntp':
  servers   => ['ntp1.example.com', 'ntp2.example.com', '0.debian.pool.ntp.org'],
  preferred_servers => ['ntp1.example.com'],
  restrict  => ['default kod nomodify notrap nopeer noquery', '127.0.0.1'],
  iburst_enable => true,
}
