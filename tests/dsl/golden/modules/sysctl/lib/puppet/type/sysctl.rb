# A stand-in for the sysctl type of puppet-module-sysctl: the value attribute is `val`.
Puppet::Type.newtype(:sysctl) do
  @doc = "Kernel parameters in a sysctl.conf file (golden-suite stand-in)."

  ensurable

  newparam(:name, :namevar => true) do
    desc "The parameter's name"
  end

  newproperty(:val) do
    desc 'Its value'
  end

  newproperty(:target) do
    desc 'The file it is written to'
    defaultto { '/etc/sysctl.conf' }
  end
end
