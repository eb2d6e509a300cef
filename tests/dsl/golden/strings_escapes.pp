# String escapes in double and single quotes, including \u{...} and \uXXXX.
notify { 'dq': message => "tab\tnewline\nquote\"backslash\\dollar\$ cr\r end" }
notify { 'unicode-braces': message => "smile \u{1F600} e-acute \u{E9}" }
notify { 'unicode-4': message => "\u00e9\u00E8 \u2603" }
notify { 'sq': message => 'it\'s a \\ backslash, \n stays, \t stays' }
notify { 'sq-trailing': message => 'ends with \\' }
notify { 'unknown-escape': message => "keep \q and \w" }
notify { 'space-escape': message => "a\sb" }
notify { 'utf8-literal': message => "naïve café ☃" }
notify { 'single-dollar': message => 'cost: $5' }
notify { 'multiline': message => "line1
line2" }
