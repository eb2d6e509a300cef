class once (String $v = 'a') {}
include once
class { 'once':
  v => 'b',
}
