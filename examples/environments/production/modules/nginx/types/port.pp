# A TCP port nginx may listen on.
type Nginx::Port = Integer[1, 65535]
