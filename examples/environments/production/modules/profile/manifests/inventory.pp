# @summary The inventory service: a Java application shipped as one jar (`bunraku artifact push
# inventory VERSION inventory.jar`), run by systemd from /opt/inventory/current/inventory.jar.
#
# @param version  the version deployed when no rollout assigns another
class profile::inventory (
  String[1] $version = '2.0.1',
) {
  file { '/opt/inventory':
    ensure => directory,
    mode   => '0755',
  }

  release { 'inventory':
    version => $version,
    path    => '/opt/inventory',
    keep    => 3,
    format  => 'file',
    require => File['/opt/inventory'],
  }

  file { '/etc/systemd/system/inventory.service':
    ensure  => file,
    mode    => '0644',
    content => @(UNIT),
      [Unit]
      Description=Inventory service
      After=network.target

      [Service]
      ExecStart=/usr/bin/java -jar /opt/inventory/current/inventory.jar
      Restart=on-failure

      [Install]
      WantedBy=multi-user.target
      | UNIT
  }
}
