# A stand-in for inifile's ini_setting: one setting of an INI file.
Puppet::Type.newtype(:ini_setting) do
  ensurable do
    defaultvalues
    defaultto :present
  end

  newparam(:name, namevar: true) do
    desc 'A label for the setting.'
  end

  newparam(:section) do
    defaultto('')
  end

  newparam(:setting)

  newparam(:path) do
    validate do |value|
      raise ArgumentError, "path must be absolute: #{value}" unless value.start_with?('/')
    end
  end

  newparam(:key_val_separator) do
    defaultto(' = ')
  end

  newproperty(:value) do
    munge { |value| value.to_s }
  end
end
