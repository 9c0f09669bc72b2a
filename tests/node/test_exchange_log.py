"""ExchangeLog: appends, group commit, proofs, checkpoints, crash safety, RFC 9162 vectors."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crypto import merkle
from crypto.checkpoint import open_checkpoint, parse_tlog_proof, verify_tlog_proof
from crypto.errors import ProofError
from crypto.merkle_verify import verify_consistency, verify_inclusion
from node.audit.export_files import verify_folder
from node.errors import NotFound, StorageError
from tests.node.auditlog_helpers import FIND, Federation, entry_for, exchange, seal

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "crypto" / "vectors" / "rfc9162"


@pytest.fixture
def fed() -> Federation:
    return Federation()


def make_entries(fed: Federation, n: int) -> list:  # type: ignore[type-arg]
    return [entry_for(seal(fed, "TX", "CA", FIND), "TX", students=(f"s{i % 3}",))
            for i in range(n)]


def test_append_proofs_match_memory_tree(fed: Federation, tmp_path: Path) -> None:
    log = fed.open_log(tmp_path, "TX")
    tree = merkle.MemoryTree()
    for i, e in enumerate(make_entries(fed, 21)):
        assert log.append_sync(e) == i
        tree.append(e.to_leaf())
    for size in (1, 2, 7, 8, 13, 21):
        assert log.root(size) == tree.root(size)
        for index in (0, size // 2, size - 1):
            assert log.inclusion_proof(index, size) == tree.inclusion_proof(index, size)
        for old in range(1, size + 1, 3):
            assert log.consistency_proof(old, size) == tree.consistency_proof(old, size)
    with pytest.raises(NotFound):
        log.inclusion_proof(21, 21)
    with pytest.raises(NotFound):
        log.consistency_proof(3, 22)
    with pytest.raises(NotFound):
        log.entry(99)
    assert log.entry(4).signer == "TX"
    hist = log.history("s1")
    assert [h["index"] for h in hist] == [1, 4, 7, 10, 13, 16, 19]
    assert hist[0]["user_id"] == "u17" and hist[0]["peer"] == "CA"
    log.close()


async def test_concurrent_appends_share_commits(fed: Federation, tmp_path: Path) -> None:
    log = fed.open_log(tmp_path, "TX")
    writes: list[int] = []
    real = log._write

    def counting(entries):  # type: ignore[no-untyped-def]
        writes.append(len(entries))
        return real(entries)

    log._write = counting  # type: ignore[method-assign]
    entries = make_entries(fed, 200)
    indexes = await asyncio.gather(*(log.append(e) for e in entries))
    assert sorted(indexes) == list(range(200))
    assert sum(writes) == 200 and len(writes) < 200  # batched into shared transactions
    for i, e in zip(indexes, entries, strict=True):
        assert log.entry(i) == e
    log.close()


def test_checkpoints_never_inconsistent(fed: Federation, tmp_path: Path) -> None:
    log = fed.open_log(tmp_path, "TX")
    verifier = log.signer.verifier()
    empty = log.latest_checkpoint()
    assert open_checkpoint(empty, [verifier], origin="TX").checkpoint.size == 0
    for e in make_entries(fed, 5):
        log.append_sync(e)
    note = log.sign_checkpoint()
    cp = open_checkpoint(note, [verifier], origin="TX").checkpoint
    assert (cp.size, cp.root) == (5, log.root(5))
    assert log.sign_checkpoint() == note  # unchanged size: the same checkpoint
    for e in make_entries(fed, 3):
        log.append_sync(e)
    # tamper with a stored tree node under the signed checkpoint: signing must refuse
    log._call(lambda: log.db.conn.execute(
        "UPDATE nodes SET hash = ? WHERE level = 3 AND idx = 0", (b"\x00" * 32,)))
    with pytest.raises(StorageError, match="refusing to sign a checkpoint of size 8"):
        log.sign_checkpoint()
    assert open_checkpoint(log.latest_checkpoint(), [verifier]).checkpoint.size == 5
    log.close()


def test_receipt_is_a_verifiable_tlog_proof(fed: Federation, tmp_path: Path) -> None:
    log = fed.open_log(tmp_path, "TX")
    entries = make_entries(fed, 9)
    for e in entries:
        log.append_sync(e)
    text = log.receipt(6)
    proof = parse_tlog_proof(text)
    assert proof.index == 6
    verify_tlog_proof(text, merkle.leaf_hash(entries[6].to_leaf()), log.signer.verifier())
    with pytest.raises(ProofError):
        verify_tlog_proof(text, merkle.leaf_hash(entries[5].to_leaf()), log.signer.verifier())
    with pytest.raises(NotFound):
        log.receipt(9)
    log.close()


def test_reopen_repairs_missing_tree_nodes(fed: Federation, tmp_path: Path) -> None:
    log = fed.open_log(tmp_path, "TX")
    for e in make_entries(fed, 11):
        log.append_sync(e)
    root = log.root()
    log._call(lambda: log.db.conn.execute("DELETE FROM nodes WHERE level = 0 AND idx >= 9"))
    log.close()
    log = fed.open_log(tmp_path, "TX")
    assert log.size == 11 and log.root() == root
    log._call(lambda: log.db.conn.execute("DELETE FROM leaves WHERE idx = 3"))
    log.close()
    with pytest.raises(StorageError, match="has gaps"):
        fed.open_log(tmp_path, "TX")


# --- RFC 9162 vectors through the node's proof code ----------------------------------------

REFERENCE_LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]


def _vector_files(kind: str) -> list[Path]:
    return sorted((VECTORS / kind).rglob("*.json"))


def _b64s(items: list[str] | None) -> list[bytes]:
    return [base64.b64decode(x) for x in items or []]


def test_rfc9162_vectors_through_the_stored_tree(fed: Federation, tmp_path: Path) -> None:
    """The reference 8-leaf tree stored the way `append` stores it reproduces every
    happy-path vector; every vector (tampered ones too) gets the right verdict from the
    verifier the witness and `audit verify` use."""
    inclusion, consistency = _vector_files("inclusion"), _vector_files("consistency")
    assert len(inclusion) > 90 and len(consistency) > 90
    log = fed.open_log(tmp_path, "TX")

    def store() -> None:
        cache: dict[tuple[int, int], bytes] = {}
        for size, leaf in enumerate(REFERENCE_LEAVES):
            for level, idx, h in merkle.nodes_completed_by_append(
                    size, merkle.leaf_hash(leaf), log._read_node(cache)):
                cache[(level, idx)] = h
                log.db.conn.execute("INSERT INTO nodes VALUES (?, ?, ?)", (level, idx, h))
        log._size = len(REFERENCE_LEAVES)

    log._call(store)
    assert log.root(8).hex() == ("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960"
                                 "cfe370eff4604328")
    checked = 0
    for path in inclusion:
        v = json.loads(path.read_text())
        args = (base64.b64decode(v["leafHash"]), v["leafIdx"], v["treeSize"],
                _b64s(v["proof"]), base64.b64decode(v["root"]))
        if v["wantErr"]:
            with pytest.raises(ProofError):
                verify_inclusion(*args)
            continue
        verify_inclusion(*args)
        if v["treeSize"] <= 8 and args[0] == merkle.leaf_hash(REFERENCE_LEAVES[v["leafIdx"]]):
            assert log.inclusion_proof(v["leafIdx"], v["treeSize"]) == args[3]
            checked += 1
    for path in consistency:
        v = json.loads(path.read_text())
        args = (v["size1"], v["size2"], base64.b64decode(v["root1"]),
                base64.b64decode(v["root2"]), _b64s(v["proof"]))
        if v["wantErr"]:
            with pytest.raises(ProofError):
                verify_consistency(*args)
            continue
        verify_consistency(*args)
        if 0 < v["size1"] <= v["size2"] <= 8 and args[3] == log.root(v["size2"]):
            assert log.consistency_proof(v["size1"], v["size2"]) == args[4]
            checked += 1
    assert checked >= 8
    log.close()


# --- kill -9 under load ------------------------------------------------------------------

CHILD = textwrap.dedent("""
    import asyncio, sys
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from tests.node.auditlog_helpers import FIND, Federation, entry_for, seal
    fed = Federation()
    log = fed.open_log(Path({folder!r}), "TX")

    async def worker():
        while True:
            e = entry_for(seal(fed, "TX", "CA", FIND), "TX")
            i = await log.append(e)
            print(i, e.message_id.hex(), flush=True)

    async def main():
        await asyncio.gather(*(worker() for _ in range(16)))

    asyncio.run(main())
""")


def test_kill_9_keeps_every_acknowledged_entry(fed: Federation, tmp_path: Path) -> None:
    script = CHILD.format(root=str(ROOT), folder=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    acked: dict[int, str] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        index, mid = line.split()
        acked[int(index)] = mid
        if len(acked) >= 400:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    rest = proc.stdout.read()
    for line in rest.splitlines():
        if line.strip():
            index, mid = line.split()
            acked[int(index)] = mid
    log = fed.open_log(tmp_path, "TX")
    assert log.size >= max(acked) + 1
    for index, mid in acked.items():
        assert log.entry(index).message_id.hex() == mid
    log.sign_checkpoint()
    log.export(tmp_path / "export", fed.snapshot(), fed.authority.public)
    log.close()
    assert verify_folder(tmp_path / "export") == []


def test_exchange_helpers_log_both_sides(fed: Federation, tmp_path: Path) -> None:
    logs = {n: fed.open_log(tmp_path, n) for n in ("TX", "CA")}
    exchange(fed, logs, "TX", "CA", 1)
    assert logs["TX"].size == 2 and logs["CA"].size == 2
    assert logs["CA"].history("ca-1")[0]["direction"] == "out"
    for log in logs.values():
        log.close()


def test_migration_m002_keys_checkpoints_and_witnessed_logs_by_origin(tmp_path) -> None:
    """An exchange log of the previous release (schema m001 only, origin = node id) opens
    with this release: every checkpoint and witnessed note gets its origin from its first
    line, nothing is lost, and the log signs on under a new origin consistently."""
    import sqlite3

    from sqlite_utils import Database, Migrations

    from node.audit import log_store
    from node.audit.exchange_log import ExchangeLog
    from tests.node.auditlog_helpers import Federation, exchange

    fed = Federation()
    path = tmp_path / "old.db"
    old = Migrations("exchange_log")  # what the previous release applied: m001 alone
    old()(log_store.m001_log)
    db = Database(sqlite3.connect(path))
    old.apply(db)
    db.conn.close()
    # fill it the way the previous release did: a log with origin "TX" and a witnessed peer
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO checkpoints VALUES (0, ?, ?, 1, '')",
                 (b"\x00" * 32, "TX\n0\nAAAA\n\n— TX x\n"))
    conn.execute("INSERT INTO witnessed VALUES ('CA', 3, ?, ?, 5)",
                 (b"\x01" * 32, "CA\n3\nAQEB\n\n— CA y\n— TX z\n"))
    conn.commit()
    conn.close()
    log = ExchangeLog(path, fed.signing["TX"], "statenode.tea.example/TX/log", node_id="TX")
    try:
        rows = log.db.conn.execute("SELECT origin, size FROM checkpoints").fetchall()
        assert rows == [("TX", 0)]
        assert log.witnessed("CA") == (3, b"\x01" * 32, "CA\n3\nAQEB\n\n— CA y\n— TX z\n")
        assert log.db.conn.execute("SELECT peer FROM witnessed").fetchall() == [("CA",)]
        exchange(fed, {"TX": log}, "TX", "CA", 1)
        note = log.sign_checkpoint()
        assert note.startswith("statenode.tea.example/TX/log\n2\n")
        assert log.checkpoint_note(0, origin="TX") == "TX\n0\nAAAA\n\n— TX x\n"
    finally:
        log.close()
