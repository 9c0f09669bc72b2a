"""Owner-only files and folders (docs/SECURITY.md "Files are owner-only", issue 12).

Everything a node writes holds student data or secrets, or sits beside them: its
databases (records, password hashes, session tokens) with their `-wal`/`-shm` files,
logs, rejects files (they carry the rejected records), keys, control.json (a bearer
token), backups and audit exports. This module owns the rule that all of it is created
mode 0600 (files) and 0700 (folders) whatever the umask the process was started with:

- `restrict_umask()` at CLI start (`node.cli.main`), so whatever any library creates in
  a `statenode` process is owner-only;
- `private_dir`, `open_private` and `create_private` where the node creates a folder or
  a file, with explicit modes, so the rule also holds when the code runs in a process
  with a looser umask (tests, embedding). SQLite creates a database's `-wal`, `-shm`
  and `-journal` files with the database file's own mode, so `create_private` makes
  the database file 0600 before SQLite first opens it;
- `node_paths` names what a node owns, `loose` finds what others can reach, and
  `tighten` (at `statenode serve`) makes it owner-only again, logging a warning naming
  each path, or refuses to start with a clear message when it cannot (not the owner).
  Key files are the exception: `load_keys` refuses a key others could read (it may
  have been copied; whether to rotate it is the operator's decision), so they are left
  to it. `statenode doctor` reports the same findings (`node.ops.doctor.check_file_modes`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from config.schema import NodeConfig
from node.errors import NodeError

log = logging.getLogger("statenode.files")

PRIVATE_UMASK = 0o077
FILE_MODE = 0o600
DIR_MODE = 0o700
OTHERS = 0o077  # group and other permission bits
SQLITE_SIDECARS = ("-wal", "-shm", "-journal")
# named here as their owners name them (node.control.api, node.importing.drop_folder): this module
# sits below both and imports neither
CONTROL_FILE = "control.json"
DROP_DONE_FOLDERS = ("processed", "failed")
_OPEN_FLAGS = {
    "w": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
    "a": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
    "x": os.O_WRONLY | os.O_CREAT | os.O_EXCL,
}


def restrict_umask() -> int:
    """Make everything this process creates owner-only from now on; return the old umask."""
    old = os.umask(PRIVATE_UMASK)
    os.umask(old | PRIVATE_UMASK)
    return old


def _mode(st: os.stat_result) -> int:
    return stat.S_IMODE(st.st_mode)


def private_dir(path: str | Path, *, tighten: bool = False) -> Path:
    """Create `path` and its missing parents with mode 0700 (Path.mkdir gives parents the
    umask's mode). An existing folder is left as it is, or with `tighten` made 0700."""
    path = Path(path)
    missing = []
    here = path
    while not os.path.lexists(here) and here != here.parent:
        missing.append(here)
        here = here.parent
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    for created in missing:
        os.chmod(created, DIR_MODE)
    if tighten and not missing and _mode(path.stat()) & OTHERS:
        os.chmod(path, _mode(path.stat()) & ~OTHERS)
    return path


def _private_fd(fd: int) -> int:
    """Make an open file 0600 unless it already is owner-only (its owner's choice)."""
    try:
        mode = _mode(os.fstat(fd))
        if mode & OTHERS or mode & 0o600 != 0o600:
            os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_private(path: str | Path, mode: str = "w", **kwargs: Any) -> IO[Any]:
    """`open(path, mode)` for writing ("w", "a", "x", with "b" for bytes), the file created
    0600, or made 0600 if it existed with looser permissions."""
    flags = _OPEN_FLAGS[mode.replace("b", "").replace("t", "")]
    fd = _private_fd(os.open(path, flags | getattr(os, "O_CLOEXEC", 0), FILE_MODE))
    try:
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


def write_private(path: str | Path, data: str | bytes) -> None:
    """Write the whole of `path` (created or made 0600)."""
    with open_private(path, "wb" if isinstance(data, bytes) else "w",
                      **({} if isinstance(data, bytes) else {"encoding": "utf-8"})) as fh:
        fh.write(data)


def create_private(path: str | Path) -> None:
    """Create an empty `path` with mode 0600 unless it exists. Called before SQLite opens
    a database, so the database and the -wal/-shm/-journal files SQLite later creates
    with the same mode are owner-only; a database that exists already is made owner-only
    too when this user owns it (its modes are otherwise `tighten`'s and doctor's job)."""
    if str(path) in ("", ":memory:") or str(path).startswith("file:"):
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        with contextlib.suppress(OSError):  # not ours, or a read-only file system
            st = os.stat(path)
            if _mode(st) & OTHERS and st.st_uid == os.geteuid():
                os.chmod(path, _mode(st) & ~OTHERS)
                log.warning("%s was accessible by other users (mode %04o); made it "
                            "owner-only", path, _mode(st))
        return
    os.close(_private_fd(fd))


# ---- what a node owns, and keeping it owner-only ----------------------------------------

def key_files(cfg: NodeConfig) -> set[Path]:
    """The files `node.directory.identity.load_keys` reads and refuses when others can read them."""
    files = {cfg.keys.signing_key}
    if cfg.keys.encryption_dir.is_dir():
        files.update(p for p in cfg.keys.encryption_dir.iterdir() if p.suffix == ".pem")
    if cfg.keys.passphrase_file is not None:
        files.add(cfg.keys.passphrase_file)
    return files


def _with_sidecars(db: Path) -> Iterator[Path]:
    yield db
    for suffix in SQLITE_SIDECARS:
        yield db.with_name(db.name + suffix)
    if db.parent.is_dir():  # what `statenode restore` moved aside
        yield from sorted(db.parent.glob(db.name + "*.before-restore-*"))


def node_paths(cfg: NodeConfig) -> tuple[list[Path], list[Path]]:
    """(files, folders) the node owns that exist, symbolic links left out: its folder
    (the one holding node.toml) and node.toml, the databases with their -wal/-shm/-journal
    files (and copies a restore moved aside), control.json, the directory cache, the
    files of the key folders, the TLS key and certificate, logs (`*.log`) in the node's
    folder, rejects files (`*.rejects.*`) anywhere under it and in the drop folder, and
    the drop folder's processed/ and failed/ folders. Other folders count only inside the
    node's folder (a path configured elsewhere never makes, say, /var/lib owner-only);
    the drop folder itself and the inputs dropped into it are left alone (other accounts
    may write there)."""
    home = cfg.config_path.parent
    files: list[Path] = [cfg.config_path]
    for db in (cfg.storage.database, cfg.storage.exchange_log):
        files.extend(_with_sidecars(db))
    control = cfg.storage.database.parent / CONTROL_FILE
    files += [control, control.with_name(control.name + ".tmp"), cfg.directory.cache_file]
    key_folders = {cfg.keys.signing_key.parent, cfg.keys.encryption_dir}
    for folder in sorted(key_folders - {home}):
        if folder.is_dir():
            files.extend(sorted(p for p in folder.iterdir() if p.is_file()))
    tls = [cfg.server.tls_key or home / "tls" / "key.pem",
           cfg.server.tls_cert or home / "tls" / "cert.pem"]
    files += tls
    folders = [f for f in [home, *sorted(key_folders | {p.parent for p in tls})]
               if f == home or f.is_relative_to(home)]
    if home.is_dir():
        files += sorted(home.glob("*.log"))
        files += sorted(home.rglob("*.rejects.*"))
    drop = cfg.jobs.import_folder
    if drop is not None and drop.is_dir():
        folders += [drop / name for name in DROP_DONE_FOLDERS]  # the node's own, anywhere
        files += sorted(drop.rglob("*.rejects.*"))
    return _existing(files, is_dir=False), _existing(folders, is_dir=True)


def _existing(paths: Iterable[Path], *, is_dir: bool) -> list[Path]:
    out: list[Path] = []
    seen: set[Path] = set()
    for path in paths:
        if path in seen:
            continue
        seen.add(path)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode) == is_dir and not stat.S_ISLNK(st.st_mode):
            out.append(path)
    return out


@dataclass(frozen=True)
class Loose:
    """A file or folder of the node that other users can reach."""

    path: Path
    mode: int
    is_dir: bool

    @property
    def fix(self) -> str:
        return f"chmod {'700' if self.is_dir else '600'} {self.path}"


def loose(cfg: NodeConfig) -> list[Loose]:
    """The node's files and folders whose mode grants group or other users anything."""
    files, folders = node_paths(cfg)
    out = []
    for paths, is_dir in ((folders, True), (files, False)):
        for path in paths:
            try:
                mode = _mode(os.lstat(path))
            except OSError:
                continue
            if mode & OTHERS:
                out.append(Loose(path, mode, is_dir))
    return out


def tighten(cfg: NodeConfig) -> list[Loose]:
    """Make every loose file and folder of the node owner-only (key files excepted: see
    the module docstring), logging a warning naming each; return what was changed.
    Raises NodeError, naming the path and its fix, when one cannot be changed."""
    keys = key_files(cfg)
    fixed = []
    for item in loose(cfg):
        if item.path in keys:
            continue
        try:
            os.chmod(item.path, item.mode & ~OTHERS)
        except OSError as exc:
            raise NodeError(
                f"{item.path} is accessible by other users (mode {item.mode:04o}) and this "
                f"account cannot make it owner-only ({exc.strerror}); the node will not run "
                f"with it: as its owner run `{item.fix}`, or run the node as the account "
                "that owns its folder") from exc
        log.warning("%s was accessible by other users (mode %04o); made it owner-only "
                    "(%04o)", item.path, item.mode, item.mode & ~OTHERS)
        fixed.append(item)
    return fixed
