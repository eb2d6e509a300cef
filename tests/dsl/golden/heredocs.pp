# Heredocs: margin '|', trailing '-' (no final newline), escapes flags, interpolation, syntax tag.
$who = 'world'
$plain = @(END)
  Hello, $who!
    Indented.
  END
notify { 'plain': message => $plain }

$interp = @("END")
    Hello, ${who}!
      nested ${who.upcase}
    | END
notify { 'interp-margin': message => $interp }

$trim = @("END")
  no newline at end
  |- END
notify { 'trim': message => $trim }

$esc = @("END"/tn)
  tab:\there
  newline:\nafter
  literal dollar: \$who
  backslash-q: \"
  | END
notify { 'escapes': message => $esc }

$all = @(END/L)
  one \
  line
  | END
notify { 'line-join': message => $all }

$dollar = @("END"/$)
  price: \$5 and ${who}
  | END
notify { 'dollar-escape': message => $dollar }

$json = @(END:json)
  {"a": 1}
  | END
notify { 'syntax-tag': message => $json }

notify { 'inline-heredoc':
  message => @("X"/L).upcase,
    inline ${who}
    | X
}
notify { 'two-on-a-line': message => [@(A), @(B)] }
  first
  | A
  second
  | B
