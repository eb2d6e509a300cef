class present_cls {}
include present_cls
  include no_such_class
