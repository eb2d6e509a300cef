# EPP: parameters with types and defaults, <%- -%> trimming, comments, literal <%%, loops, scope.
$svc = 'api'
$t1 = @(EPP)
  <%- | String $name, Integer $port = 8080, Array[String] $hosts = [] | -%>
  [<%= $name %>]
  port = <%= $port %>
  <%- $hosts.each |$h| { -%>
  host = <%= $h %>
  <%- } -%>
  <%# comment %>done
  | EPP
notify { 'epp-inline-params': message => inline_epp($t1, { 'name' => 'svc', 'hosts' => ['a', 'b'] }) }
notify { 'epp-trim-left': message => inline_epp("a\n    <%- \$x = 1 %>\nb") }
notify { 'epp-trim-right': message => inline_epp("a <%= 1 -%>\n\nb") }
notify { 'epp-literal': message => inline_epp('<%% and %%> stay') }
notify { 'epp-top-scope': message => inline_epp('svc=<%= $svc %> os=<%= $facts["os"]["family"] %>') }
notify { 'epp-expr': message => inline_epp('<%= [1, 2, 3].map |$x| { $x * 2 }.join(",") %>') }
notify { 'epp-if-else':
  message => inline_epp('<% if $flag { %>on<% } else { %>off<% } %>', { 'flag' => false }),
}
notify { 'epp-module': message => epp('gmod/params.epp', { 'name' => 'mod', 'items' => ['i'], 'port' => 1 }) }
notify { 'epp-blank-trim': message => inline_epp("x\n<% \$y = 2 -%>\ny=<%= \$y %>\n") }
