"""What agents and operator tools share with the master: certificates and requests (``pki``), the
client side of the gRPC API (``client``). The agent may import this package, nothing else of master."""
