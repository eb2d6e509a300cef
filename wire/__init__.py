"""The wire protocol agents, operator tools and masters share: the gRPC API (``proto``: ``bunraku.proto``
and its generated stubs), its client (``client``), certificates and requests (``pki``). It imports no
other Bunraku package, so an agent never imports the master."""
