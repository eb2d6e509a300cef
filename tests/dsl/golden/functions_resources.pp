# create_resources (with defaults, defined types), include/require/contain via functions, realize.
$files = {
  '/cr/one' => { 'ensure' => 'file', 'mode' => '0600' },
  '/cr/two' => { 'ensure' => 'directory' },
}
create_resources('file', $files, { 'owner' => 'root', 'mode' => '0644' })
create_resources('gmod::thing', { 'cr-a' => { 'value' => 'from-cr' }, 'cr-b' => {} })
create_resources('@user', { 'cr-virtual' => { 'ensure' => 'present' }, 'cr-unrealized' => {} })
realize(User['cr-virtual'])
class cr_cls { notify { 'cr-cls': } }
create_resources('class', { 'cr_cls' => {} })
class req_cls { notify { 'req-cls': } }
class contain_cls { notify { 'contain-cls': } }
class holder {
  require('req_cls')
  contain('contain_cls')
  include('gmod::other')
}
include holder
