define gcall::helper () {
  notify { "gcall::helper ${title} module=${module_name} caller=${caller_module_name}": }
  gcallee::thing { "from-helper-${title}": }
}
