class gmod::other {
  notify { 'gmod-other': }
}
