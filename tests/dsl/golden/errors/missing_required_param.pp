class needs (String $required, Integer $opt = 1) {
  notify { $required: }
}
class { 'needs':
  opt => 2,
}
