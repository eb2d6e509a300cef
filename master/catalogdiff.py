"""Resource-level difference between two catalogs (what a new commit would change for a node).

Both catalogs are redacted first (a resource's ``sensitive_parameters`` and the properties secret by type
read ``[redacted]``, as in the store): whoever may diff catalogs is not thereby entitled to secrets, and
a changed secret still shows as changed."""

from __future__ import annotations

import difflib
import json
from typing import Any

from master.store.documents import REDACTED, redact_catalog

#: a value longer than this on one line, or of several lines, is shown as a unified diff
_INLINE_LIMIT = 60


def _index(catalog: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{r['type']}[{r['title']}]": r for r in catalog.get("resources") or []
            if r.get("type") not in ("Stage", "Class", "Node")}


def diff_catalogs(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``{added: [ref], removed: [ref], changed: {ref: {param: [old, new]}}, classes_added, classes_removed}``,
    over the redacted catalogs (a changed secret is ``["[redacted]", "[redacted] (changed)"]``)."""
    a, b = _index(redact_catalog(old)), _index(redact_catalog(new))
    raw_a, raw_b = _index(old), _index(new)
    changed: dict[str, dict[str, list[Any]]] = {}
    for ref in sorted(a.keys() & b.keys()):
        pa, pb = a[ref].get("parameters") or {}, b[ref].get("parameters") or {}
        ra, rb = raw_a[ref].get("parameters") or {}, raw_b[ref].get("parameters") or {}
        delta: dict[str, list[Any]] = {}
        for k in sorted(pa.keys() | pb.keys()):
            if pa.get(k) != pb.get(k):
                delta[k] = [pa.get(k), pb.get(k)]
            elif pa.get(k) == REDACTED and ra.get(k) != rb.get(k):
                delta[k] = [REDACTED, f"{REDACTED} (changed)"]
        if delta:
            changed[ref] = delta
    return {"added": sorted(b.keys() - a.keys()), "removed": sorted(a.keys() - b.keys()), "changed": changed,
            "classes_added": sorted(set(new.get("classes") or []) - set(old.get("classes") or [])),
            "classes_removed": sorted(set(old.get("classes") or []) - set(new.get("classes") or []))}


def render_diff(diff: dict[str, Any]) -> list[str]:
    """Text lines, as a reviewer reads them (``+``/``-``/``~``): each changed parameter whole, and a
    unified diff for values of several lines or long ones (file content, templates, hashes)."""
    lines = [f"+ {ref}" for ref in diff.get("added", [])]
    lines += [f"- {ref}" for ref in diff.get("removed", [])]
    for ref, params in (diff.get("changed") or {}).items():
        lines.append(f"~ {ref}")
        for name, (before, after) in params.items():
            lines.extend(_render_change(name, before, after))
    return lines


def _render_change(name: str, before: Any, after: Any) -> list[str]:
    if before is None or after is None or not (_long(before) or _long(after)):
        return [f"    {name}: {_inline(before)} -> {_inline(after)}"]
    old_text, new_text = _text(before), _text(after)
    out = [f"    {name}:"]
    body = difflib.unified_diff(old_text.splitlines(), new_text.splitlines(), "before", "after", lineterm="", n=2)
    out.extend(f"      {line}" for line in body)
    return out


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return _inline(value)


def _long(value: Any) -> bool:
    return (isinstance(value, str) and "\n" in value) or len(_inline(value)) > _INLINE_LIMIT


def _inline(value: Any) -> str:
    if value is None:
        return "(unset)"
    return repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
