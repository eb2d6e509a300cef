# ${1.5} is not a float: a name starting with a digit must be a decimal capture variable like ${1}.
notify { 'x': message => "ok ${1}" }
notify { 'y': message => "bad ${1.5}" }
