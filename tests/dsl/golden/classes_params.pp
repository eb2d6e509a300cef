# Classes: typed parameters, defaults, defaults computed from other params and facts.
class app (
  String[1] $name_prefix,
  Integer[1, 65535] $port = 8080,
  Boolean $enabled = true,
  Array[String] $hosts = ['localhost'],
  Hash[String, Integer] $limits = { 'nofile' => 1024 },
  Optional[String] $comment = undef,
  String $url = "http://${hosts[0]}:${port}/",
  Variant[String, Integer] $either = 42,
  Float $ratio = 0.5,
  Enum['a', 'b'] $choice = 'b',
  $untyped = [1, 'two'],
) {
  notify { 'app':
    message => "${name_prefix} ${port} ${enabled} ${hosts} ${limits} [${comment}] ${url} ${either} ${ratio} ${choice} ${untyped}",
  }
  notify { 'app-comment-undef':
    message => $comment =~ Undef,
  }
}

class { 'app':
  name_prefix => 'svc',
  port        => 9090,
  hosts       => ['web1', 'web2'],
  comment     => undef,
}
