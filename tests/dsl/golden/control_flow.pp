# if/elsif/else, unless, case as statements and as values.
$n = 7
if $n < 5 {
  notify { 'if-small': }
} elsif $n < 10 {
  notify { 'if-medium': }
} else {
  notify { 'if-large': }
}
unless $n == 7 {
  notify { 'unless-not-seven': }
} else {
  notify { 'unless-else': }
}
unless false { notify { 'unless-body': } }

case $facts['os']['family'] {
  'RedHat', 'Suse': { notify { 'case-rpm': } }
  'debian': { notify { 'case-debian-insensitive': } }
  default: { notify { 'case-default': } }
}
case $n {
  1, 2, 3: { $size = 'tiny' }
  Integer[4, 8]: { $size = 'mid' }
  default: { $size = 'big' }
}
notify { 'case-type': message => $size }
case ['a', 'b'] {
  ['a', 'b']: { notify { 'case-array': } }
  default: {}
}
case 'x' {
  *['y', 'x']: { notify { 'case-splat': } }
  default: {}
}
$value = if $n > 5 { 'gt5' } else { 'le5' }
notify { 'if-value': message => $value }
$unless_value = unless $n > 5 { 'not' } else { 'is' }
notify { 'unless-value': message => $unless_value }
$case_value = case $n { 7: { 'seven' } default: { 'other' } }
notify { 'case-value': message => $case_value }
$nothing = if false { 'never' }
notify { 'if-no-else': message => "[${nothing}]" }
$no_match = case 'q' { 'r': { 'r' } }
notify { 'case-no-match': message => $no_match =~ Undef }
