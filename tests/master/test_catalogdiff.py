"""`catalog diff` as a reviewer reads it: whole values, unified diffs of content, secrets redacted."""

from __future__ import annotations

from typing import Any

from master.catalogdiff import diff_catalogs, render_diff


def _catalog(content: str, port: int, password: str, extra: bool = False) -> dict[str, Any]:
    resources: list[dict[str, Any]] = [
        {"type": "Class", "title": "main", "parameters": {}},
        {"type": "File", "title": "/etc/app.conf", "parameters": {"content": content, "mode": "0644"}},
        {"type": "Service", "title": "app", "parameters": {"ensure": "running", "port": port}},
        {"type": "User", "title": "app", "parameters": {"password": password}},
        {"type": "Exec", "title": "token", "sensitive_parameters": ["command"],
         "parameters": {"command": f"/bin/set-token {password}"}},
    ]
    if extra:
        resources.append({"type": "Package", "title": "nginx", "parameters": {"ensure": "installed"}})
    return {"resources": resources, "classes": ["main"]}


OLD = _catalog("# app\nport = 8080\nworkers = 4\nlog = /var/log/app.log\n", 8080, "s3cret-old")
NEW = _catalog("# app\nport = 9090\nworkers = 4\nlog = /var/log/app.log\n", 9090, "s3cret-new", extra=True)


def test_content_changes_are_unified_diffs_and_nothing_is_cut() -> None:
    text = "\n".join(render_diff(diff_catalogs(OLD, NEW)))
    assert "+ Package[nginx]" in text
    assert "~ File[/etc/app.conf]" in text
    assert "      -port = 8080" in text and "      +port = 9090" in text
    assert "...".join(["port = 808", ""]) not in text  # no value is cut off mid-way
    assert "    port: 8080 -> 9090" in text  # short values stay on one line


def test_secrets_never_show_but_their_change_does() -> None:
    diff = diff_catalogs(OLD, NEW)
    text = "\n".join(render_diff(diff)) + repr(diff)
    assert "s3cret" not in text
    assert diff["changed"]["User[app]"]["password"] == ["[redacted]", "[redacted] (changed)"]
    assert diff["changed"]["Exec[token]"]["command"] == ["[redacted]", "[redacted] (changed)"]
    same = diff_catalogs(OLD, OLD)
    assert same["changed"] == {} and same["added"] == []


def test_long_single_line_and_structured_values() -> None:
    old = {"resources": [{"type": "Notify", "title": "x", "parameters": {
        "message": "a" * 70 + "b", "tags": {"k": [1, 2]}}}]}
    new = {"resources": [{"type": "Notify", "title": "x", "parameters": {
        "message": "a" * 70 + "c", "tags": {"k": [1, 3]}}}]}
    lines = render_diff(diff_catalogs(old, new))
    assert f"      -{'a' * 70}b" in lines and f"      +{'a' * 70}c" in lines
    assert "    tags: {\"k\": [1, 2]} -> {\"k\": [1, 3]}" in lines
