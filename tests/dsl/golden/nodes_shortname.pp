# Node names also match on the shorter names of a dotted certname ('golden').
node 'golden' {
  notify { 'short-name': }
}
node default {
  notify { 'default-node': }
}
