"""Owner-only files and folders in-process, under a loose umask (node/file_modes.py).

The code paths that create the node's files set modes themselves, so they hold in a
process that did not go through `statenode`'s own umask (tests, embedding): init,
rejects files, the drop folder's processed/ and failed/, backups and restores, audit
exports. `tighten` makes a loosened node owner-only again or refuses, naming the path.
The same with real processes: tests/integration/test_file_modes.py.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from config import load_config
from node import file_modes
from node.audit.exchange_log import ExchangeLog
from node.directory.identity import load_keys
from node.errors import NodeError
from node.file_modes import create_private, loose, node_paths, restrict_umask, tighten
from node.importing.drop_folder import import_drop_folder
from node.importing.importer import import_files
from node.importing.synthetic import generate_students
from node.ops.backup import backup, restore
from node.store.database import Store
from tests.integration.harness import not_owner_only


@pytest.fixture(autouse=True)
def loose_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _records(path: Path, n: int, *, bad: bool = False) -> Path:
    lines = [json.dumps(r) for r in generate_students("TX", n, 5)]
    if bad:
        lines.append(json.dumps({"state_student_id": "TXBAD", "first_name": "X"}))
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_restrict_umask_keeps_stricter_bits() -> None:
    assert restrict_umask() == 0o022
    assert os.umask(0o027) == 0o077
    restrict_umask()
    assert os.umask(0o022) == 0o077


def test_init_and_import_under_a_loose_umask(node_dir: Path, tmp_path: Path) -> None:
    """write_node (statenode init), the stores and the rejects file set their own modes."""
    cfg = load_config(node_dir / "node.toml")
    data = _records(node_dir / "in.jsonl", 5, bad=True)
    data.chmod(0o600)  # the test's own input
    with Store(cfg.storage.database) as store:
        report = import_files(store, [data], owner_state="TX", progress=False)
        assert (node_dir / "node.db-wal").exists()
        log = ExchangeLog(cfg.storage.exchange_log, load_keys(cfg).signing, "TX")
        log.sign_checkpoint()
        assert not_owner_only(node_dir) == []
        log.close()
    assert report.rejects_files == (f"{data}.rejects.jsonl",)
    assert not_owner_only(node_dir) == []


def test_backup_restore_and_audit_export_are_owner_only(node_dir: Path,
                                                        tmp_path: Path) -> None:
    cfg = load_config(node_dir / "node.toml")
    with Store(cfg.storage.database) as store:
        import_files(store, [_records(tmp_path / "in.jsonl", 5)], owner_state="TX",
                     progress=False)
    log = ExchangeLog(cfg.storage.exchange_log, load_keys(cfg).signing, "TX")
    log.sign_checkpoint()
    log.export(tmp_path / "out" / "audit", b"snapshot bytes", b"\1" * 32)
    log.close()
    cfg.directory.cache_file.write_bytes(b"snapshot bytes")  # umask: 0644
    report = backup(cfg, tmp_path / "out" / "backup", include_keys=True)
    assert {"node.db", "exchange-log.db", "directory.msgpack", "node.toml",
            "manifest.json", "keys"} <= {p.name for p in report.folder.iterdir()}
    assert not_owner_only(tmp_path / "out") == []
    cfg.directory.cache_file.unlink()
    restore(cfg, report.folder, with_keys=True)
    for path in (cfg.storage.database, cfg.storage.exchange_log, cfg.directory.cache_file,
                 cfg.keys.signing_key):
        assert _mode(path) == 0o600, path


def test_drop_folder_done_folders_and_rejects_are_owner_only(node_dir: Path,
                                                             tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    _records(drop / "a.jsonl", 3, bad=True)
    (drop / "b.jsonl").write_bytes(b"\xff\n")  # not UTF-8: nothing stored, to failed/
    for p in drop.iterdir():
        os.utime(p, (time.time() - 60, time.time() - 60))
    with Store(load_config(node_dir / "node.toml").storage.database) as store:
        counts = import_drop_folder(store, drop, "TX")
    assert counts["imported"] == 1 and counts["failed"] == 1
    for name in ("processed", "failed"):
        assert _mode(drop / name) == 0o700
    [rejects] = (drop / "processed").glob("*.rejects.jsonl")
    assert _mode(rejects) == 0o600
    assert _mode(drop) == 0o755  # the drop folder itself is the uploaders' too


def test_tighten_fixes_what_others_can_read_and_names_it(node_dir: Path,
                                                         caplog: pytest.LogCaptureFixture,
                                                         ) -> None:
    cfg = load_config(node_dir / "node.toml")
    wal = node_dir / "node.db-wal"
    wal.write_bytes(b"")
    for path in (cfg.storage.database, wal, cfg.config_path):
        path.chmod(0o644)
    node_dir.chmod(0o755)
    assert {i.path for i in loose(cfg)} == {node_dir, cfg.storage.database, wal,
                                            cfg.config_path}
    with caplog.at_level("WARNING", logger="statenode.files"):
        fixed = tighten(cfg)
    assert {i.path for i in fixed} == {node_dir, cfg.storage.database, wal, cfg.config_path}
    assert f"{cfg.storage.database} was accessible by other users (mode 0644)" in caplog.text
    assert loose(cfg) == [] and _mode(node_dir) == 0o700 and _mode(wal) == 0o600


def test_tighten_leaves_key_files_to_load_keys(node_dir: Path) -> None:
    """A key others could read is refused by load_keys (it may have been copied), not
    quietly fixed."""
    cfg = load_config(node_dir / "node.toml")
    cfg.keys.signing_key.chmod(0o640)
    assert tighten(cfg) == []
    assert _mode(cfg.keys.signing_key) == 0o640
    with pytest.raises(Exception, match="chmod 600"):
        load_keys(cfg)


def test_tighten_refuses_when_it_cannot_chmod(node_dir: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config(node_dir / "node.toml")
    cfg.storage.database.chmod(0o604)

    def not_owner(path: object, mode: int) -> None:
        raise PermissionError(errno.EPERM, os.strerror(errno.EPERM), str(path))

    monkeypatch.setattr(file_modes.os, "chmod", not_owner)
    with pytest.raises(NodeError) as info:
        tighten(cfg)
    text = str(info.value)
    assert f"{cfg.storage.database} is accessible by other users (mode 0604)" in text
    assert "Operation not permitted" in text and f"chmod 600 {cfg.storage.database}" in text


def test_folders_outside_the_node_folder_are_never_changed(tmp_path: Path) -> None:
    """A database configured elsewhere makes only its own files owner-only, never the
    folder it is in (which may be shared, like /var/lib or /tmp)."""
    from node.ops.node_folder import write_node

    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o1777)
    node = tmp_path / "tx"
    path = write_node(node, state="TX", name="Texas", endpoint="http://127.0.0.1:9")
    path.write_text(path.read_text().replace('database = "node.db"',
                                             f'database = "{shared}/node.db"'))
    cfg = load_config(path)
    Store(cfg.storage.database).close()
    assert _mode(cfg.storage.database) == 0o600
    files, folders = node_paths(cfg)
    assert cfg.storage.database in files and shared not in folders
    tighten(cfg)
    assert _mode(shared) == 0o1777


def test_create_private_makes_a_new_database_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    create_private(db)
    assert _mode(db) == 0o600 and db.stat().st_size == 0
    db.chmod(0o644)
    create_private(db)  # an existing database of this user is made owner-only too
    assert _mode(db) == 0o600
    create_private(":memory:")
    assert not Path(":memory:").exists()


def test_a_drop_folder_elsewhere_gets_its_done_folders_fixed(node_dir: Path,
                                                             tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    (drop / "processed").mkdir(parents=True)
    (drop / "processed" / "x.jsonl.rejects.jsonl").write_text("{}\n")
    with (node_dir / "node.toml").open("a") as fh:
        fh.write(f'\n[jobs]\nimport_folder = "{drop}"\n')
    cfg = load_config(node_dir / "node.toml")
    assert {i.path for i in loose(cfg)} == {drop / "processed",
                                            drop / "processed" / "x.jsonl.rejects.jsonl"}
    tighten(cfg)
    assert loose(cfg) == [] and _mode(drop) == 0o755  # the drop folder is left alone
