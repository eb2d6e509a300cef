# An explicit tag must be a valid tag (unlike a title, which just gives no tag when it is not one).
notify { 'fine title, with a comma': tag => ['ok'] }
notify { 'bad tag':
  tag => ['fine', 'a,b'],
}
