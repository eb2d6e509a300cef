# Extra package sources: a vendor repository with its key and a pinned backports source.
class { 'apt':
  purge => { 'sources.list.d' => true },
}

apt::source { 'vendor':
  location => 'https://repo.example.com/debian',
  release  => 'bookworm',
  repos    => 'main contrib',
  key      => {
    'id'     => '6F6B15509CF8E59E6E469F327F438280EF8D349F',
    'server' => 'keyserver.ubuntu.com',
  },
  include  => { 'src' => false, 'deb' => true },
}

apt::source { 'bookworm-backports':
  location => 'http://deb.debian.org/debian',
  release  => 'bookworm-backports',
  repos    => 'main',
  pin      => 500,
}
