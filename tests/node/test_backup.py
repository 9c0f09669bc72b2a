"""Online backup and restore (node/ops/backup.py) and the retention purge
(node/store/retention.py)."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from config import load_config
from config.schema import NodeConfig
from node.audit.exchange_log import ExchangeLog
from node.cli import cli
from node.control.api import write_control_file
from node.directory.identity import load_keys
from node.errors import Conflict, NodeError, NotFound
from node.importing.importer import import_files
from node.importing.synthetic import generate_students
from node.ops.backup import backup, restore, verify_backup
from node.store import federation_tables as fed
from node.store.database import Store
from node.store.retention import purge
from tests.integration.harness import count_rows
from tests.node.auditlog_helpers import FIND, Federation, entry_for, seal


@pytest.fixture
def cfg(node_dir: Path) -> NodeConfig:
    cfg = load_config(node_dir / "node.toml")
    data = node_dir / "records.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in generate_students("TX", 60, 3)))
    with Store(cfg.storage.database) as store:
        store.call(fed.apply_migrations)
        import_files(store, [data], owner_state="TX", progress=False, workers=0)
    log = ExchangeLog(cfg.storage.exchange_log, load_keys(cfg).signing, "TX")
    keys = Federation(("TX", "CA"))
    for _ in range(5):
        log.append_sync(entry_for(seal(keys, "CA", "TX", FIND), "TX"))
    log.sign_checkpoint()
    log.close()
    return cfg


def test_backup_is_consistent_while_the_node_writes(cfg: NodeConfig, tmp_path: Path) -> None:
    stop = threading.Event()
    written = [0]

    def writer() -> None:  # another connection keeps writing during the backup
        db = sqlite3.connect(cfg.storage.database, timeout=10)
        while not stop.is_set():
            with db:
                db.execute("INSERT INTO record_handles (handle, state_student_id, peer, "
                           "created_ms) VALUES (?, 'TX0', 'CA', 0)", [f"h{written[0]}"])
            written[0] += 1
        db.close()

    t = threading.Thread(target=writer)
    t.start()
    try:
        deadline = time.monotonic() + 30
        while written[0] < 20 and t.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert written[0] >= 20, "the concurrent writer failed"
        report = backup(cfg, tmp_path / "b1")
    finally:
        stop.set()
        t.join()
    manifest = verify_backup(report.folder)
    assert manifest["node"] == "TX" and manifest["exchange_log_entries"] == 5
    assert set(report.files) == {"node.db", "exchange-log.db", "node.toml"}
    assert count_rows(report.folder / "node.db", "students") == 60
    assert 20 <= count_rows(report.folder / "node.db", "record_handles") <= written[0]
    assert not any(p.name.endswith((".partial", "-wal")) for p in report.folder.iterdir())
    assert not (report.folder / "keys").exists()


def test_backup_refuses_a_non_empty_folder(cfg: NodeConfig, tmp_path: Path) -> None:
    out = tmp_path / "used"
    out.mkdir()
    (out / "x").write_text("x")
    with pytest.raises(Conflict, match="not empty"):
        backup(cfg, out)


def test_include_keys_copies_them_private(cfg: NodeConfig, tmp_path: Path) -> None:
    report = backup(cfg, tmp_path / "bk", include_keys=True)
    signing = report.folder / "keys" / "signing.pem"
    assert signing.read_bytes() == cfg.keys.signing_key.read_bytes()
    assert stat.S_IMODE(signing.stat().st_mode) == 0o600
    assert stat.S_IMODE((report.folder / "keys").stat().st_mode) == 0o700
    assert len(list((report.folder / "keys" / "encryption").glob("*.pem"))) == 2


def test_restore_puts_the_backup_back(cfg: NodeConfig, tmp_path: Path) -> None:
    report = backup(cfg, tmp_path / "b")
    db = sqlite3.connect(cfg.storage.database)
    with db:
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("DELETE FROM students")
    db.close()
    assert count_rows(cfg.storage.database, "students") == 0
    manifest = restore(cfg, report.folder)
    assert manifest["node"] == "TX"
    assert count_rows(cfg.storage.database, "students") == 60
    assert count_rows(cfg.storage.exchange_log, "leaves") == 5
    kept = list(cfg.storage.database.parent.glob("node.db.before-restore-*"))
    assert kept and count_rows(kept[0], "students") == 0
    assert not Path(f"{cfg.storage.database}-wal").exists()


def test_restore_refusals(cfg: NodeConfig, tmp_path: Path) -> None:
    report = backup(cfg, tmp_path / "b")
    write_control_file(cfg, "http://127.0.0.1:1", "token")  # our own live pid
    with pytest.raises(Conflict, match="running"):
        restore(cfg, report.folder)
    (cfg.storage.database.parent / "control.json").unlink()
    with pytest.raises(NotFound, match="no keys"):
        restore(cfg, report.folder, with_keys=True)
    other = load_config(cfg.config_path)
    object.__setattr__(other.node, "id", "CA")
    with pytest.raises(Conflict, match="backup of node TX"):
        restore(other, report.folder)
    with (report.folder / "node.db").open("r+b") as f:
        f.seek(200)
        f.write(b"\xff")
    with pytest.raises(NodeError, match="SHA-256"):
        restore(cfg, report.folder)
    (report.folder / "manifest.json").unlink()
    with pytest.raises(NotFound, match="not a finished"):
        restore(cfg, report.folder)
    assert count_rows(cfg.storage.database, "students") == 60  # nothing was touched


def test_cli_backup_and_restore(cfg: NodeConfig, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "cli-backup"
    res = runner.invoke(cli, ["backup", "-c", str(cfg.config_path), str(out)], obj={})
    assert res.exit_code == 0, res.output
    assert "keys not included" in res.output
    res = runner.invoke(cli, ["restore", "-c", str(cfg.config_path), str(out)], obj={})
    assert res.exit_code == 0, res.output
    assert "restored node TX" in res.output
    res = runner.invoke(cli, ["backup", "-c", str(cfg.config_path), str(out)], obj={})
    assert res.exit_code == 1 and "not empty" in res.output


def test_retention_purges_only_what_policy_allows(cfg: NodeConfig) -> None:
    now = time.time()
    old_ms, new_ms = int((now - 40 * 86400) * 1000), int((now - 86400) * 1000)
    with Store(cfg.storage.database) as store:
        store.call(fed.apply_migrations)
        from node.store.accounts import apply_migrations

        store.call(apply_migrations)

        def seed(db: object) -> None:
            ex = db.execute  # type: ignore[attr-defined]
            ex("INSERT INTO record_handles VALUES ('old', 'TX1', 'CA', ?, ?, 1)", [old_ms, old_ms])
            ex("INSERT INTO record_handles VALUES ('new', 'TX2', 'CA', ?, ?, 1)", [new_ms, new_ms])
            for i, (delivered, created) in enumerate([(old_ms, old_ms), (new_ms, old_ms),
                                                      (None, old_ms)]):
                ex("INSERT INTO outbox (peer, type, purpose, message_id, body, summary, "
                   "created_ms, next_attempt_ms, delivered_ms) VALUES ('CA', 'move_notice', "
                   "'move_notice', ?, x'00', '{}', ?, ?, ?)", [bytes([i]), created, created,
                                                                 delivered])
            ex("INSERT INTO users (id, username, role, password_hash, status, created_at) "
               "VALUES (1, 'sam', 'staff', 'x', 'active', 0)")
            ex("INSERT INTO sessions VALUES ('idle', 1, 'c', ?, ?, '')", [now - 7200, now - 7200])
            ex("INSERT INTO sessions VALUES ('live', 1, 'c', ?, ?, '')", [now - 60, now - 60])

        store.call(seed)
        counts = store.call(lambda db: purge(db, cfg, now=now))
        assert counts == {"sessions": 1, "record_handles": 1, "outbox_delivered": 1}
        left = store.call(lambda db: (
            [r[0] for r in db.execute("SELECT handle FROM record_handles")],
            [r[0] for r in db.execute("SELECT delivered_ms FROM outbox ORDER BY id")],
            [r[0] for r in db.execute("SELECT token_hash FROM sessions")]))
    assert left == (["new"], [new_ms, None], ["live"])
    assert os.path.exists(cfg.storage.database)


def test_retention_keeps_handles_in_use_or_linked(cfg: NodeConfig) -> None:
    from node.store.link_tables import apply_migrations as links_migrations
    from node.store.retention import purge

    day = 86400.0
    with Store(cfg.storage.database) as store:
        store.call(links_migrations)
        store.call(lambda db: fed.handle_for(db, "CA", "TX1"))
        linked = store.call(lambda db: fed.handle_for(db, "FL", "TX2"))
        store.call(lambda db: db.execute(
            "INSERT INTO links (direction, status, peer, peer_record, ref, asserted_by, "
            "created_ms) VALUES ('in', 'active', 'FL', 'fl-ref', ?, 'x', 0)", [linked]))
        later = time.time() + cfg.jobs.retention + day
        # used again just before the purge: kept; the linked one is kept although unused
        reused = store.call(lambda db: fed.handle_for(db, "CA", "TX1"))
        store.call(lambda db: db.execute("UPDATE record_handles SET last_used_ms = ? WHERE "
                                         "handle = ?", [int((later - day) * 1000), reused]))
        # near matches of broad finds nobody asked about go; asked-for ones stay
        for n, status in enumerate(("held", "open", "held")):
            seen = int((later - (day if n == 2 else 2 * cfg.jobs.retention)) * 1000)
            store.call(lambda db, n=n, status=status, seen=seen: db.execute(
                "INSERT INTO worklist (find_id, peer, handle, query_key, score, agreements, "
                "candidate, query, requested_by, created_ms, last_seen_ms, status) VALUES "
                "('f', 'CA', ?, 'q', 1, '{}', '{}', '{}', 'sam', 0, ?, ?)",
                [f"h{n}", seen, status]))
        counts = store.call(lambda db: purge(db, cfg, now=later))
        assert counts["record_handles"] == 0 and counts["worklist_held"] == 1
        assert store.call(lambda db: fed.resolve_handle(db, "FL", linked)) == "TX2"
        assert store.call(lambda db: [r[0] for r in db.execute(
            "SELECT handle FROM worklist ORDER BY id")]) == ["h1", "h2"]
