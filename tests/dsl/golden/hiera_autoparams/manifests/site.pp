# Automatic class parameter lookup: environment data beats module data; explicit beats both; module
# lookup_options merge across layers.
include svc
class explicit_cls (Integer $port = 1) {
  notify { 'explicit': message => $port }
}
class { 'explicit_cls': port => 2 }
notify { 'module-layer': message => lookup('svc::label') }
