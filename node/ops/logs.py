"""Structured logging for the node: text or one JSON object per line, to stderr.

Log records carry only operational facts (peer, message type, error code,
counts, durations). Student data, keys and passwords are never logged: the
`RedactingFilter` additionally drops any record whose message contains a field
name of the student record followed by a value, as a last line of defence.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from config.schema import NodeConfig

_SENSITIVE = ("first_name", "last_name", "birth_date", "password", "BEGIN PRIVATE KEY")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            out["error"] = record.exc_info[0].__name__
        return json.dumps(out)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if any(s in msg for s in _SENSITIVE):
            record.msg = "[redacted: message contained student or secret fields]"
            record.args = None
        return True


class BadHttpFilter(logging.Filter):
    """A request aiohttp could not parse (too long a line, a bad header …) already got
    its 400; aiohttp would log it with a traceback that quotes the request's bytes, which
    may hold a name from a query string. One warning line without them instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import HttpProcessingError

        exc = record.exc_info[1] if record.exc_info else None
        if record.name == "aiohttp.server" and isinstance(exc, HttpProcessingError):
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.msg = "bad HTTP request from %s refused: %s (%s)"
            record.args = (remote, type(exc).__name__, exc.code)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def setup_logging(cfg: NodeConfig) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if cfg.logging.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(BadHttpFilter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(cfg.logging.level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
