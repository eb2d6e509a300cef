$role = 'unknown'
if $role !~ /^(web|db)$/ {
  fail("unsupported role ${role}")
}
