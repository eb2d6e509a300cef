# @summary A public web server: base OS configuration plus nginx with the site's virtual hosts.
class role::web {
  include profile::base
  include profile::nginx

  Class['profile::base'] -> Class['profile::nginx']
}
