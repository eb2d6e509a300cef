# $name (like $title) is reserved and cannot be a class parameter.
class app (String $name = 'x') {}
include app
