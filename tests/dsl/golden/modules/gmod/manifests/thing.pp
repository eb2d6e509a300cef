define gmod::thing (
  String $value = 'default',
  Optional[Integer] $size = undef,
) {
  notify { "thing-${title}":
    message => "${name}=${value} size=${size}",
  }
}
