$ok = upcase('a')
$bad = no_such_function($ok, 2)
