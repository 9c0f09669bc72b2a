"""Error root of the config package."""

from __future__ import annotations


class ConfigError(Exception):
    """A configuration file is missing, unreadable or invalid.

    The message names the file and the dotted key, e.g.
    `node.toml: peers.timeout: must be a duration like "5s"`.
    """

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None) -> None:
        parts = [p for p in (path, key) if p]
        super().__init__(": ".join([*parts, message]))
        self.path = path
        self.key = key

    def diagnostics(self) -> str:
        return str(self)
