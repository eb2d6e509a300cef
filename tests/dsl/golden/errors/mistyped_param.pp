define typed_def (Integer[1, 10] $count) {
  notify { "${title}-${count}": }
}
typed_def { 'a': count => 5 }
typed_def { 'b':
  count => 'five',
}
