class hl (
  String $app_name,
  Integer $port = 443,
  Array[String] $flags = [],
  String $missing = 'class-default',
) {
  notify { 'hl': message => "${app_name} ${port} ${flags} ${missing}" }
}
