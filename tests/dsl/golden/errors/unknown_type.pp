notify { 'ok': }
frobnicate { 'x':
  level => 3,
}
