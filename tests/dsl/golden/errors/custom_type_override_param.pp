archive { '/tmp/a.tar.gz':
  source => 'https://example.com/a.tar.gz',
}
Archive['/tmp/a.tar.gz'] {
  url => 'https://example.com/b.tar.gz',
}
