# Evaluates Puppet expressions with Puppet itself, for regen.py: reads a JSON list of cases on stdin
# ({"setup": "...", "expr": "...", "facts": {...}}) and writes one result per case on stdout:
# {"value": ENCODED} or {"error": "message"}. Values that JSON has no form for are encoded as
# {"__hash": pairs}, {"__default": true}, {"__regexp": source}, {"__type": text}, {"__sensitive": value}.
require 'json'
require 'puppet'

modulepath = ARGV[0] || '/usr/share/puppet/modules'
Puppet.initialize_settings(['--modulepath', modulepath, '--color', 'false'])
Puppet::Util::Log.level = :err

def encode(v)
  case v
  when nil then nil
  when true, false, Integer, String then v
  when Float then v.finite? ? v : { '__float' => v.to_s }
  when Symbol then v == :default ? { '__default' => true } : { '__other' => 'Symbol', 's' => v.to_s }
  when Array then v.map { |x| encode(x) }
  when Hash
    if v.keys.all? { |k| k.is_a?(String) }
      v.each_with_object({}) { |(k, x), h| h[k] = encode(x) }
    else
      { '__hash' => v.map { |k, x| [encode(k), encode(x)] } }
    end
  when Regexp then { '__regexp' => v.source }
  when Puppet::Pops::Types::PAnyType then { '__type' => v.to_s }
  when Puppet::Pops::Types::PSensitiveType::Sensitive then { '__sensitive' => encode(v.unwrap) }
  else { '__other' => v.class.name.split('::').last, 's' => v.to_s }
  end
end

DEFAULT_FACTS = { 'networking' => { 'fqdn' => 'web01.example.com', 'hostname' => 'web01', 'ip' => '10.0.0.5' },
                  'fqdn' => 'web01.example.com' }.freeze

cases = JSON.parse($stdin.read)
results = cases.map do |c|
  facts = c['facts'] || DEFAULT_FACTS
  node = Puppet::Node.new('web01.example.com', facts: Puppet::Node::Facts.new('web01.example.com', facts))
  node.merge(facts) # facts are top-scope variables too ($::fqdn), as in a compile
  env = Puppet.lookup(:environments).get(Puppet[:environment])
  node.environment = env
  begin
    Puppet.override(current_environment: env, loaders: Puppet::Pops::Loaders.new(env)) do
      compiler = Puppet::Parser::Compiler.new(node)
      compiler.send(:set_node_parameters)
      scope = compiler.topscope
      Puppet.override(global_scope: scope, loaders: compiler.loaders) do
        source = [c['setup'], c['expr']].compact.join("\n")
        v = Puppet::Pops::Parser::EvaluatingParser.new.evaluate_string(scope, source, 'case.pp')
        { 'value' => encode(v) }
      end
    end
  rescue Exception => e # rubocop:disable Lint/RescueException - every failure is a result
    { 'error' => e.message.lines.first.to_s.strip }
  end
end
puts JSON.generate(results)
