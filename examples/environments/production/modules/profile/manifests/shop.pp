# @summary The shop: a PHP application deployed from the master's artifacts (`bunraku artifact push shop
# VERSION shop-VERSION.tar.gz` from CI), one directory per version under /srv/shop/releases and the
# document root /srv/shop/current/public. A rollout of a new version: `bunraku rollout start --artifact
# shop=VERSION --group app`; rolling back switches the link back to the version still on disk.
#
# @param version  the version deployed when no rollout assigns another
# @param keep     versions kept on disk (what a rollback can switch back to)
class profile::shop (
  String[1] $version = '1.4.2',
  Integer[1] $keep = 5,
) {
  file { '/srv/shop':
    ensure => directory,
    mode   => '0755',
  }

  release { 'shop':
    version       => $version,
    path          => '/srv/shop',
    keep          => $keep,
    # refuse a package without its front controller before anything points at it
    before_switch => 'test -f public/index.php',
    require       => File['/srv/shop'],
  }
}
