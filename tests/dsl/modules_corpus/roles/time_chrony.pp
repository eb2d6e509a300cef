# chrony against the site's servers, serving the local network.
class { 'chrony':
  servers    => ['ntp1.example.com', 'ntp2.example.com'],
  queryhosts => ['10.0.0.0/8'],
  lock_all   => true,
}
