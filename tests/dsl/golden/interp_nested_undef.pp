# Interpolation writes undef inside an array or a hash as nothing (Puppet 7); String() writes undef.
$with_undef = [undef, 1, [undef], { 'k' => undef }]
notify { "interp ${with_undef}": }
notify { "interp hash ${{ 'a' => undef, 'b' => [undef, 'x'] }}": }
notify { "interp lone [${undef}]": }
notify { "string ${String($with_undef)}": }
file { '/tmp/interp-nested-undef':
  ensure  => file,
  content => "list=${[undef, 'b']}\n",
}
