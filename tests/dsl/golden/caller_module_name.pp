# $module_name is the module a class or define was loaded from ('' for the site manifest's own);
# $caller_module_name is the module of the code that declared it ('' from the site manifest or a
# node, undef at top scope). A class with a parent is evaluated in its parent's scope.
include gcall
include gcall::child
gcallee::thing { 'from-site': }

class site_local {
  notify { "site_local module=${module_name} caller=${caller_module_name} type=${type($module_name)} caller-type=${type($caller_module_name)}": }
  gcallee::thing { 'from-site-class': }
}
include site_local
notify { "top module=${module_name} caller=${caller_module_name}": }
notify { "top types module=${type($module_name)} caller=${type($caller_module_name)}": }
node default { gcallee::thing { 'from-node': } }
