# Run stages: stage resources, class { stage => }, and the edges they create.
stage { 'pre': before => Stage['main'] }
stage { 'post': }
Stage['main'] -> Stage['post']
class early { notify { 'early': } }
class late { notify { 'late': } }
class normal { notify { 'normal': } }
class { 'early': stage => 'pre' }
class { 'late': stage => post }
include normal
