# Exported resources: @@ puts them in the catalog with exported: true (storeconfigs is off).
@@host { 'golden.example.com':
  ip           => $facts['networking']['ip'],
  host_aliases => ['golden'],
  tag          => ['exported-hosts'],
}
@@notify { 'exported-notify': message => 'for others' }
notify { 'local': message => 'not exported' }
