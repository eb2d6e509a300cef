# Inside ${...} only a lone bare word (or one followed by [ ] or .method) is a variable:
# in ${x + 1} the x is the string 'x', and 'x' + 1 fails.
$x = 5
notify { 'bad': message => "${x + 1}" }
