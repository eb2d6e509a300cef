# A chain closes over an empty operand, as the anchors of OpenStack's *::deps classes rely on:
# `a -> Coll<||> ~> b` is `a ~> b` when the collector collects nothing, `a -> [] -> b` is `a -> b`.
anchor { 'ce::begin': }
-> Package<| tag == 'ce-nothing' |>
~> anchor { 'ce::end': }
-> Service<| tag == 'ce-nothing-either' |>
-> Exec<| title == 'ce-none' |>
~> anchor { 'ce::after-two-empty': }

# a collector that does collect something stays the source
anchor { 'ce::pkg-begin': }
-> Package<| tag == 'ce-pkg' |>
~> anchor { 'ce::pkg-end': }
package { 'ce-p1': tag => 'ce-pkg' }
package { 'ce-p2': tag => 'ce-pkg' }

# an empty array in the middle of a chain
$nothing = []
notify { 'ce-left': }
-> $nothing
-> notify { 'ce-right': }

# duplicates in an operand count once
notify { 'ce-dup': }
[Notify['ce-left'], Notify['ce-left']] -> Notify['ce-dup']

# anchor is not a core type: declare it as stdlib does (a define stands in)
define anchor () {}
