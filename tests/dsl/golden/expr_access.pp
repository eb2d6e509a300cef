# Access and slices on strings, arrays, hashes and types.
$s = 'abcdefg'
$a = ['a', 'b', 'c', 'd', 'e']
$h = { 'x' => { 'y' => [10, 20, 30] }, 'k' => 'v' }
notify { 'str-index': message => $s[0] }
notify { 'str-neg': message => $s[-1] }
notify { 'str-slice': message => $s[1, 3] }
notify { 'str-slice-neg': message => $s[-3, 2] }
notify { 'str-slice-to-end': message => $s[2, -1] }
notify { 'str-slice-neg-len': message => $s[1, -2] }
notify { 'str-out-of-range': message => "[${s[20]}]" }
notify { 'arr-index': message => $a[1] }
notify { 'arr-neg': message => $a[-2] }
notify { 'arr-slice': message => $a[1, 2] }
notify { 'arr-slice-neg': message => $a[-3, -1] }
notify { 'arr-missing': message => "[${a[10]}]" }
notify { 'hash-key': message => $h['k'] }
notify { 'hash-nested': message => $h['x']['y'][2] }
notify { 'hash-multi': message => $h['k', 'nope'] }
notify { 'hash-missing': message => "[${h['nope']}]" }
notify { 'type-access': message => String(Integer[1, 10]) }
notify { 'type-access-2': message => String(Array[String, 1, 3]) }
notify { 'facts-access': message => $facts['os']['release']['major'] }
notify { 'interp-access': message => "${a[0]}-${h['x']['y'][-1]}-${facts['os']['distro']['codename']}" }
