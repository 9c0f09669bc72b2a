"""The federation authority's folder: its config file `directory.toml` and its creation.

Spec: DESIGN.md "Identities and keys" (the authority's Ed25519 key is the trust
anchor) and PROTOCOL-ANCHORS.md §1.2 (X-Road global configuration: a signed
directory with an expiry that clients refuse once passed; `snapshot_lifetime`
and `reissue_before` set it). `init_authority` makes the folder; the operations
on it live in `node.authority.registry`.

- `directory.toml`    `[authority]` name, signing_key, state_file, snapshot_file,
                      snapshot_lifetime, reissue_before, entry_lifetime; `[server]` host, port
- `keys/authority.pem` Ed25519 key, mode 0600

Relative paths in `directory.toml` are resolved against the file's folder, and
every problem names the file and the dotted key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.errors import ConfigError
from config.load import parse_duration
from crypto.keys import generate_signing_key, save_key
from node.errors import Conflict
from node.file_modes import private_dir, write_private

DIRECTORY_TOML = """\
# statenode federation authority; nodes trust the public key printed by `directory init`.
[authority]
name = "{name}"
signing_key = "keys/authority.pem"
state_file = "state.json"
snapshot_file = "snapshot.msgpack"
snapshot_lifetime = "3d"    # nodes refuse a snapshot this long after it was issued
reissue_before = "2d"       # re-sign when less than this is left (served copies are <= 1d old)
entry_lifetime = "365d"     # valid_until of a node's signing key from enrollment or promotion

[server]
host = "127.0.0.1"
port = 0
"""

_AUTHORITY_KEYS = {
    "name": "str", "signing_key": "path", "state_file": "path", "snapshot_file": "path",
    "snapshot_lifetime": "duration", "reissue_before": "duration", "entry_lifetime": "duration",
}
_DEFAULTS: dict[str, Any] = {
    "name": "federation authority", "signing_key": "keys/authority.pem",
    "state_file": "state.json", "snapshot_file": "snapshot.msgpack",
    "snapshot_lifetime": "3d", "reissue_before": "2d", "entry_lifetime": "365d",
}

@dataclass(frozen=True)
class AuthorityConfig:
    path: Path
    name: str
    signing_key: Path
    state_file: Path
    snapshot_file: Path
    snapshot_lifetime: float
    reissue_before: float
    entry_lifetime: float
    host: str
    port: int


def load_authority_config(path: str | Path) -> AuthorityConfig:
    """Parse `directory.toml`; every problem names the file and the dotted key."""
    path = Path(path)
    shown = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError("directory config file not found", path=shown) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read directory config ({exc})", path=shown) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=shown) from exc
    for table in data:
        if table not in ("authority", "server"):
            raise ConfigError("unknown table (known: authority, server)", path=shown,
                              key=f"[{table}]")
    auth, server = data.get("authority", {}), data.get("server", {})
    for table, raw in (("authority", auth), ("server", server)):
        if not isinstance(raw, dict):
            raise ConfigError("must be a table", path=shown, key=table)
    for k in auth:
        if k not in _AUTHORITY_KEYS:
            raise ConfigError(f"unknown setting (known: {', '.join(sorted(_AUTHORITY_KEYS))})",
                              path=shown, key=f"authority.{k}")
    for k in server:
        if k not in ("host", "port"):
            raise ConfigError("unknown setting (known: host, port)", path=shown,
                              key=f"server.{k}")
    base = path.resolve().parent
    values: dict[str, Any] = {}
    for k, kind in _AUTHORITY_KEYS.items():
        value, key = auth.get(k, _DEFAULTS[k]), f"authority.{k}"
        if kind == "duration":
            values[k] = parse_duration(value, key=key, path=shown)
            if values[k] <= 0:
                raise ConfigError(f"must be positive (got {value!r})", path=shown, key=key)
        elif not isinstance(value, str) or not value:
            raise ConfigError(f"must be a non-empty string (got {value!r})", path=shown, key=key)
        elif kind == "path":
            p = Path(value).expanduser()
            values[k] = p if p.is_absolute() else base / p
        else:
            values[k] = value
    if values["reissue_before"] >= values["snapshot_lifetime"]:
        raise ConfigError("must be shorter than authority.snapshot_lifetime", path=shown,
                          key="authority.reissue_before")
    host, port = server.get("host", "127.0.0.1"), server.get("port", 0)
    if not isinstance(host, str) or not host:
        raise ConfigError(f"must be a non-empty string (got {host!r})", path=shown,
                          key="server.host")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"must be a port number 0..65535 (got {port!r})", path=shown,
                          key="server.port")
    return AuthorityConfig(path=path, host=host, port=port, **values)


def init_authority(folder: Path, *, name: str = "federation authority") -> tuple[Path, bytes]:
    """Create DIR/directory.toml and DIR/keys/authority.pem; return (config path, public key)."""
    folder = Path(folder)
    cfg_path = folder / "directory.toml"
    if cfg_path.exists() or (folder / "keys").exists():
        raise Conflict(f"{folder}: a directory authority already exists here; "
                       "refusing to overwrite it")
    private_dir(folder)
    (folder / "keys").mkdir(mode=0o700)
    key = generate_signing_key()
    save_key(folder / "keys" / "authority.pem", key)
    write_private(cfg_path, DIRECTORY_TOML.format(name=name.replace('"', "'")))
    return cfg_path, key.public

