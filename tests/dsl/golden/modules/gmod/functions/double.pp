function gmod::double(Numeric $x) >> Numeric {
  $x * 2
}
