# The provider exists so that ini_setting gets Puppet's `provider` parameter; it does nothing.
Puppet::Type.type(:ini_setting).provide(:ruby) do
  def exists?
    false
  end

  def create; end

  def destroy; end

  def value
    nil
  end

  def value=(_value); end
end
