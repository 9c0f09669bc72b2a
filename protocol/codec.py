"""Canonical msgpack for every statenode wire format, plus strict field readers.

Spec: DESIGN.md "Envelope" (msgpack everywhere) and DEPENDENCIES.md §2 (msgpack
limits and pitfalls). `pack` is canonical: maps have `str` keys written in
sorted order, bytes are msgpack `bin`, tuples become arrays, integers use the
shortest encoding, floats are always float64 (the record model's credits are
decimals); NaN/infinity, ext types, non-str keys and other Python types are
refused. `unpack` is for untrusted input: a byte cap checked before decoding,
explicit per-container limits, a cap on the number of containers (against
"1 MiB of empty maps" amplification), a nesting-depth limit, no ext types,
no NaN/infinity, no trailing bytes. Every failure is a `MalformedMessage` or
`MessageTooLarge`, never a raw msgpack/ValueError/RecursionError.

Signatures are always made over the exact bytes that were sent; nothing here
relies on re-packing giving equal bytes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from typing import Any

import msgpack

from protocol.errors import MalformedMessage, MessageTooLarge

_MAX_PACK_DEPTH = 64
_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1
NODE_ID_RE = re.compile(r"[A-Z]{2}")


@dataclass(frozen=True)
class Limits:
    """Bounds applied by `unpack` to untrusted msgpack."""

    max_bytes: int
    max_depth: int
    max_array_len: int
    max_map_len: int
    max_str_len: int
    max_bin_len: int
    max_containers: int

    @cached_property
    def unpack_kwargs(self) -> dict[str, Any]:
        """msgpack.unpackb's arguments for these limits (built once)."""
        return dict(use_list=True, raw=False, strict_map_key=True, ext_hook=_reject_ext,
                    max_str_len=self.max_str_len, max_bin_len=self.max_bin_len,
                    max_array_len=self.max_array_len, max_map_len=self.max_map_len,
                    max_ext_len=0)


#: Message bodies and signed documents (records, directory snapshots, key documents).
DEFAULT_LIMITS = Limits(
    max_bytes=4 * 1024 * 1024,
    max_depth=16,
    max_array_len=10_000,
    max_map_len=512,
    max_str_len=256 * 1024,
    max_bin_len=1024 * 1024,
    max_containers=50_000,
)
#: The outer wire map and the sealed [header, body, signature] array: few, flat items.
ENVELOPE_LIMITS = Limits(
    max_bytes=DEFAULT_LIMITS.max_bytes + 4096,
    max_depth=2,
    max_array_len=11,
    max_map_len=8,
    max_str_len=64,
    max_bin_len=DEFAULT_LIMITS.max_bytes + 1024,
    max_containers=2,
)


# ---------------------------------------------------------------- packing


def _canonical(obj: object, path: str, depth: int) -> object:
    if depth > _MAX_PACK_DEPTH:
        raise MalformedMessage(f"{path}: nested deeper than {_MAX_PACK_DEPTH} levels")
    if isinstance(obj, Enum):
        obj = obj.value
    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, int):
        if not _INT_MIN <= obj <= _INT_MAX:
            raise MalformedMessage(f"{path}: integer {obj} does not fit in 64 bits")
        return int(obj)
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, bytes | bytearray | memoryview):
        return bytes(obj)
    if isinstance(obj, list | tuple):
        return [_canonical(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(obj)]
    if isinstance(obj, Mapping):
        for k in obj:
            if not isinstance(k, str):
                raise MalformedMessage(f"{path}: map key {k!r} is not a string")
        return {k: _canonical(obj[k], f"{path}.{k}", depth + 1) for k in sorted(obj)}
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise MalformedMessage(f"{path}: {obj!r} is not allowed on the wire")
        return float(obj)
    raise MalformedMessage(f"{path}: cannot encode a {type(obj).__name__}")


class _Slow(Exception):
    """The fast path met something unusual; redo it with `_canonical` for a precise error."""


def _fast(obj: object, depth: int) -> object:
    t = type(obj)
    if t is str or t is bytes or t is bool or obj is None:
        return obj
    if t is int:
        if not _INT_MIN <= obj <= _INT_MAX:  # type: ignore[operator]
            raise _Slow
        return obj
    if depth > _MAX_PACK_DEPTH:
        raise _Slow
    if t is dict:
        d: dict[Any, Any] = obj  # type: ignore[assignment]
        for k in d:
            if type(k) is not str:
                raise _Slow
        return {k: _fast(d[k], depth + 1) for k in sorted(d)}
    if t is list or t is tuple:
        return [_fast(v, depth + 1) for v in obj]  # type: ignore[attr-defined]
    if t is float and math.isfinite(obj):  # type: ignore[arg-type]
        return obj
    raise _Slow


def pack(obj: object) -> bytes:
    """Canonical msgpack of `obj` (str-keyed maps in sorted order, bin for bytes)."""
    try:
        canonical = _fast(obj, 0)
    except _Slow:
        canonical = _canonical(obj, "$", 0)
    packed: bytes = msgpack.packb(canonical, use_bin_type=True)
    return packed


def pack_presorted(obj: object) -> bytes:
    """msgpack of `obj` as it is: canonical only if every map's keys are already str and
    in sorted order and there is nothing but str, bytes, int, bool, None, lists and maps
    (the caller vouches; `protocol.messages.pack_body` uses it for types built that way,
    and a test checks it equals `pack`)."""
    packed: bytes = msgpack.packb(obj, use_bin_type=True)
    return packed


# -------------------------------------------------------------- unpacking


def _reject_ext(code: int, data: bytes) -> object:
    raise MalformedMessage(f"msgpack extension type {code} is not allowed")


def _check_tree(root: object, limits: Limits) -> None:
    """Iteratively enforce depth, str map keys and finite floats."""
    stack: list[tuple[object, int]] = [(root, 1)]
    max_depth = limits.max_depth
    while stack:
        obj, depth = stack.pop()
        if type(obj) is dict:
            values: Any = obj.values()
            for k in obj:
                if type(k) is not str:
                    raise MalformedMessage(f"map key {k!r} is not a string")
        elif type(obj) is list:
            values = obj
        else:
            continue
        if depth > max_depth:
            raise MalformedMessage(f"nested deeper than {max_depth} levels")
        for v in values:
            t = type(v)
            if t is dict or t is list:
                stack.append((v, depth + 1))
            elif t is float and not math.isfinite(v):
                raise MalformedMessage("NaN and infinite numbers are not allowed on the wire")
    if type(root) is float and not math.isfinite(root):
        raise MalformedMessage("NaN and infinite numbers are not allowed on the wire")


def check_tree(obj: object, limits: Limits = DEFAULT_LIMITS) -> None:
    """The tree checks `unpack` makes (depth, str map keys, finite floats), for a value
    decoded with `unpack(..., check=False)`."""
    _check_tree(obj, limits)


def unpack(data: bytes, *, limits: Limits = DEFAULT_LIMITS, check: bool = True) -> Any:
    """Decode untrusted msgpack within `limits`; raise MalformedMessage/MessageTooLarge.

    `check=False` leaves out the walk over the decoded tree (depth, str map keys, finite
    floats) for a caller whose next step checks every value's type anyway and calls
    `check_tree` before anything else looks at it (`messages.from_body(checked=False)`)."""
    if type(data) is not bytes and not isinstance(data, bytes | bytearray | memoryview):
        raise MalformedMessage(f"expected bytes, got {type(data).__name__}")
    size = len(data)
    if size > limits.max_bytes:
        raise MessageTooLarge(f"{size} bytes exceeds the limit of {limits.max_bytes} bytes")
    if size == 0:
        raise MalformedMessage("empty input")
    kwargs = limits.unpack_kwargs
    if size > limits.max_containers:
        # every map or array takes at least one byte, so short inputs need no counting hooks
        containers = 0

        def count(obj: Any) -> Any:
            nonlocal containers
            containers += 1
            if containers > limits.max_containers:
                raise MessageTooLarge(f"more than {limits.max_containers} maps and arrays")
            return obj

        kwargs = {**kwargs, "object_hook": count, "list_hook": count}
    try:
        obj = msgpack.unpackb(data, **kwargs)
    except (MalformedMessage, MessageTooLarge):
        raise
    except msgpack.ExtraData as exc:
        raise MalformedMessage("trailing bytes after the msgpack value") from exc
    except msgpack.StackError as exc:
        raise MalformedMessage("msgpack nested too deeply") from exc
    except UnicodeDecodeError as exc:
        raise MalformedMessage("a msgpack string is not valid UTF-8") from exc
    except ValueError as exc:
        if "max_ext_len" in str(exc):
            raise MalformedMessage("msgpack extension types are not allowed") from exc
        if "exceeds max_" in str(exc):
            raise MessageTooLarge(f"msgpack item over a size limit ({exc})") from exc
        raise MalformedMessage(f"invalid msgpack ({exc})") from exc
    except (TypeError, RecursionError, msgpack.UnpackException, OverflowError) as exc:
        raise MalformedMessage(f"invalid msgpack ({type(exc).__name__})") from exc
    if check:
        _check_tree(obj, limits)
    return obj


# --------------------------------------------------------- field readers


def _type_name(value: object) -> str:
    return "nil" if value is None else type(value).__name__


def as_str(
    value: object,
    where: str,
    *,
    max_len: int = 256,
    min_len: int = 1,
    pattern: re.Pattern[str] | None = None,
    choices: tuple[str, ...] | frozenset[str] | None = None,
) -> str:
    if not isinstance(value, str):
        raise MalformedMessage(f"{where}: expected a string, got {_type_name(value)}")
    if not min_len <= len(value) <= max_len:
        raise MalformedMessage(
            f"{where}: length {len(value)} is outside {min_len}..{max_len} characters"
        )
    if choices is not None and value not in choices:
        raise MalformedMessage(f"{where}: {value!r} is not one of {', '.join(sorted(choices))}")
    if pattern is not None and not pattern.fullmatch(value):
        raise MalformedMessage(f"{where}: {value!r} does not match {pattern.pattern}")
    return value


def as_int(value: object, where: str, *, min_value: int = 0, max_value: int = 2**63 - 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedMessage(f"{where}: expected an integer, got {_type_name(value)}")
    if not min_value <= value <= max_value:
        raise MalformedMessage(f"{where}: {value} is outside {min_value}..{max_value}")
    return value


def as_bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise MalformedMessage(f"{where}: expected true or false, got {_type_name(value)}")
    return value


def as_bytes(value: object, where: str, *, length: int | None = None, max_len: int = 1024) -> bytes:
    if not isinstance(value, bytes):
        raise MalformedMessage(f"{where}: expected bytes, got {_type_name(value)}")
    if length is not None and len(value) != length:
        raise MalformedMessage(f"{where}: must be {length} bytes, got {len(value)}")
    if len(value) > max_len:
        raise MalformedMessage(f"{where}: {len(value)} bytes exceeds {max_len}")
    return value


def as_list(value: object, where: str, *, max_len: int, min_len: int = 0) -> list[Any]:
    if not isinstance(value, list):
        raise MalformedMessage(f"{where}: expected an array, got {_type_name(value)}")
    if not min_len <= len(value) <= max_len:
        raise MalformedMessage(f"{where}: {len(value)} items is outside {min_len}..{max_len}")
    return value


def as_map(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedMessage(f"{where}: expected a map, got {_type_name(value)}")
    return value


def as_node_id(value: object, where: str) -> str:
    """A node id is a USPS state code: two capital ASCII letters."""
    return as_str(value, where, max_len=2, min_len=2, pattern=NODE_ID_RE)


class Reader:
    """Typed access to a decoded map; every error names `where.key`; `done()` rejects extras."""

    def __init__(self, value: object, where: str) -> None:
        self.data = as_map(value, where)
        self.where = where
        self._used: set[str] = set()

    def path(self, key: str) -> str:
        return f"{self.where}.{key}"

    def get(self, key: str, *, optional: bool = False) -> Any:
        self._used.add(key)
        if key not in self.data:
            if optional:
                return None
            raise MalformedMessage(f"{self.path(key)}: missing")
        return self.data[key]

    def opt(self, key: str) -> bool:
        """True if `key` is present and not nil (marks it used)."""
        self._used.add(key)
        return self.data.get(key) is not None

    def text(self, key: str, **kw: Any) -> str:
        return as_str(self.get(key), self.path(key), **kw)

    def opt_text(self, key: str, **kw: Any) -> str | None:
        return as_str(self.data[key], self.path(key), **kw) if self.opt(key) else None

    def integer(self, key: str, **kw: Any) -> int:
        return as_int(self.get(key), self.path(key), **kw)

    def opt_integer(self, key: str, **kw: Any) -> int | None:
        return as_int(self.data[key], self.path(key), **kw) if self.opt(key) else None

    def flag(self, key: str) -> bool:
        return as_bool(self.get(key), self.path(key))

    def opt_flag(self, key: str) -> bool | None:
        return as_bool(self.data[key], self.path(key)) if self.opt(key) else None

    def blob(self, key: str, **kw: Any) -> bytes:
        return as_bytes(self.get(key), self.path(key), **kw)

    def opt_blob(self, key: str, **kw: Any) -> bytes | None:
        return as_bytes(self.data[key], self.path(key), **kw) if self.opt(key) else None

    def array(self, key: str, **kw: Any) -> list[Any]:
        return as_list(self.get(key), self.path(key), **kw)

    def node_id(self, key: str) -> str:
        return as_node_id(self.get(key), self.path(key))

    def sub(self, key: str) -> Reader:
        return Reader(self.get(key), self.path(key))

    def done(self) -> None:
        extra = sorted(set(self.data) - self._used)
        if extra:
            raise MalformedMessage(f"{self.where}: unexpected field {extra[0]!r}")
