# A node definition with a list of names (one of them matches).
node 'web01.example.com', 'golden.example.com', 'db01.example.com' {
  notify { 'list-node': message => 'matched from a list' }
}
node default {
  notify { 'default-node': }
}
