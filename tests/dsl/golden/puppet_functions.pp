# Functions written in the Puppet language: in a module and in the manifest; optional and rest params.
function golden::triple(Integer $x) >> Integer {
  $x * 3
}
function golden::describe(Variant[String, Integer] $v) {
  case $v {
    String: { "string ${v}" }
    default: { "number ${v}" }
  }
}
notify { 'module-fn': message => gmod::double(21) }
notify { 'module-fn-float': message => gmod::double(1.25) }
notify { 'manifest-fn': message => golden::triple(5) }
notify { 'fn-chain': message => 4.gmod::double.golden::triple }
notify { 'fn-default': message => gmod::greet('Ann') }
notify { 'fn-rest': message => gmod::greet('Bo', 'Hi', 'a', 'b') }
notify { 'fn-case': message => [golden::describe('x'), golden::describe(3)] }
notify { 'fn-map': message => [1, 2].map |$x| { gmod::double($x) } }
