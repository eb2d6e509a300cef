class svc (
  Integer $port,
  String $label,
  Hash $opts,
  Boolean $enabled = true,
  Optional[String] $unset = undef,
) {
  notify { 'svc': message => "port=${port} label=${label} opts=${opts} enabled=${enabled} unset=[${unset}]" }
  include svc::server
}
