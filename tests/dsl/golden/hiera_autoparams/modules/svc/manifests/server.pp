class svc::server (String $listen = '127.0.0.1', Integer $backlog = 128) {
  notify { 'svc-server': message => "${listen}:${svc::port} backlog=${backlog}" }
}
