class gmod::leaf {
  file { '/tmp/gmod-leaf':
    ensure => file,
  }
}
