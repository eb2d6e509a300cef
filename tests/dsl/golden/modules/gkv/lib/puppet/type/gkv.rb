# A setting in a file, named by two namevars; a title `FILE:KEY` stands for both.
Puppet::Type.newtype(:gkv) do
  newparam(:name) do
    desc 'A label.'
  end

  newparam(:path) do
    isnamevar
  end

  newparam(:key, :namevar => true)

  newproperty(:value)

  def self.title_patterns
    identity = lambda { |x| x }
    [
      [%r{^(/[^:]+):(.+)$}, [[:path, identity], [:key]]],
      [/(.*)/m, [[:name]]],
    ]
  end
end
