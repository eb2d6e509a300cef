# Interpolation: $x, ${x}, bare words inside ${} are variables, expressions, access, method calls.
$x = 5
$name_var = 'bunraku'
$arr = ['a', 'b']
$h = { 'k' => 'v', 'n' => 1 }
notify { 'simple': message => "x=$x and ${x}" }
notify { 'bare-word': message => "${x}" }
notify { 'expr': message => "${$x + 1}" }
notify { 'expr-bare-word-is-variable': message => "${x.type}-${h[k]}" }
notify { 'expr-bare': message => "${$x * $x}" }
notify { 'access': message => "${arr[1]} ${h['k']} ${facts['os']['name']}" }
notify { 'method': message => "${name_var.upcase} ${arr.join('+')} ${name_var.length}" }
notify { 'dollar-method': message => "${$name_var.capitalize}" }
notify { 'array': message => "${arr}" }
notify { 'hash': message => "${h}" }
notify { 'undef': message => "[${undef}] [${nope}]" }
$yes = true
notify { 'bool': message => "${yes} ${!$yes} ${$yes and false}" }
notify { 'float': message => "${[1.5, 2.0, 1e3, 0.1]} ${$f = 2.50} ${$f}" }
notify { 'adjacent': message => "$x$x${x}text$name_var-suffix" }
notify { 'dollar-alone': message => "cost: $ 5 and $" }
notify { 'dash-ends-var': message => "$name_var-x $name_var.txt" }
notify { 'nested-quotes': message => "${h["k"]} ${"inner ${x}"}" }
notify { 'single': message => 'no ${x} here' }
notify { 'func-call': message => "${join($arr, ',')} ${sprintf('%03d', $x)}" }
notify { 'type': message => "${Integer} ${Array[String]} ${type($x)}" }
notify { 'regexp': message => "${/ab+c/}" }
notify { 'ns-var': message => "${facts['networking']['fqdn']}|${::hostname}" }
