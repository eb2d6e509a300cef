#!/bin/sh
# Regenerate the committed gRPC stubs (needs grpcio-tools, in the `test` extra).
cd "$(dirname "$0")/../.." && exec "${PYTHON:-.venv/bin/python}" -m wire.proto.regen
