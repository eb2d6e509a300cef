# Explicit tags: lowercased, split at '::', any letters (not only ASCII), numbers and booleans as text.
notify { 'tags-explicit': tag => ['ok', 'Caps::X', 'ünï', 5, true, ['nested']] }
class tags_cls { notify { 'tags-in-class': } }
class { 'tags_cls': tag => 'Cls::Tag' }
notify { 'tags-overridden': }
Notify['tags-overridden'] { tag => 'Over.Ride-1' }
notify { 'tags-appended': tag => 'first' }
Notify <| title == 'tags-appended' |> { tag +> 'Second' }
