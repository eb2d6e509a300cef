# An attribute given undef in a resource body is still given: a resource default does not fill it.
define golden::withdefault($msg = 'the define default') {
  notify { "define ${title}": message => $msg }
}

Notify {
  message => 'from the resource default',
  tag     => 'defaulted',
}
Golden::Withdefault {
  msg => 'from the define default',
}

notify { 'plain': }
notify { 'undef message':
  message => undef,
}
notify { 'undef tag':
  tag => undef,
}
golden::withdefault { 'plain': }
golden::withdefault { 'undef msg':
  msg => undef,
}
