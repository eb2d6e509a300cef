# Tags (automatic, tag metaparam, tag()), and other metaparameters as they appear in the catalog.
class web::frontend {
  tag 'frontend-extra'
  file { '/srv/web': ensure => directory, tag => ['custom', 'Mixed-Case'] }
  notify { 'fe': tag => 'single' }
}
include web::frontend
define app::instance () {
  notify { "inst-${title}": }
}
class apps {
  app::instance { 'one': tag => ['from-decl'] }
}
include apps
schedule { 'nightly': range => '2 - 4', period => daily, repeat => 1 }
exec { 'nightly-job':
  command   => '/bin/true',
  schedule  => 'nightly',
  noop      => true,
  loglevel  => 'info',
  alias     => 'job',
  audit     => 'all',
}
notify { 'uses-alias': require => Exec['job'] }
notify { 'Upper Title': }
