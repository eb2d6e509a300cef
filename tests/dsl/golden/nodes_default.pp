# No matching node name: the default node is used.
node 'other.example.com' {
  notify { 'other': }
}
node default {
  notify { 'default-node': message => "fell through for ${facts['networking']['fqdn']}" }
}
