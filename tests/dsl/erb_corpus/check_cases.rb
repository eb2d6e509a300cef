#!/usr/bin/env ruby
# frozen_string_literal: false
#
# Check tests/dsl/erb_cases.py against Ruby's own ERB (trim mode '-', as Puppet renders): every case
# must render to the expected text, every error case must fail. Needs ruby; never run by the tests.
#
#   .venv/bin/python -c 'import json, tests.dsl.erb_cases as c; print(json.dumps({"ok": c.ALL, "errors": c.ERRORS}))' \
#     | ruby tests/dsl/erb_corpus/check_cases.rb

require 'erb'
require 'json'
require 'yaml'
require 'ipaddr'

# What a template sees of Puppet: its scope's variables as instance variables, and `scope`.
class FakeScope
  def initialize(vars)
    @vars = vars
  end

  def [](name)
    @vars[name]
  end

  def lookupvar(name)
    @vars[name]
  end
end

class Wrapper
  def initialize(vars)
    @__scope__ = FakeScope.new(vars)
    vars.each { |k, v| instance_variable_set("@#{k}", v) unless v.nil? }
  end

  def scope
    @__scope__
  end

  def has_variable?(name)
    !@__scope__[name].nil?
  end

  def render(text)
    ERB.new(text, trim_mode: '-').result(binding)
  end
end

data = JSON.parse($stdin.read)
bad = 0
data['ok'].each do |text, vars, expected|
  begin
    got = Wrapper.new(vars).render(text)
  rescue StandardError, ScriptError => e
    got = "#{e.class}: #{e.message}"
  end
  next if got == expected

  bad += 1
  puts "MISMATCH #{text.inspect}\n  expected #{expected.inspect}\n  ruby     #{got.inspect}"
end
data['errors'].each do |text, vars, message|
  begin
    got = Wrapper.new(vars).render(text)
    if message.include?('Bunraku') || message.include?('at most') || message.include?('unsupported')
      next # limits and refusals are Bunraku's own; Ruby renders (or hangs on) these
    end
    bad += 1
    puts "NO ERROR #{text.inspect} rendered #{got.inspect}"
  rescue StandardError, ScriptError => e
    puts "error #{text.inspect}: #{e.class}: #{e.message.lines.first.strip}  (expected ...#{message})"
  end
end
puts "#{bad} problem(s) in #{data['ok'].size} cases and #{data['errors'].size} error cases"
