# Node matching: an exact name beats regexes and default; node scope variables.
$top = 'top-scope'

node default {
  notify { 'default-node': }
}

node /golden/ {
  notify { 'regex-node': }
}

node 'golden.example.com' {
  $in_node = 'node-scope'
  notify { 'exact-node':
    message => "${top} ${in_node} ${trusted['certname']}",
  }
  include node_cls
}

class node_cls {
  notify { 'node-cls': message => "sees node var: ${in_node}" }
}
