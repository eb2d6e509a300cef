# include / require / contain and the containment edges and relationships they create.
class a { notify { 'in-a': } }
class b { notify { 'in-b': } }
class c { notify { 'in-c': } }
class d { notify { 'in-d': } }
class wrapper {
  contain a
  require b
  include c
  include c
  contain d
  notify { 'in-wrapper': }
}
include wrapper
include gmod::leaf, gmod::other
include ['c', 'gmod::leaf']
class e { notify { 'in-e': } }
require e
