# The server facts a compile sees: $server_facts and the top-scope $serverversion (the hostname and
# address of the compiling server are left out: they name the machine that ran Puppet).
notify { "serverversion=${serverversion} server_facts=${server_facts['serverversion']} env=${server_facts['environment']}": }
if versioncmp($serverversion, '6.0') >= 0 { notify { 'serverversion is 6.0 or later': } }
notify { "clientversion=${type($clientversion)} puppetversion=${type($puppetversion)}": }
