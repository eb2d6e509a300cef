# A parameter type naming no type fails where it is written, even for an undef value it never checks.
class upt (
  Optional[Nomod::Notatype] $addr = undef,
) {
  notify { "upt ${addr}": }
}
include upt
