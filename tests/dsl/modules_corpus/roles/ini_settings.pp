# Settings in INI files, one absent.
ini_setting { 'php memory_limit':
  ensure  => present,
  path    => '/etc/php/8.2/fpm/php.ini',
  section => 'PHP',
  setting => 'memory_limit',
  value   => '256M',
}

ini_setting { 'php expose_php':
  ensure  => absent,
  path    => '/etc/php/8.2/fpm/php.ini',
  section => 'PHP',
  setting => 'expose_php',
}

ini_subsetting { 'grub cmdline quiet':
  ensure            => present,
  path              => '/etc/default/grub',
  section           => '',
  setting           => 'GRUB_CMDLINE_LINUX',
  subsetting        => 'quiet',
  key_val_separator => '=',
  quote_char        => '"',
}
