# '-%>' drops the spaces and tabs after it, and then one line break if there is one.
file { '/tmp/epp-trim-empty':
  content => epp('gmod/trim_spaces.epp', { 'options' => {}, 'location' => 'http://deb.example' }),
}
file { '/tmp/epp-trim-options':
  content => epp('gmod/trim_spaces.epp', { 'options' => { 'arch' => 'amd64' }, 'location' => 'http://deb.example' }),
}
file { '/tmp/epp-trim-inline':
  content => inline_epp("x <%= 1 -%>   y\n<% if true { -%>  \n  z\n<% } -%>\t\nw"),
}
