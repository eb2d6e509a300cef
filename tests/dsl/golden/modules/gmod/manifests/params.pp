class gmod::params {
  $greeting = 'hello'
  $count = 3
  $list = ['a', 'b']
}
