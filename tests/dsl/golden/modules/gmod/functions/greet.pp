function gmod::greet(String $who, String $greeting = 'Hello', *$rest) >> String {
  $extra = $rest.empty ? { true => '', default => " (${rest.join(', ')})" }
  "${greeting}, ${who}!${extra}"
}
