# strict_variables is off in Puppet by default, so use an explicit type assertion failure instead
$port = '80'
$checked = assert_type(Integer, $port)
