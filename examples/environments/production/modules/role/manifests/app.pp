# @summary An application server: base OS configuration plus the PHP shop and the Java inventory service,
# both deployed from the master's artifacts by `release` resources.
class role::app {
  include profile::base
  include profile::shop
  include profile::inventory

  Class['profile::base'] -> Class['profile::shop']
}
