"""The master's gRPC API: ``bunraku.proto`` and its generated stubs (regenerate with ``regen.sh``)."""
