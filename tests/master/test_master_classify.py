"""Classification by groups (globs and regexes) and by an external node classifier."""

from __future__ import annotations

from pathlib import Path

import pytest

from master.classify import ClassificationError, Classifier

GROUPS = """\
groups:
  web:
    nodes: ["web*.example.com", "/^www\\\\d+\\\\./"]
    classes: [extra]
    parameters: {tier: frontend}
    environment: staging
  everyone:
    nodes: ["*"]
    classes: {extra: {note: all}}
"""


def test_groups_match_globs_and_regexes(tmp_path: Path) -> None:
    groups = tmp_path / "groups.yaml"
    groups.write_text(GROUPS)
    c = Classifier(groups_file=groups)
    web = c.classify("web01.example.com")
    assert (web.group, web.environment, web.parameters) == ("web", "staging", {"tier": "frontend"})
    assert web.classes == {"extra": {"note": "all"}}
    assert c.classify("www2.example.com").group == "web"
    other = c.classify("db01.example.com")
    assert (other.group, other.environment) == ("everyone", None)


def test_enc_output_applies_over_groups(tmp_path: Path) -> None:
    enc = tmp_path / "enc.sh"
    enc.write_text('#!/bin/sh\necho "classes: {demo: {motd: hi-$1}}"\necho "parameters: {tier: back}"\n'
                   'echo "environment: production"\n')
    enc.chmod(0o755)
    groups = tmp_path / "groups.yaml"
    groups.write_text(GROUPS)
    result = Classifier(groups_file=groups, enc=enc).classify("web01.example.com")
    assert result.classes == {"extra": {"note": "all"}, "demo": {"motd": "hi-web01.example.com"}}
    assert result.parameters == {"tier": "back"} and result.environment == "production"


def test_a_failing_enc_is_an_error(tmp_path: Path) -> None:
    enc = tmp_path / "enc.sh"
    enc.write_text("#!/bin/sh\necho 'no such node' >&2\nexit 3\n")
    enc.chmod(0o755)
    with pytest.raises(ClassificationError, match="exited with 3.*no such node"):
        Classifier(enc=enc).classify("x")
