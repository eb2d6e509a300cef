#!/usr/bin/env ruby
# frozen_string_literal: true
#
# Regenerate cases.json: what Puppet 7.23 renders for the ERB templates of Debian's puppet-module-*
# packages. Needs `apt-get install puppet-agent puppet-module-*`; never run by the tests.
#
#   ruby tests/dsl/erb_corpus/regen.rb
#
# Each scenario of scenarios.yaml is compiled by Puppet's own compiler (facts.yaml as the node's
# facts). Every template Puppet renders (template(), inline_template(), nested scope.function_template)
# becomes a case: the template, the values of the @variables it names, the scope lookups and the
# Puppet function calls it made (with their results, which the test replays), and the exact output.
# Templates of a scenario's `render_all` modules that the compilation did not render are then rendered
# in the scopes of that module's evaluated classes and defines, so unused templates get cases too.
# Cases on which Puppet itself fails are left out. The file also lists which templates Ruby's ERB
# accepts at all (parses), for the parse check.

require 'puppet'
require 'json'
require 'yaml'
require 'digest'
require 'erb'
require 'delegate'
require 'tmpdir'

HERE = File.expand_path(__dir__)
MODULEPATH = '/usr/share/puppet/modules'
AVAILABLE = '/usr/share/puppet/modules.available'
NODE = 'erb.example.com'
MAX_CASES_PER_TEMPLATE = 6

TMP = Dir.mktmpdir('erbcorpus')
at_exit { FileUtils.rm_rf(TMP) }
Puppet.initialize_settings(['--confdir', "#{TMP}/conf", '--vardir', "#{TMP}/var", '--codedir', "#{TMP}/code",
                            '--logdir', "#{TMP}/log", '--rundir', "#{TMP}/run"])
Puppet[:strict_variables] = false
Puppet[:strict] = :warning
Puppet::Util::Log.newdestination(:console)
Puppet::Util::Log.level = :err

# -- values as JSON (the test decodes the same tags) -------------------------------------------------
module Enc
  module_function

  def encode(v)
    case v
    when nil, true, false, Integer, String then v
    when Float then v.nan? || v.infinite? ? { '__float__' => v.to_s } : v
    when Symbol then { '__sym__' => v.to_s }
    when Array then v.map { |x| Enc.encode(x) }
    when Hash
      if v.keys.all? { |k| k.is_a?(String) && !k.start_with?('__') }
        v.each_with_object({}) { |(k, x), h| h[k] = Enc.encode(x) }
      else
        { '__pairs__' => v.map { |k, x| [Enc.encode(k), Enc.encode(x)] } }
      end
    when Regexp then { '__regexp__' => v.source }
    when Puppet::Pops::Types::PSensitiveType::Sensitive then { '__sensitive__' => Enc.encode(v.unwrap) }
    when Puppet::Pops::Types::PAnyType then { '__type__' => v.to_s }
    else { '__object__' => v.class.name }
    end
  end
end

# -- recording ---------------------------------------------------------------------------------------
module Recorder
  @stack = []
  @cases = []
  @natural = true
  class << self
    attr_reader :stack, :cases
    attr_accessor :natural, :scenario
  end
end

# The scope object a template sees: records the lookups and function calls the template makes, for
# this render and the ones it is nested in.
class RecordingScope < SimpleDelegator
  def initialize(scope)
    super
    @binding_done = false # TemplateWrapper#result's own to_hash (binding the @variables) comes first
  end

  def note_lookup(name, value)
    Recorder.stack.each { |rec| rec[:lookups][name] = Enc.encode(value) unless rec[:lookups].key?(name) }
  end

  def note_call(name, args, result)
    Recorder.stack.each { |rec| rec[:functions] << [name, Enc.encode(args), Enc.encode(result)] }
  end

  def [](name, options = {})
    value = __getobj__[name, options]
    note_lookup(name, value)
    value
  end

  def lookupvar(name, options = {})
    value = __getobj__.lookupvar(name, options)
    note_lookup(name, value)
    value
  end

  def to_hash(*args)
    value = __getobj__.to_hash(*args)
    if @binding_done
      Recorder.stack.each { |rec| rec[:to_hash] ||= Enc.encode(value) }
    end
    @binding_done = true
    value
  end

  def call_function(name, args, &block)
    result = __getobj__.call_function(name, args, &block)
    note_call(name, args, result)
    result
  end

  def method_missing(meth, *args, &block)
    if meth.to_s.start_with?('function_')
      result = __getobj__.send(meth, *args, &block)
      note_call(meth.to_s.sub('function_', ''), args.first, result)
      return result
    end
    super
  end

  def respond_to_missing?(meth, include_private = false)
    meth.to_s.start_with?('function_') || super
  end
end

module RecordingWrapper
  def result(string = nil)
    real = @__scope__
    text = string || Puppet::FileSystem.read_preserve_line_endings(@__file__)
    names = text.scan(/@([a-z_][A-Za-z0-9_]*)/).flatten.uniq
    Recorder.stack.each { |outer| outer[:names].concat(names) }
    rec = { file: @__file__, inline: string, names: names.dup, snapshot: Enc.encode(real.to_hash),
            lookups: {}, functions: [] }
    Recorder.stack.push(rec)
    @__scope__ = RecordingScope.new(real)
    begin
      out = super
      rec[:output] = out
      Recorder.cases << rec.merge(natural: Recorder.natural, scenario: Recorder.scenario)
      out
    ensure
      @__scope__ = real
      Recorder.stack.pop
    end
  end
end
Puppet::Parser::TemplateWrapper.prepend(RecordingWrapper)

# the scopes of evaluated classes and defines, for rendering unused templates in them afterwards
module ScopeCollector
  @scopes = []
  class << self
    attr_reader :scopes
  end
end

module RecordingCompiler
  def newscope(parent, options = {})
    scope = super
    src = options[:source]
    ScopeCollector.scopes << scope if src.is_a?(Puppet::Resource::Type) && %i[hostclass definition].include?(src.type)
    scope
  end
end
Puppet::Parser::Compiler.prepend(RecordingCompiler)

# -- scenarios ------------------------------------------------------------------------------------------
FACTS = YAML.safe_load(File.read(File.join(HERE, 'facts.yaml')))
SCENARIOS = YAML.safe_load(File.read(File.join(HERE, 'scenarios.yaml')))

def module_templates(mod)
  dir = File.join(MODULEPATH, mod, 'templates')
  Dir.glob('**/*.erb', base: dir).sort.map { |rel| "#{mod}/#{rel}" }
end

def render_leftovers(mods)
  Recorder.natural = false
  rendered = Recorder.cases.map { |c| c[:file] }.compact.to_set
  mods.each do |mod|
    scopes = ScopeCollector.scopes.select { |s| s.source.name.split('::').first == mod }
    # the module's main class first: its parameters are what most templates read
    scopes = scopes.sort_by { |s| s.source.name == mod ? 0 : 1 }
    module_templates(mod).each do |ref|
      path = File.join(MODULEPATH, ref.sub('/', '/templates/'))
      next if rendered.include?(path)

      scopes.first(8).each do |scope|
        wrapper = Puppet::Parser::TemplateWrapper.new(scope)
        wrapper.file = ref
        wrapper.result
      rescue StandardError, ScriptError
        next
      end
    end
  end
  Recorder.natural = true
end

errors = {}
SCENARIOS.each_with_index do |sc, i|
  Recorder.scenario = sc['name']
  ScopeCollector.scopes.clear
  facts = FACTS.merge(sc['facts'] || {})
  env = Puppet::Node::Environment.create(:"erbcorpus#{i}", [MODULEPATH])
  Puppet[:code] = sc['manifest']
  Puppet.override(environments: Puppet::Environments::Static.new(env), current_environment: env) do
    node = Puppet::Node.new(NODE, facts: Puppet::Node::Facts.new(NODE, facts), environment: env)
    node.merge(facts)
    begin
      Puppet::Parser::Compiler.new(node).compile { |_catalog| render_leftovers(sc['render_all'] || []) }
    rescue StandardError => e
      errors[sc["name"]] = e.message.lines.first.strip
      warn e.message if ENV["ERB_REGEN_VERBOSE"]
    end
  end
  warn "#{sc['name']}: #{Recorder.cases.size} renders so far#{errors[sc['name']] ? " (FAILED: #{errors[sc['name']]})" : ''}"
end

# -- the cases file --------------------------------------------------------------------------------------
def template_ref(file)
  rel = file.sub("#{MODULEPATH}/", '')
  mod, rest = rel.split('/templates/', 2)
  rest ? "#{mod}/#{rest}" : nil
end

cases = []
seen = {}
per_template = Hash.new(0)
Recorder.cases.sort_by { |c| c[:natural] ? 0 : 1 }.each do |c|
  ref = c[:inline] ? nil : template_ref(c[:file].to_s)
  next if c[:inline].nil? && ref.nil?

  vars = {}
  c[:names].uniq.each { |n| vars[n] = c[:snapshot][n] if c[:snapshot].key?(n) }
  key = [ref || c[:inline], c[:output], vars, c[:lookups], c[:functions], c[:to_hash]].to_json
  next if seen[key]

  seen[key] = true
  next if (per_template[ref || c[:inline]] += 1) > MAX_CASES_PER_TEMPLATE

  text = ref ? File.binread(File.join(MODULEPATH, ref.sub('/', '/templates/'))) : nil
  id = format('%s#%d', ref || "inline:#{Digest::SHA256.hexdigest(c[:inline])[0, 12]}", per_template[ref || c[:inline]])
  entry = { 'id' => id, 'scenario' => c[:scenario], 'natural' => c[:natural] }
  if ref
    entry['template'] = ref
    entry['sha256'] = Digest::SHA256.hexdigest(text)
  else
    entry['inline'] = c[:inline]
  end
  entry['vars'] = vars
  entry['lookups'] = c[:lookups]
  entry['functions'] = c[:functions]
  entry['to_hash'] = c[:to_hash] if c[:to_hash]
  entry['output'] = c[:output]
  cases << entry
end

# which templates Ruby's ERB accepts (compiles to valid Ruby), for the parse check
parses = []
Dir.glob('*/**/templates/**/*.erb', base: AVAILABLE).sort.each do |rel|
  src = File.read(File.join(AVAILABLE, rel))
  begin
    RubyVM::InstructionSequence.compile(ERB.new(src, trim_mode: '-').src)
    parses << rel
  rescue SyntaxError, StandardError
    next
  end
end

File.write(File.join(HERE, 'cases.json'), JSON.pretty_generate({
  'generated_by' => "Puppet #{Puppet.version}, Ruby #{RUBY_VERSION}, tests/dsl/erb_corpus/regen.rb",
  'scenario_errors' => errors,
  'ruby_parses' => parses,
  'cases' => cases,
}) + "\n")
warn "#{cases.size} cases of #{per_template.size} templates; #{parses.size} templates parse; " \
     "#{errors.size} scenario(s) failed"
