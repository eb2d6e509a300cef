define gcallee::thing () {
  notify { "gcallee::thing ${title} module=${module_name} caller=${caller_module_name} undef=${$caller_module_name == undef} type=${type($caller_module_name)}": }
}
