# A class with a parent is evaluated in its parent's scope: its caller is the parent's module.
class gcall::child inherits gcallee::base {
  notify { "gcall::child module=${module_name} caller=${caller_module_name}": }
}
