class gcallee {
  notify { "gcallee module=${module_name} caller=${caller_module_name}": }
}
