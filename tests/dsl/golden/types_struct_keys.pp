# Struct keys: a plain or NotUndef['k'] key is required, an Optional['k'] key may be left out.
type Stk = Struct[{ NotUndef['a'] => String, Optional['b'] => Integer, 'c' => Optional[String], Optional['d'] => Any }]
notify { "stk a ${({ 'a' => 'x', 'c' => 'y' } =~ Stk)}": }
notify { "stk no-a ${({ 'b' => 1, 'c' => 'y' } =~ Stk)}": }
notify { "stk no-c ${({ 'a' => 'x' } =~ Stk)}": }
notify { "stk undef-a ${({ 'a' => undef, 'c' => 'y' } =~ Stk)}": }
notify { "stk extra ${({ 'a' => 'x', 'c' => 'y', 'z' => 1 } =~ Stk)}": }
