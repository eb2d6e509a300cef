"""The notify provider: always out of sync, its only action is the log line."""

from __future__ import annotations

from engine.registry import Change, Provider, provider


@provider("notify", "notify")
class Notify(Provider):
    __slots__ = ()

    def check(self) -> list[Change]:
        message = self.params["message"]
        shown = message if isinstance(message, str) else str(message)
        return [Change("message", "absent", message, f"defined 'message' as '{shown}'")]

    def sync(self, change: Change) -> None:
        self.ctx.note("notice", str(change.desired))
