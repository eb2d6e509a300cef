# A defined-type instance's metaparameters (not the relationship ones) reach the resources it contains,
# through nested instances and ensure_resource, unless they set their own; walked from Class[main],
# so a class's metaparameters, and those of instances declared in a class, stay put, unless the class
# is contained from the top.
define mpi_inner () { notify { "mpi-deep-${title}": } }
define mpi () {
  notify { "mpi-inner-${title}": }
  notify { "mpi-own-${title}": noop => false, tag => 'own' }
  mpi_inner { "mpi-nested-${title}": }
}
mpi { 'a': tag => 'extra' }
mpi { 'b': tag => ['t1', 't2'], noop => true, loglevel => 'debug', schedule => 'daily', audit => 'all' }
schedule { 'daily': period => daily }

class mpi_class { mpi { 'in-class': noop => true } }
class { 'mpi_class': tag => 'ctag', noop => true }
class mpi_contained { mpi { 'in-contained': loglevel => 'info' } }
contain mpi_contained
notify { 'mpi-plain': noop => true, before => Notify['mpi-inner-a'] }
