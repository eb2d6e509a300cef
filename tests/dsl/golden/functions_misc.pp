# defined, tag/tagged, new and conversions, digests, file, epp/inline_epp.
class tagged_cls {
  tag 'extra1', 'extra2'
  notify { 'in-tagged': }
  notify { 'tagged-check': message => [tagged('extra1'), tagged('tagged_cls'), tagged('nope')] }
}
include tagged_cls
define deftype () {}
file { '/etc/defined-check': ensure => file }
notify { 'defined':
  message => [
    defined(File['/etc/defined-check']),
    defined(File['/etc/nope']),
    defined('tagged_cls'),
    defined('deftype'),
    defined('file'),
    defined('no_such_type'),
    defined('$facts'),
    defined('$nope'),
    defined(Class['tagged_cls']),
  ],
}
notify { 'new-integer': message => [Integer('42'), Integer.new('0b101'), Integer(3.9), Integer('-7')] }
notify { 'new-float': message => [Float('1.5'), Float(3)] }
notify { 'new-string': message => [String(42), String([1, 2]), String({ 'a' => 1 }), String(true), String(undef)] }
notify { 'new-string-format': message => [String(255, '%x'), String(3.14159, '%.2f'), String('abc', '%p')] }
notify { 'new-array': message => [Array(1), Array([1]), Array({ 'a' => 1 }), Array(undef, true)] }
notify { 'new-hash': message => [Hash(['a', 1, 'b', 2]), Hash({ 'x' => 'y' })] }
notify { 'new-boolean': message => [Boolean('yes'), Boolean('false'), Boolean(0), Boolean(1)] }
notify { 'digests': message => [sha1('bunraku'), sha256('bunraku'), md5('bunraku')] }
notify { 'file': message => file('gmod/hello.txt') }
notify { 'file-first-found': message => file('gmod/missing.txt', 'gmod/hello.txt') }
notify { 'epp-params':
  message => epp('gmod/params.epp', { 'name' => 'svc', 'items' => ['x', 'y'], 'comment' => 'hi' }),
}
notify { 'epp-defaults': message => epp('gmod/params.epp', { 'name' => 'dflt', 'items' => [] }) }
include gmod::params
notify { 'epp-noparams': message => epp('gmod/noparams.epp') }
notify { 'inline-epp': message => inline_epp('<%= $a %>+<%= $b %>=<%= $a + $b %>', { 'a' => 2, 'b' => 3 }) }
notify { 'inline-epp-scope': message => inline_epp("host <%= \$facts['networking']['hostname'] %>\n<%- if true { -%>\n  trimmed\n<%- } -%>\nend") }
notify { 'sprintf-type': message => sprintf('%s', Integer[1, 2]) }
notify { 'split-join-chain': message => 'a:b:c'.split(':').reverse_each.map |$x| { $x }.join(':') }
