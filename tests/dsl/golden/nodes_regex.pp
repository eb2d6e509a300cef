# Regex node names with captures in $1, $2.
node /^web\d+/ {
  notify { 'web': }
}
node /^(gold)(en)\.(.+)$/ {
  notify { 'regex-node':
    message => "captures: ${0} | ${1} | ${2} | ${3}",
  }
}
node default {
  notify { 'default-node': }
}
