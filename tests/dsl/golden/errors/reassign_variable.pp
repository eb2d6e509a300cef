$x = 1
notify { 'x': message => $x }
$x = 2
