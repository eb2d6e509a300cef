"""What a compile worker hands back: the catalog's JSON, which parses to the compiled catalog, and the
digest the store keys catalogs by, the same as computing it from that JSON (secrets redacted for it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from master.compilepool import CompileJob, compile_job_full
from master.store.documents import DIGEST_EXCLUDED_KEYS, catalog_digest, redact_catalog

SITES = {
    "plain": "node default {\n  file { '/etc/motd': content => \"hi ${facts['seq']}\\n\" }\n"
             "  notify { 'unicode: \u00e9\u00e8 \u2713': }\n}\n",
    "secret": "node default {\n  file { '/etc/key': content => Sensitive('s3cret') }\n"
              "  user { 'app': password => 'hash' }\n}\n",
    "empty": "",
    "deferred": "node default {\n  file { '/etc/motd': content => Deferred('sprintf', ['%s', 'x']) }\n}\n",
}


@pytest.mark.parametrize("kind", sorted(SITES))
def test_the_json_sent_is_the_catalog_and_its_digest_is_the_stores(tmp_path: Path, kind: str) -> None:
    env = tmp_path / "production"
    (env / "manifests").mkdir(parents=True)
    (env / "manifests" / "site.pp").write_text(SITES[kind])
    job = CompileJob(node="n1.example.com", facts={"seq": 1}, env_dir=env, environment="production",
                     code_id="c0ffee", version="1")
    compiled = compile_job_full(job)
    doc = json.loads(compiled.data)
    assert compiled.digest == catalog_digest(doc)
    assert compiled.header == {k: doc[k] for k in DIGEST_EXCLUDED_KEYS if k in doc}
    assert doc["code_id"] == "c0ffee" and doc["name"] == "n1.example.com"
    # what the master stores without redacting it again is what redacting would give
    assert compiled.redacted == (kind != "secret")
    if compiled.redacted:
        assert redact_catalog(doc) == doc
    if kind == "secret":
        key = next(r for r in doc["resources"] if r["title"] == "/etc/key")
        assert key["parameters"]["content"] == "s3cret"  # the agent gets the secret; the digest does not
    if kind == "deferred":
        # rich data is read by Puppet in the order of its keys: they reach the agent as compiled
        motd = next(r for r in doc["resources"] if r["title"] == "/etc/motd")
        assert list(motd["parameters"]["content"]) == ["__ptype", "name", "arguments"]
    # a second compile with other per-compilation keys has the same digest
    again = compile_job_full(CompileJob(node="n1.example.com", facts={"seq": 1}, env_dir=env,
                                        environment="production", code_id="c0ffee", version="2"))
    assert again.digest == compiled.digest and json.loads(again.data)["catalog_uuid"] != doc["catalog_uuid"]
