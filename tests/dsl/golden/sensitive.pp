# Sensitive values: how they are rendered in the catalog and which parameters are marked.
$secret = Sensitive('s3cr3t')
file { '/etc/secret':
  ensure  => file,
  content => $secret,
  mode    => '0600',
}
user { 'svc':
  ensure   => present,
  password => Sensitive('$6$hash'),
}
notify { 'unwrapped': message => "length ${secret.unwrap.length}" }
notify { 'interpolated': message => "value: ${secret}" }
notify { 'sensitive-type': message => String(type($secret)) }
