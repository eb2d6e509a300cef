# Boolean logic and truthiness: and, or, !, short circuit; empty string and 0 are true; undef false.
notify { 'and': message => true and false }
notify { 'or': message => false or true }
notify { 'not': message => !true }
notify { 'prec': message => true or false and false }
notify { 'paren': message => (true or false) and false }
notify { 'empty-string-true': message => if '' { 'truthy' } else { 'falsy' } }
notify { 'zero-true': message => if 0 { 'truthy' } else { 'falsy' } }
notify { 'undef-false': message => if undef { 'truthy' } else { 'falsy' } }
notify { 'empty-array-true': message => if [] { 'truthy' } else { 'falsy' } }
notify { 'not-undef': message => !undef }
notify { 'short-circuit': message => false and fail('never evaluated') }
notify { 'or-value': message => 'x' or false }
