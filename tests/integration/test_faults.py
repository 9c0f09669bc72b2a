"""Faults (issue "Reliability, security and operations", item 3), with real node processes.

kill -9 during an import and during a burst of exchanges (integrity, all-or-nothing, the
exchange log export verifies and holds every reply a peer received); a peer frozen or
stopped in the middle of finds; the directory unreachable until the cached snapshot
expires; a clock beyond the skew bound; a read-only database and a full disk.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config import load_config
from node.errors import StorageError
from node.importing.importer import import_files
from node.importing.synthetic import generate_students
from node.ops.doctor import check_database
from node.store.database import Store
from tests.integration.harness import ROOT, Federation, count_rows
from tests.integration.test_federation import _sealed_find

pytestmark = pytest.mark.integration
ANA = {"first_name": "Ana", "last_name_1": "Ruiz", "birth_date": "2011-05-06"}


def _integrity(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Federation]:
    fed = Federation(tmp_path, ["TX", "CA"], background=20).create().start()
    yield fed
    fed.stop()


def test_kill9_during_import_is_all_or_nothing(pair: Federation, tmp_path: Path) -> None:
    cfg = load_config(pair.config("TX"))
    db = cfg.storage.database
    before = (count_rows(db, "students"), count_rows(db, "import_runs"))
    data = tmp_path / "big.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in generate_students("TX", 20_000, 9)))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "node", "import", "-c", str(pair.config("TX")),
                             "--no-progress", str(data)], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    wal = Path(f"{db}-wal")
    start_size = wal.stat().st_size if wal.exists() else 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if wal.exists() and wal.stat().st_size > start_size + 2 * 1024 * 1024:
            break  # the import's transaction is being written
        time.sleep(0.02)
    killed_mid_write = proc.poll() is None
    os.killpg(proc.pid, signal.SIGKILL)
    pair.nodes["TX"].stop(kill=True)
    proc.wait(10)
    assert killed_mid_write, "the import finished before it could be killed"
    assert _integrity(db) == "ok"
    after = (count_rows(db, "students"), count_rows(db, "import_runs"))
    assert after == before  # nothing of the killed import is visible
    pair.start_node("TX")  # the node starts again on the recovered database
    assert "TX" in pair.find("CA", **ANA, timeout=5)[1]["answered"]


def _burst(fed: Federation, stop: threading.Event, errors: list[str]) -> None:
    while not stop.is_set():
        try:
            fed.find("CA", **ANA, timeout=2)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            errors.append(type(exc).__name__)


def _entries(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "entries.jsonl").read_text().splitlines()]


def test_kill9_during_exchanges_keeps_the_log_verifiable(pair: Federation,
                                                         tmp_path: Path) -> None:
    stop = threading.Event()
    errors: list[str] = []
    threads = [threading.Thread(target=_burst, args=(pair, stop, errors)) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    pair.nodes["TX"].stop(kill=True)
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(30)
    pair.nodes["CA"].stop()
    tx_cfg = load_config(pair.config("TX"))
    assert _integrity(tx_cfg.storage.database) == "ok"
    assert _integrity(tx_cfg.storage.exchange_log) == "ok"
    exports = {}
    for state in ("TX", "CA"):
        out = tmp_path / f"export-{state}"
        pair.cli("audit", "export", "-c", str(pair.config(state)), str(out))
        verified = pair.cli("audit", "verify", str(out), check=False)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        exports[state] = _entries(out)
    tx_out = {e["message_id"] for e in exports["TX"] if e["direction"] == "out"}
    tx_in = {e["message_id"] for e in exports["TX"] if e["direction"] == "in"}
    replies = [e for e in exports["CA"] if e["direction"] == "in" and e["peer"] == "TX"]
    assert len(replies) >= 5
    for reply in replies:  # every reply CA received was logged by TX before it left
        assert reply["message_id"] in tx_out
        assert reply["reply_to"] in tx_in
    pair.start_node("TX")
    pair.start_node("CA")
    assert "TX" in pair.find("CA", **ANA, timeout=5)[1]["answered"]
    for state in ("TX", "CA"):  # no student data in the logs
        text = (pair.node_dir(state) / "node.log").read_text()
        assert "Ruiz" not in text and "2011-05-06" not in text


def test_peer_frozen_then_stopped_mid_find(federation: Federation) -> None:
    ca = federation.nodes["CA"]
    assert ca.popen is not None
    os.kill(ca.popen.pid, signal.SIGSTOP)  # accepts connections, never answers
    try:
        started = time.monotonic()
        _, summary = federation.find("TX", **ANA, timeout=2)
        assert time.monotonic() - started < 8
        assert "FL" in summary["answered"]
        assert "CA" in summary["timed_out"] or "CA" in summary["failed"]
        status = federation.control("TX", "/local/v1/status")
        health = {p["peer"]: p for p in status["peers"]}
        assert health["CA"]["failures"] >= 1 and health["FL"]["failures"] == 0
    finally:
        os.kill(ca.popen.pid, signal.SIGCONT)
    _, summary = federation.find("TX", **ANA, timeout=5)
    assert sorted(summary["answered"]) == ["CA", "FL"]
    ca.stop()
    _, summary = federation.find("TX", **ANA, timeout=2)
    assert summary["answered"] == ["FL"] and "CA" in summary["failed"]
    federation.start_node("CA")
    _, summary = federation.find("TX", **ANA, timeout=5)
    assert sorted(summary["answered"]) == ["CA", "FL"]
    health = {p["peer"]: p for p in federation.control("TX", "/local/v1/status")["peers"]}
    assert health["CA"]["failures"] == 0 and not health["CA"]["in_backoff"]


def test_clock_beyond_the_bound_is_rejected_and_visible(federation: Federation) -> None:
    ahead = int(time.time() * 1000) + 10 * 60_000  # ten minutes ahead; the bound is 30 s
    status, payload, _ = federation.post_raw("TX", _sealed_find(federation, "FL", "TX",
                                                                now_ms=ahead))
    assert status == 400
    body = json.loads(payload)
    assert body["error"] == "not_yet_valid" and "future" in body["message"]
    live = federation.control("TX", "/local/v1/status")
    assert live["clock"]["rejected_not_yet_valid"] >= 1
    assert live["rejections"]["not_yet_valid"] >= 1
    doctor = federation.cli("doctor", "-c", str(federation.config("TX")), check=False)
    assert "future-dated" in doctor.stdout and "NTP" in doctor.stdout


def test_directory_unreachable_then_expired(tmp_path: Path) -> None:
    fed = Federation(tmp_path, ["TX", "CA"], background=5, snapshot_lifetime="14s").create()
    with fed.config("TX").open("a") as f:
        f.write('[logging]\nformat = "json"\n')
    fed.start()
    try:
        assert fed.directory is not None
        fed.directory.stop()
        fed.run_job("TX", "directory_refresh")
        _, summary = fed.find("TX", **ANA, timeout=3)  # keeps working on the cached copy
        assert summary["answered"] == ["CA"]
        live = fed.control("TX", "/local/v1/status")["directory"]
        assert live["usable"] is True and live["warning"] is True
        assert live["last_refresh_error"]  # the directory URL failed (a peer mirrored it)
        doctor = fed.cli("doctor", "-c", str(fed.config("TX")), check=False)
        assert doctor.returncode == 0, doctor.stdout
        assert "WARN  directory" in doctor.stdout and "expires soon" in doctor.stdout
        expires = live["expires_in_s"]
        time.sleep(max(0.0, expires) + 1)
        with pytest.raises(urllib.error.HTTPError) as info:
            fed.find("TX", **ANA)
        assert info.value.code == 503 and "expired" in json.loads(info.value.read())["error"]
        live = fed.control("TX", "/local/v1/status")["directory"]
        assert live["usable"] is False and "expired" in live["reason"]
        doctor = fed.cli("doctor", "-c", str(fed.config("TX")), check=False)
        assert doctor.returncode == 1
        assert "FAIL  directory" in doctor.stdout and "expired" in doctor.stdout
        assert "fix: make sure the directory" in doctor.stdout
    finally:
        fed.stop()
    _assert_structured_logs_without_student_data(fed.node_dir("TX") / "node.log")


def _assert_structured_logs_without_student_data(path: Path) -> None:
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]
    assert any("directory" in rec["msg"] for rec in lines)
    for rec in lines:
        assert {"ts", "level", "logger", "msg"} <= set(rec)
        assert "Ruiz" not in rec["msg"] and "2011-05-06" not in rec["msg"]


# ---- storage faults (in process, on the real store and importer) ------------------

def _records(tmp_path: Path, n: int, seed: int) -> Path:
    path = tmp_path / f"records-{seed}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in generate_students("TX", n, seed)))
    return path


def _mount(args: list[str]) -> bool:
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", *args], capture_output=True, check=False).returncode == 0


def test_read_only_database_gives_a_clear_error(node_dir: Path, tmp_path: Path) -> None:
    cfg = load_config(node_dir / "node.toml")
    with Store(cfg.storage.database) as store:
        import_files(store, [_records(tmp_path, 10, 1)], owner_state="TX", progress=False)
    data = _records(tmp_path, 50, 2)
    if os.geteuid() != 0:  # permissions bind only non-root users
        cfg.storage.database.chmod(0o444)
        cfg.storage.database.parent.chmod(0o555)
        cleanup = [lambda: cfg.storage.database.parent.chmod(0o755)]
    else:
        mnt = tmp_path / "ro"
        mnt.mkdir()
        if not _mount(["--bind", str(node_dir), str(mnt)]):
            pytest.fail("running as root, but `mount --bind` failed: this test needs a "
                        "read-only bind mount (is the sandbox missing CAP_SYS_ADMIN?)")
        cleanup = [lambda: subprocess.run(["umount", "-l", str(mnt)], check=False)]
        assert _mount(["-o", "remount,ro,bind", str(mnt)])
        cfg = load_config(mnt / "node.toml")
    try:
        with pytest.raises(StorageError) as info:
            with Store(cfg.storage.database) as store:
                import_files(store, [data], owner_state="TX", progress=False)
        assert str(cfg.storage.database) in str(info.value)
        assert "nothing was saved" in str(info.value)
        check = check_database(cfg.storage.database, "node database", False)
        assert check.status == "fail" and "read-only" in check.message
    finally:
        for fn in cleanup:
            fn()
    db = load_config(node_dir / "node.toml").storage.database
    assert _integrity(db) == "ok" and count_rows(db, "students") == 10


@pytest.mark.parametrize("how", ["max_page_count", "tmpfs"])
def test_full_disk_gives_a_clear_error(tmp_path: Path, how: str) -> None:
    from node.ops.node_folder import write_node

    folder = tmp_path / "node"
    if how == "tmpfs":
        folder.mkdir()
        if os.geteuid() != 0:
            pytest.fail("the tmpfs case mounts a 3 MB tmpfs and needs root (CI runs as root)")
        if not _mount(["-t", "tmpfs", "-o", "size=3m", "tmpfs", str(folder)]):
            pytest.fail("running as root, but mounting a 3 MB tmpfs failed "
                        "(is the sandbox missing CAP_SYS_ADMIN?)")
    try:
        write_node(folder, state="TX", name="Texas", endpoint="http://127.0.0.1:0")
        cfg = load_config(folder / "node.toml")
        with Store(cfg.storage.database) as store:
            import_files(store, [_records(tmp_path, 10, 1)], owner_state="TX", progress=False)
            if how == "max_page_count":
                pages = store.call(lambda db: db.execute("PRAGMA page_count").fetchone()[0])
                store.call(lambda db: db.execute(f"PRAGMA max_page_count={pages + 20}"))
            with pytest.raises(StorageError, match="full; nothing was saved"):
                import_files(store, [_records(tmp_path, 3000, 3)], owner_state="TX",
                             progress=False, workers=0)
        assert _integrity(cfg.storage.database) == "ok"
        assert count_rows(cfg.storage.database, "students") == 10
        assert count_rows(cfg.storage.database, "import_runs") == 1
    finally:
        if how == "tmpfs":
            subprocess.run(["umount", "-l", str(folder)], check=False)
