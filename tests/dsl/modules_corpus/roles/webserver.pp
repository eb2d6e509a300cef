# A web front: two name-based vhosts on port 80 and an SSL vhost on 443.
class { 'apache':
  default_vhost => false,
  mpm_module    => 'prefork',
  server_tokens => 'Prod',
}

apache::vhost { 'www.example.com':
  port          => 80,
  docroot       => '/var/www/www.example.com',
  docroot_owner => 'www-data',
  docroot_group => 'www-data',
  serveraliases => ['example.com'],
  options       => ['-Indexes', '+FollowSymLinks'],
  override      => ['All'],
}

apache::vhost { 'static.example.com':
  port    => 8080,
  docroot => '/srv/static',
  headers => ['set Cache-Control "max-age=3600"'],
}

apache::vhost { 'secure.example.com':
  port     => 443,
  docroot  => '/var/www/secure',
  ssl      => true,
  ssl_cert => '/etc/ssl/certs/secure.example.com.pem',
  ssl_key  => '/etc/ssl/private/secure.example.com.key',
}
