# A parameter given as undef takes its default (classes and defines alike); an explicit undef for a
# parameter without a default is a value, not a missing argument.
class cu_defaults ($x = 5, Optional[Integer] $y = 7, $z = undef, $w = "w-${x}") {
  notify { "cu_defaults x=${x} y=${y} z=${z} w=${w}": }
}
class { 'cu_defaults': x => undef, y => undef, z => undef }

class cu_required ($needed) {
  notify { "cu_required needed=${needed} undef=${$needed == undef}": }
}
class { 'cu_required': needed => undef }

define cu_def ($x = 'dx', $y = undef) {
  notify { "cu_def ${title} x=${x} y=${y}": }
}
cu_def { 'a': x => undef, y => undef }

$nothing = undef
class cu_from_var ($p = 'default-p') { notify { "cu_from_var p=${p}": } }
class { 'cu_from_var': p => $nothing }
