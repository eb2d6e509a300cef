"""Regenerate the committed gRPC stubs from ``bunraku.proto``: ``python -m wire.proto.regen``.

``render()`` returns the stubs as text without writing them, so a test can tell stale stubs.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROTO = "bunraku.proto"
OUTPUTS = ("bunraku_pb2.py", "bunraku_pb2.pyi", "bunraku_pb2_grpc.py")


def render() -> dict[str, str]:
    """Run grpcio-tools' protoc into a scratch directory; return {output name: text}."""
    from grpc_tools import protoc  # only needed to regenerate (the `test` extra)

    with tempfile.TemporaryDirectory() as out:
        # Generate under the package path so the _grpc module imports `wire.proto.bunraku_pb2`.
        root = Path(out) / "src"
        pkg = root / "wire" / "proto"
        pkg.mkdir(parents=True)
        (pkg / PROTO).write_text((HERE / PROTO).read_text(encoding="utf-8"), encoding="utf-8")
        args = ["protoc", f"-I{root}", f"--python_out={out}", f"--pyi_out={out}",
                f"--grpc_python_out={out}", str(Path("wire/proto") / PROTO)]
        import os

        cwd = os.getcwd()
        os.chdir(root)
        try:
            code = protoc.main(args)
        finally:
            os.chdir(cwd)
        if code != 0:
            raise RuntimeError(f"protoc failed with exit status {code}")
        return {name: (Path(out) / "wire" / "proto" / name).read_text(encoding="utf-8") for name in OUTPUTS}


def main() -> int:
    for name, text in render().items():
        (HERE / name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
