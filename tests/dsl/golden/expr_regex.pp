# Regex matching: =~, !~, captures $0..$9 and their scoping, type matching with =~.
$s = 'release-12.5-stable'
if $s =~ /^(\w+)-(\d+)\.(\d+)-(.*)$/ {
  notify { 'captures':
    message => "0=${0} 1=${1} 2=${2} 3=${3} 4=${4} 5=[${5}]",
  }
}
notify { 'no-match': message => 'abc' !~ /z/ }
notify { 'match-string-pattern': message => 'a.c' =~ 'a\.c' }
notify { 'int-match': message => 5 =~ Integer }
notify { 'int-range': message => 5 =~ Integer[1, 4] }
notify { 'str-type': message => 'x' =~ String[1] }
notify { 'arr-type': message => [1, 2] =~ Array[Integer] }
notify { 'hash-type': message => { 'a' => 1 } =~ Hash[String, Integer] }
notify { 'regexp-type': message => 'foo' =~ Regexp }
case 'web42' {
  /^web(\d+)$/: {
    notify { 'case-capture': message => "number ${1}" }
  }
  default: {}
}
$sel = 'db07' ? {
  /^db(\d+)/ => "db number ${1}",
  default    => 'none',
}
notify { 'selector-capture': message => $sel }
notify { 'after-scope': message => "outside: [${1}]" }
