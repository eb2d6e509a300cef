# An SSH server with hardened options and no exported host keys.
class { 'ssh::server':
  storeconfigs_enabled => false,
  options              => {
    'PermitRootLogin'        => 'no',
    'PasswordAuthentication' => 'no',
    'Port'                   => [22, 2222],
    'AllowGroups'            => 'ssh-users admins',
    'Match User backup'      => {
      'ForceCommand' => 'internal-sftp',
    },
  },
}
