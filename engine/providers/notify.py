"""The notify provider: always out of sync, its only action is the log line.

As in Puppet, ``message`` is a property that takes one value: of an array, the first element; a
message of ``false`` or an empty array is no message at all (Puppet manages no property whose desired
value is false or missing), so nothing is logged and no event is reported.
"""

from __future__ import annotations

from typing import Any

from engine.registry import Change, Provider, provider


def _message(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _display(value: Any) -> str:
    """A value as Puppet shows it in ``defined 'message' as …`` (its ``%p`` format of scalars)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:f}"
    if value is None:
        return "undef"
    if not isinstance(value, str):
        return f"'{value}'"
    if "'" not in value and all(" " <= c != "\x7f" for c in value):
        return f"'{value}'"
    escaped = "".join({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "$": "\\$"}.get(c)
                      or (f"\\u{{{ord(c):X}}}" if c < " " or c == "\x7f" else c) for c in value)
    return f'"{escaped}"'


def _plain(value: Any) -> str:
    """What the log line says: the message as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@provider("notify", "notify")
class Notify(Provider):
    __slots__ = ()

    def check(self) -> list[Change]:
        message = _message(self.params["message"])
        if message is None or message is False:
            return []
        return [Change("message", "absent", message, f"defined 'message' as {_display(message)}")]

    def sync(self, change: Change) -> None:
        self.ctx.note("notice", _plain(change.desired))
