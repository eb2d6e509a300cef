# create_resources with Integer keys: the title is the key's string form; a defined type's instance
# keeps it as its name, and neither is tagged with it.
define golden::port($proto = 'tcp') {
  notify { "port ${name} ${proto}": }
}

create_resources('golden::port', { 8045 => {}, 'ssh' => { 'proto' => 'udp' } })
create_resources('notify', { 42 => { 'message' => 'answer' }, 'plain' => {} })
