"""The gRPC API agents and operator tools use: ``bunraku.proto`` and its generated stubs (regenerate with ``regen.sh``)."""
