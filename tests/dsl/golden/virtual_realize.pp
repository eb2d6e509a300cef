# Virtual resources: @ declarations, realize() by reference, collectors realize, unrealized stay out.
@user { 'vu1': ensure => present, uid => 4001 }
@user { 'vu2': ensure => present, uid => 4002 }
@user { 'vu3': ensure => present, uid => 4003, tag => ['ops'] }
@group { 'vg1': ensure => present }
@package { 'never-realized': ensure => installed }

realize(User['vu1'])
realize User['vu1'], Group['vg1']
User <| tag == 'ops' |>

class realizer {
  @notify { 'v-notify': message => 'virtual then realized' }
  realize Notify['v-notify']
}
include realizer
