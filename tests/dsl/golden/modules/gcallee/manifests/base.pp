class gcallee::base {
  notify { "gcallee::base module=${module_name} caller=${caller_module_name}": }
}
