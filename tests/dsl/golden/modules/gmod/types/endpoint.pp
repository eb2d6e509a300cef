type Gmod::Endpoint = Struct[{
  host           => String[1],
  port           => Gmod::Port,
  Optional[tls]  => Boolean,
}]
