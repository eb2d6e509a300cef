# Declares classes and defines of its own module and of gcallee, for $caller_module_name.
class gcall {
  include gcall::private
  include gcallee
  gcallee::thing { 'from-gcall': }
  gcall::helper { 'own': }
}
