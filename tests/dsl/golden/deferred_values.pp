# Deferred(...) values: the catalog holds them as Puppet's server serves them (rich data); interpolated,
# their string form.
$joined = Deferred('join', [['a', 'b'], ','])
notify { 'deferred-join': message => $joined }
file { '/tmp/deferred-content': content => Deferred('inline_epp', ['<%= 1 %>']) }
notify { 'deferred-nested': message => { 'k' => [Deferred('lookup', ['x', undef, 1, true])] } }
notify { 'deferred-no-args': message => Deferred('mymod::fn') }
notify { 'deferred-from-hash': message => Deferred({ 'name' => 'join', 'arguments' => [[1, 2]] }) }
notify { "deferred interpolated ${joined}": }
