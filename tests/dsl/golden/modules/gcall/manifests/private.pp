class gcall::private {
  if $caller_module_name != $module_name {
    fail("Use of private class ${name} by ${caller_module_name}")
  }
  notify { "gcall::private module=${module_name} caller=${caller_module_name}": }
}
