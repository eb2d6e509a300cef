# Shared module for the golden suite.
class gmod (
  String $greeting = $gmod::params::greeting,
  Integer $count = $gmod::params::count,
) inherits gmod::params {
  notify { 'gmod':
    message => "${greeting} x${count} from ${module_name}",
  }
}
