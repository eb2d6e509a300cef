"""The wire protocol agents, operator tools and masters share: the gRPC API (``proto``: ``bunraku.proto``
and its generated stubs), its client (``client``), certificates and requests (``pki``). It imports no
other Bunraku package, so an agent never imports the master."""

import os as _os

# A process of ours that holds gRPC channels or a server also starts programs as other accounts (exec's
# `user`, tasks): subprocess then fork()s, and gRPC's fork handlers, run in that child while other threads
# are inside gRPC, crash it (SIGSEGV) at random. No child of ours uses gRPC, so the handlers are off; set
# before grpc is first imported (tests/agent/test_fork_under_grpc.py).
_os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
