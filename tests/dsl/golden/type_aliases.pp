# Type aliases: in a module (types/*.pp) and in the manifest itself.
type Golden::Size = Enum['small', 'medium', 'large']
type Golden::Config = Struct[{ size => Golden::Size, count => Integer[0] }]

class aliased (
  Gmod::Port $port = 443,
  Gmod::Mode $mode = '0644',
  Gmod::Endpoint $endpoint = { 'host' => 'db.example.com', 'port' => 5432 },
  Golden::Size $size = 'medium',
) {
  notify { 'aliased': message => "${port} ${mode} ${endpoint} ${size}" }
}
include aliased
notify { 'alias-match': message => [8080 =~ Gmod::Port, 70000 =~ Gmod::Port, '755' =~ Gmod::Mode, 'huge' =~ Golden::Size] }
notify { 'alias-struct': message => { 'size' => 'small', 'count' => 2 } =~ Golden::Config }
notify { 'alias-name': message => String(Gmod::Port) }
