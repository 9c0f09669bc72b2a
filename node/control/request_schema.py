"""Strict validation of local control API request bodies, before anything is done.

Every `/local/v1/…` POST names its fields here: type, whether required, allowed values,
length. A body that is not JSON, not a JSON object, has an unknown key, or a field of
the wrong type is refused with 400 and a one-line reason naming the field, before any
database write, any signature and any message to a peer (issue 12: a mistyped criterion
must never be signed and sent). `null` counts as absent.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from aiohttp import web

from node.errors import BadRequest

MAX_BODY = 64 * 1024
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class Field:
    """One field of a control request: `kind` is str, int, float, bool, list (of text)
    or dict (text to text)."""

    kind: type
    required: bool = False
    choices: tuple[str, ...] = ()
    max_len: int = 200
    minimum: float | None = None
    maximum: float | None = None
    is_date: bool = False  # text that must be a calendar date, YYYY-MM-DD


def _check(name: str, value: Any, spec: Field) -> Any:
    if spec.kind is str:
        if not isinstance(value, str):
            raise BadRequest(f"{name}: must be text (got {_kind(value)})")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # JSON may spell lone surrogates ("\ud800"); text may not
            raise BadRequest(f"{name}: is not valid Unicode text") from None
        if len(value) > spec.max_len:
            raise BadRequest(f"{name}: longer than {spec.max_len} characters")
        if spec.choices and value not in spec.choices:
            raise BadRequest(f"{name}: must be one of {', '.join(spec.choices)} "
                             f"(got {value[:40]!r})")
        if spec.is_date and not _is_date(value):
            raise BadRequest(f"{name}: must be a date like 2012-05-31 (got {value[:40]!r})")
        return value
    if spec.kind is bool:
        if not isinstance(value, bool):
            raise BadRequest(f"{name}: must be true or false (got {_kind(value)})")
        return value
    if spec.kind in (int, float):
        ok = isinstance(value, int) if spec.kind is int else isinstance(value, int | float)
        if not ok or isinstance(value, bool) or (isinstance(value, float)
                                                 and not math.isfinite(value)):
            raise BadRequest(f"{name}: must be a number (got {_kind(value)})")
        if spec.minimum is not None and value < spec.minimum:
            raise BadRequest(f"{name}: must be at least {spec.minimum:g}")
        if spec.maximum is not None and value > spec.maximum:
            raise BadRequest(f"{name}: must be at most {spec.maximum:g}")
        return value
    if spec.kind is list:
        if not isinstance(value, list) or len(value) > 100:
            raise BadRequest(f"{name}: must be a list of at most 100 texts (got {_kind(value)})")
        for i, item in enumerate(value):
            _check(f"{name}[{i}]", item, Field(str, max_len=spec.max_len))
        return value
    if spec.kind is dict:
        if not isinstance(value, dict) or len(value) > 20:
            raise BadRequest(f"{name}: must be an object of at most 20 texts "
                             f"(got {_kind(value)})")
        for key, item in value.items():
            _check(f"{name}.{str(key)[:40]}", item, Field(str, max_len=spec.max_len))
        return value
    raise TypeError(f"no check for {spec.kind}")  # pragma: no cover - a programming error


def _is_date(text: str) -> bool:
    if not _DATE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false",
            int: "a number", float: "a number", type(None): "null"}.get(type(value),
                                                                      type(value).__name__)


def validate(data: Any, fields: Mapping[str, Field]) -> dict[str, Any]:
    """The checked fields of a decoded body (absent and null fields left out)."""
    if not isinstance(data, dict):
        raise BadRequest(f"body: must be a JSON object (got {_kind(data)})")
    unknown = sorted(str(k)[:40] for k in data if k not in fields)
    if unknown:
        known = f"fields: {', '.join(fields)}" if fields else "this request takes no fields"
        raise BadRequest(f"{unknown[0]!r}: unknown field ({known})")
    out: dict[str, Any] = {}
    for name, spec in fields.items():
        value = data.get(name)
        if value is None:
            if spec.required:
                raise BadRequest(f"{name}: required")
            continue
        out[name] = _check(name, value, spec)
    return out


async def read_body(request: web.Request, fields: Mapping[str, Field]) -> dict[str, Any]:
    """Read, decode and validate a control request's JSON body (an empty body is `{}`)."""
    raw = await request.content.read(MAX_BODY + 1) if request.can_read_body else b""
    if len(raw) > MAX_BODY:
        raise BadRequest(f"body: larger than {MAX_BODY} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"body: not UTF-8 (byte {exc.start})") from None
    if not text.strip():
        return validate({}, fields)
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"body: not valid JSON ({exc})") from None
    except RecursionError:
        raise BadRequest("body: not valid JSON (nested too deeply)") from None
    return validate(data, fields)


def _no_constant(name: str) -> Any:
    """JSON has no NaN or Infinity; Python's decoder accepts them unless told not to."""
    raise json.JSONDecodeError(f"{name} is not a JSON value", name, 0)
