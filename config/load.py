"""Load `node.toml` into a frozen `NodeConfig`; every problem names the dotted key.

No raw dict gets past this module. Relative paths are resolved against the
folder of the config file. Unknown tables and keys are errors (a typo must not
silently fall back to a default).
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from config.errors import ConfigError
from config.schema import REQUIRED, NodeConfig

US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH "
    "NJ NM NY NC ND OH OK OR PA PR RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP VI BI".split()
)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SIZE = re.compile(r"^\s*(\d+)\s*(B|KiB|MiB|GiB)?\s*$")
_SIZE_UNITS = {None: 1, "B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}
_PHONE = re.compile(r"^\+?[0-9][0-9 ().\-]{5,23}[0-9]$")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
#: the blinded elements of one discover message (node.matching.discover_keys.DISCOVER_ELEMENTS;
#: config imports nothing of ours; tests/node/test_discover_holder.py keeps them equal)
DISCOVER_ELEMENTS = 7
_CHOICES = {
    "server.tls_min_version": ("1.3", "1.2"),
    "logging.level": ("debug", "info", "warning", "error"),
    "logging.format": ("text", "json"),
}


def parse_duration(value: Any, *, key: str = "", path: str | None = None) -> float:
    """Seconds from "500ms", "5s", "10m", "1h" or "7d"."""
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return float(m.group(1)) * _DURATION_UNITS[m.group(2)]
    raise ConfigError(f'must be a duration like "5s" (got {value!r})', path=path, key=key)


def parse_size(value: Any, *, key: str = "", path: str | None = None) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        m = _SIZE.match(value)
        if m:
            return int(m.group(1)) * _SIZE_UNITS[m.group(2)]
    raise ConfigError(f'must be a size like "1MiB" (got {value!r})', path=path, key=key)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, kind: str | None, key: str, base: Path, path: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None or value == "":
            return None
        return _convert(value, args[0], kind, key, base, path)
    if kind == "duration":
        return parse_duration(value, key=key, path=path)
    if kind == "size":
        return parse_size(value, key=key, path=path)
    if tp is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(
                f"must be a non-empty path string (got {value!r})", path=path, key=key
            )
        p = Path(value).expanduser()
        return p if p.is_absolute() else (base / p).resolve()
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"must be a list of strings (got {value!r})", path=path, key=key)
        return tuple(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"must be true or false (got {value!r})", path=path, key=key)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"must be an integer (got {value!r})", path=path, key=key)
        if value < 0:
            raise ConfigError(f"must not be negative (got {value})", path=path, key=key)
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"must be a string (got {value!r})", path=path, key=key)
        if kind == "origin" and value:
            _check_origin(value, key, path)
        if kind == "state":
            if value not in US_STATES:
                raise ConfigError(
                    f"must be a USPS state code such as TX (got {value!r})", path=path, key=key
                )
        if kind == "phone" and value and (
            not _PHONE.match(value) or sum(ch.isdigit() for ch in value) < 7
        ):
            raise ConfigError(
                f"must be a phone number like +1 512 555 0100: digits, spaces, dashes, dots "
                f"and parentheses (got {value!r})", path=path, key=key)
        if kind == "email" and value and (len(value) > 254 or not _EMAIL.match(value)):
            raise ConfigError(
                f"must be an email address like records@tea.example (got {value!r})",
                path=path, key=key)
        choices = _CHOICES.get(key)
        if choices and value not in choices:
            raise ConfigError(
                f"must be one of {', '.join(choices)} (got {value!r})", path=path, key=key
            )
        return value
    raise ConfigError(f"unsupported setting type {_type_name(tp)}", path=path, key=key)


_NOTE_NAME = re.compile(r"[^\s+\x00-\x1f\x7f]{1,200}")


def _check_origin(value: str, key: str, path: str) -> None:
    """A C2SP key name / checkpoint origin: a schema-less URL, no spaces, no '+'."""
    if "://" in value:
        raise ConfigError(f"must be a schema-less URL like statenode.tea.example/TX/log, "
                          f"without {value.split('://')[0]}:// (got {value!r})", path=path,
                          key=key)
    if not _NOTE_NAME.fullmatch(value):
        raise ConfigError(f"must be 1..200 characters without spaces, '+' or control "
                          f"characters (got {value!r})", path=path, key=key)


def _check_peers(value: tuple[str, ...], own: str, key: str, path: str) -> None:
    if "*" in value and len(value) > 1:
        raise ConfigError('"*" (every active peer) stands alone', path=path, key=key)
    for v in value:
        if v == "*":
            continue
        if v not in US_STATES:
            raise ConfigError(f"{v!r} is not a node id (a USPS state code such as CA)",
                              path=path, key=key)
        if v == own:
            raise ConfigError(f"{v} is this node itself", path=path, key=key)
    if len(set(value)) != len(value):
        raise ConfigError("a node is listed twice", path=path, key=key)


def _validate(cfg: NodeConfig, path: str) -> None:
    """Rules between settings; each error names the key it is about."""
    a = cfg.audit
    _check_peers(a.witnesses, cfg.node.id, "audit.witnesses", path)
    _check_peers(a.witness_for, cfg.node.id, "audit.witness_for", path)
    if "*" not in a.witnesses and a.witness_quorum > len(a.witnesses):
        raise ConfigError(f"{a.witness_quorum} cosignatures can never come from the "
                          f"{len(a.witnesses)} witness(es) in audit.witnesses", path=path,
                          key="audit.witness_quorum")
    if cfg.witness_name == cfg.log_origin:
        raise ConfigError("must differ from the log's origin (audit.origin)", path=path,
                          key="audit.witness_name")
    if cfg.discover.elements_per_minute < 1:
        raise ConfigError("must be at least 1 (OPRF evaluations per minute)", path=path,
                          key="discover.elements_per_minute")
    if cfg.discover.burst < DISCOVER_ELEMENTS:
        raise ConfigError(f"must be at least {DISCOVER_ELEMENTS}, the elements of one discover "
                          f"message (got {cfg.discover.burst})", path=path, key="discover.burst")
    if cfg.discover.rebuild_interval <= 0:
        raise ConfigError("must be a positive duration", path=path,
                          key="discover.rebuild_interval")
    if cfg.keys.witness_key == cfg.keys.signing_key:
        raise ConfigError("must be another file than keys.signing_key: the witness key is a "
                          "separate key", path=path, key="keys.witness_key")
    if cfg.keys.oprf_key in (cfg.keys.signing_key, cfg.keys.witness_key):
        raise ConfigError("must be another file than keys.signing_key and keys.witness_key",
                          path=path, key="keys.oprf_key")


def _build_section(cls: Any, raw: Any, section: str, base: Path, path: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError("must be a table", path=path, key=section)
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for k in raw:
        if k not in names:
            raise ConfigError(
                f"unknown setting (known: {', '.join(sorted(names))})",
                path=path,
                key=f"{section}.{k}",
            )
    values = {}
    for f in dataclasses.fields(cls):
        key = f"{section}.{f.name}"
        value = raw.get(f.name, f.metadata["raw_default"])
        if value is REQUIRED:
            raise ConfigError("is required", path=path, key=key)
        values[f.name] = _convert(value, hints[f.name], f.metadata["kind"], key, base, path)
    return cls(**values)


def sections() -> dict[str, Any]:
    """Table name → section dataclass, in file order."""
    hints = typing.get_type_hints(NodeConfig)
    return {
        f.name: hints[f.name] for f in dataclasses.fields(NodeConfig) if f.name != "config_path"
    }


def load_config_data(data: dict[str, Any], *, path: Path) -> NodeConfig:
    """Build a config from already-parsed TOML data (for tests and generators)."""
    shown = str(path)
    base = path.resolve().parent
    secs = sections()
    for name in data:
        if name not in secs:
            raise ConfigError(
                f"unknown table (known: {', '.join(secs)})", path=shown, key=f"[{name}]"
            )
    built = {
        name: _build_section(cls, data.get(name, {}), name, base, shown)
        for name, cls in secs.items()
    }
    cfg = NodeConfig(**built, config_path=path.resolve())
    _validate(cfg, shown)
    return cfg


def load_config(path: str | Path) -> NodeConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError("config file not found", path=str(path)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file ({exc})", path=str(path)) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=str(path)) from exc
    return load_config_data(data, path=path)
