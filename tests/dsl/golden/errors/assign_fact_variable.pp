# Facts are top-scope variables: assigning $os at top scope is a reassignment.
$os = 'mine'
