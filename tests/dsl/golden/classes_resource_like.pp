# Resource-like class declarations with parameters and metaparameters, followed by include.
class cfg (String $level = 'info', Integer $workers = 1) {
  notify { "cfg-${level}": message => "workers=${workers}" }
}
class other_cfg { notify { 'other-cfg': } }

class { 'cfg':
  level   => 'debug',
  workers => 4,
  tag     => ['extra-tag'],
}
include cfg
class { 'other_cfg':
  require => Class['cfg'],
}
class { 'gmod':
  greeting => 'hi',
}
