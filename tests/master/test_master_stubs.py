"""The committed gRPC stubs are what bunraku.proto generates (regenerate with wire/proto/regen.sh)."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_generated_stubs_are_up_to_date() -> None:
    pytest.importorskip("grpc_tools")
    from wire.proto import regen

    rendered = regen.render()
    for name, text in rendered.items():
        committed = (regen.HERE / name).read_text(encoding="utf-8")
        assert committed == text, f"wire/proto/{name} is stale: run wire/proto/regen.sh"


def test_the_check_sees_a_stale_stub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("grpc_tools")
    from wire.proto import regen

    proto = tmp_path / "bunraku.proto"
    proto.write_text((regen.HERE / "bunraku.proto").read_text().replace(
        "message FactsReply {}", "message FactsReply { string note = 1; }"))
    monkeypatch.setattr(regen, "HERE", tmp_path)
    rendered = regen.render()
    committed = (Path(regen.__file__).parent / "bunraku_pb2.py").read_text()
    assert rendered["bunraku_pb2.py"] != committed
