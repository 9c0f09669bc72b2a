"""Online backup and restore of a node (`statenode backup` / `statenode restore`).

A backup is a folder: `node.db` and `exchange-log.db`, each a consistent copy taken
with SQLite's online backup API (`sqlite3.Connection.backup`, one read transaction
per file, so the running node keeps answering and writing while it runs), the cached
signed directory snapshot, a copy of `node.toml`, and `manifest.json` (node id, time,
SHA-256 of every file, exchange log size). Each copy is checked with
`PRAGMA integrity_check` before the manifest is written; the manifest is written last,
so a folder without one is an unfinished backup and `restore` refuses it.

Keys are NOT copied by default: a backup usually travels to storage with weaker
protection than the node, and a copied signing key lets whoever holds it speak for the
state. Keep an offline copy of `keys/` separately, or if the keys are lost enrol new
ones with the authority (`directory enroll --replace`). `--include-keys` copies them
anyway into `keys/` of the backup with mode 0600 (folders 0700), the OPRF key of the
discover round included (with it and the published filter, anyone could test names and
birth dates against this state's records offline: it is as secret as the signing key).
A node restored without it makes a new one: its filter is rebuilt and the authority must
pin the new key (`statenode keys show --json` prints the NodeInfo).

Restore refuses while the node is running, checks the manifest's hashes and the node
id, moves the current files aside (`*.before-restore-<time>`) instead of deleting them,
removes stale `-wal`/`-shm` files and puts each file in place with an atomic rename.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.schema import NodeConfig
from node import clock
from node.directory.identity import oprf_next_path
from node.errors import Conflict, NodeError, NotFound, StorageError
from node.file_modes import private_dir, write_private

MANIFEST = "manifest.json"
FORMAT = "statenode-backup/1"


@dataclass(frozen=True)
class BackupReport:
    folder: Path
    files: dict[str, str]  # name -> sha256 hex
    log_entries: int
    included_keys: bool


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def integrity(path: Path) -> str:
    """`PRAGMA integrity_check` of a database file: "ok" or the first problems."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.Error as exc:
        return f"cannot check ({exc})"
    finally:
        conn.close()
    return "; ".join(str(r[0]) for r in rows[:5])


def _named(progress: Callable[[str, int, int], None], name: str) -> Callable[[int, int], None]:
    """A per-file progress callback that reports under the file's name."""
    def report(done: int, total: int) -> None:
        progress(name, done, total)
    return report


def copy_database(src: Path, dst: Path,
                  progress: Callable[[int, int], None] | None = None) -> None:
    """Consistent copy of a live SQLite database (online backup API, one read transaction)."""
    if not src.exists():
        raise NotFound(f"{src}: database not found")
    tmp = dst.with_name(dst.name + ".partial")
    tmp.unlink(missing_ok=True)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # student data: 0600
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=30)
    target = sqlite3.connect(tmp)
    try:
        source.backup(target, pages=-1,
                      progress=(lambda _s, rem, total: progress(total - rem, total))
                      if progress else None)
        target.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as exc:
        raise StorageError(f"{src}: backup failed ({exc}); nothing was written to {dst}") from exc
    finally:
        target.close()
        source.close()
    problem = integrity(tmp)
    if problem != "ok":
        tmp.unlink(missing_ok=True)
        raise StorageError(f"{src}: the copy does not pass integrity_check ({problem})")
    _fsync(tmp)
    os.replace(tmp, dst)


def _log_entries(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        top = conn.execute("SELECT MAX(idx) FROM leaves").fetchone()[0]
    except sqlite3.Error:
        return 0
    finally:
        conn.close()
    return 0 if top is None else int(top) + 1


def _copy_private(src: Path, dst: Path) -> None:
    private_dir(dst.parent)
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(src.read_bytes())
        f.flush()
        os.fsync(f.fileno())


def backup(cfg: NodeConfig, out: str | Path, *, include_keys: bool = False,
           progress: Callable[[str, int, int], None] | None = None) -> BackupReport:
    """Write a backup folder OUT (must not exist or be empty)."""
    folder = Path(out)
    if folder.exists() and any(folder.iterdir()):
        raise Conflict(f"{folder}: exists and is not empty; choose a new folder")
    private_dir(folder)
    folder.chmod(0o700)  # also when it already existed (empty)
    files: dict[str, str] = {}
    for name, src in (("node.db", cfg.storage.database),
                      ("exchange-log.db", cfg.storage.exchange_log)):
        copy_database(src, folder / name, _named(progress, name) if progress else None)
    for name, src in (("directory.msgpack", cfg.directory.cache_file),
                      ("directory.v2.msgpack", cfg.directory.cache_file_v2),
                      ("node.toml", cfg.config_path)):
        if src.is_file():
            _copy_private(src, folder / name)
    if include_keys:
        base = cfg.keys.signing_key.parent
        key_files = [cfg.keys.signing_key, cfg.keys.witness_key, cfg.keys.oprf_key,
                     oprf_next_path(cfg), *sorted(cfg.keys.encryption_dir.iterdir())]
        # the passphrase file is never copied beside the keys it protects
        for src in key_files:
            if not src.is_file():
                continue
            try:
                rel = src.relative_to(base)
            except ValueError:
                rel = Path(src.name)
            _copy_private(src, folder / "keys" / rel)
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            files[str(path.relative_to(folder))] = _sha256(path)
    entries = _log_entries(folder / "exchange-log.db")
    manifest = {"format": FORMAT, "node": cfg.node.id, "created_at": clock.now(),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "exchange_log_entries": entries, "include_keys": include_keys, "files": files}
    tmp = folder / (MANIFEST + ".tmp")
    write_private(tmp, json.dumps(manifest, indent=2))
    os.replace(tmp, folder / MANIFEST)
    return BackupReport(folder, files, entries, include_keys)


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise NotFound(f"{path}: no manifest; this is not a finished statenode backup") from exc
    except ValueError as exc:
        raise NodeError(f"{path}: damaged manifest ({exc})") from exc
    if data.get("format") != FORMAT:
        raise NodeError(f"{path}: unknown backup format {data.get('format')!r}")
    return dict(data)


def verify_backup(folder: str | Path) -> dict[str, Any]:
    """Check a backup folder's hashes and databases; return its manifest or raise."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    for name, digest in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            raise NodeError(f"{path}: listed in the manifest but missing")
        if _sha256(path) != digest:
            raise NodeError(f"{path}: does not match its SHA-256 in the manifest")
    for name in ("node.db", "exchange-log.db"):
        problem = integrity(folder / name)
        if problem != "ok":
            raise StorageError(f"{folder / name}: fails integrity_check ({problem})")
    return manifest


def node_running(cfg: NodeConfig) -> str | None:
    """The URL of the running node, if control.json names a live process."""
    from node.control.api import control_file

    path = control_file(cfg)
    try:
        ctl = json.loads(path.read_text())
        os.kill(int(ctl["pid"]), 0)
    except PermissionError:  # alive, run by another user (the service account)
        return str(ctl.get("url", ""))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(ctl.get("url", ""))


def _put(src: Path, dst: Path, stamp: str) -> None:
    """Move `dst` (and its -wal/-shm) aside, then atomically rename a copy of `src` in
    (0600, as every file of the node)."""
    tmp = dst.with_name(dst.name + ".restoring")
    tmp.unlink(missing_ok=True)
    _copy_private(src, tmp)
    if dst.exists():
        os.replace(dst, dst.with_name(f"{dst.name}.before-restore-{stamp}"))
    for suffix in ("-wal", "-shm"):
        side = dst.with_name(dst.name + suffix)
        if side.exists():
            os.replace(side, dst.with_name(f"{dst.name}{suffix}.before-restore-{stamp}"))
    os.replace(tmp, dst)


def restore(cfg: NodeConfig, folder: str | Path, *, with_keys: bool = False) -> dict[str, Any]:
    """Put a verified backup in place of the node's databases (the node must be stopped)."""
    folder = Path(folder)
    url = node_running(cfg)
    if url is not None:
        raise Conflict(f"the node is running ({url}); stop it before restoring")
    manifest = verify_backup(folder)
    if manifest["node"] != cfg.node.id:
        raise Conflict(f"{folder}: backup of node {manifest['node']}, not {cfg.node.id}")
    if with_keys and not manifest.get("include_keys"):
        raise NotFound(f"{folder}: this backup holds no keys (made without --include-keys)")
    stamp = time.strftime("%Y%m%dT%H%M%S")
    _put(folder / "node.db", cfg.storage.database, stamp)
    _put(folder / "exchange-log.db", cfg.storage.exchange_log, stamp)
    for name, dest in (("directory.msgpack", cfg.directory.cache_file),
                       ("directory.v2.msgpack", cfg.directory.cache_file_v2)):
        if (folder / name).is_file() and not dest.exists():
            _put(folder / name, dest, stamp)
    if with_keys:
        base = cfg.keys.signing_key.parent
        for src in sorted((folder / "keys").rglob("*")):
            if src.is_file():
                _put(src, base / src.relative_to(folder / "keys"), stamp)
    return manifest
