# A stand-in for the archive type of puppet-archive, for the golden suite: the same attribute
# names, none of the behaviour.
Puppet::Type.newtype(:archive) do
  @doc = 'Downloads and unpacks an archive (golden-suite stand-in).'

  ensurable do
    desc 'Whether the archive is present.'
    newvalue(:present) { provider.create }
    newvalue(:absent) { provider.destroy }
    defaultto(:present)
  end

  newparam(:path, namevar: true) do
    desc 'Where the archive is kept.'
  end

  newparam(:source) { desc 'Where to fetch it from.' }

  newparam(:extract) do
    newvalues(:true, :false)
    defaultto(:false)
  end

  newparam(:extract_path) do
    desc 'Where to unpack it.'
  end

  newproperty(:creates) do
    desc 'A file that exists once the archive is unpacked.'
  end

  newparam(:cleanup) do
    newvalues(:true, :false)
    defaultto(:true)
  end

  [:checksum, :checksum_type].each do |attr|
    newparam(attr) do
      desc "The #{attr} of the archive."
    end
  end

  autorequire(:file) do
    [self[:extract_path]].compact
  end
end
