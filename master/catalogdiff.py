"""Resource-level difference between two catalogs (what a new commit would change for a node)."""

from __future__ import annotations

from typing import Any


def _index(catalog: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{r['type']}[{r['title']}]": r for r in catalog.get("resources") or []
            if r.get("type") not in ("Stage", "Class", "Node")}


def diff_catalogs(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``{added: [ref], removed: [ref], changed: {ref: {param: [old, new]}}}``."""
    a, b = _index(old), _index(new)
    changed: dict[str, dict[str, list[Any]]] = {}
    for ref in sorted(a.keys() & b.keys()):
        pa, pb = a[ref].get("parameters") or {}, b[ref].get("parameters") or {}
        delta = {k: [pa.get(k), pb.get(k)] for k in sorted(pa.keys() | pb.keys()) if pa.get(k) != pb.get(k)}
        if delta:
            changed[ref] = delta
    return {"added": sorted(b.keys() - a.keys()), "removed": sorted(a.keys() - b.keys()), "changed": changed,
            "classes_added": sorted(set(new.get("classes") or []) - set(old.get("classes") or [])),
            "classes_removed": sorted(set(old.get("classes") or []) - set(new.get("classes") or []))}


def render_diff(diff: dict[str, Any]) -> list[str]:
    """Text lines, as a reviewer reads them (``+``/``-``/``~``)."""
    lines = [f"+ {ref}" for ref in diff.get("added", [])]
    lines += [f"- {ref}" for ref in diff.get("removed", [])]
    for ref, params in (diff.get("changed") or {}).items():
        lines.append(f"~ {ref}")
        for name, (before, after) in params.items():
            lines.append(f"    {name}: {_short(before)} -> {_short(after)}")
    return lines


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
