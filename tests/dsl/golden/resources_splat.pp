# Attribute splat (* => hash) and the 'default:' body of a resource expression.
$common = { 'ensure' => 'file', 'owner' => 'root', 'mode' => '0644' }

file { '/srv/one':
  * => $common,
}

file { '/srv/two':
  mode => '0600',
  *    => { 'ensure' => 'file', 'group' => 'wheel' },
}

file {
  default:
    ensure => file,
    owner  => 'www-data';
  '/srv/three':
    mode => '0640';
  '/srv/four':
    owner => 'nobody';
}

$per = {
  'n1' => { 'message' => 'first' },
  'n2' => { 'message' => 'second', 'loglevel' => 'warning' },
}
$per.each |$title, $attrs| {
  notify { $title:
    * => $attrs,
  }
}

$empty = {}
notify { 'splat-empty':
  message => 'still here',
  *       => $empty,
}
