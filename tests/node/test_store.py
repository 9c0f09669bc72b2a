"""The SQLite store (node/store/database.py): schema, upsert, versions, atomicity, errors."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import pytest

from node.errors import NotFound, StorageError
from node.importing.synthetic import generate_students
from node.store.database import Store
from node.store.record_upsert import upsert_students
from protocol.records import validate_student


def keys(record: Any) -> list[str]:
    return [f"d:{record['birth_date']}", f"s:{record['last_name_1'].lower()}"]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store(tmp_path / "node.db") as s:
        yield s


@pytest.fixture(scope="module")
def raw() -> list[dict[str, Any]]:
    return generate_students("TX", 40, seed=5)


def valid(raw: list[dict[str, Any]]) -> list[Any]:
    return [validate_student(r, owner_state="TX") for r in raw]


def snapshot(store: Store) -> dict[str, int]:
    return {t: store.count(t) for t in ("students", "qualifying_moves", "enrollments",
                                        "courses", "assessments", "match_keys")}


def test_pragmas_and_migrations(store: Store, tmp_path: Path) -> None:
    db = store.db
    assert store.call(lambda d: d.execute("PRAGMA journal_mode").fetchone()[0]) == "wal"
    assert store.call(lambda d: d.execute("PRAGMA foreign_keys").fetchone()[0]) == 1
    assert {"students", "courses", "match_keys", "import_runs"} <= set(db.table_names())
    store.close()
    with Store(tmp_path / "node.db") as again:  # migrations re-apply safely
        assert again.count("students") == 0


def test_upsert_then_unchanged_then_changed(store: Store, raw: list[dict[str, Any]]) -> None:
    first = store.upsert_students(valid(raw), keys_fn=keys)
    assert (first.inserted, first.updated, first.unchanged) == (40, 0, 0)
    before = snapshot(store)
    again = store.upsert_students(valid(raw), keys_fn=keys)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 40)
    assert snapshot(store) == before
    sid = raw[0]["state_student_id"]
    assert store.get_student(sid)["record_version"] == 1
    changed = copy.deepcopy(raw[0])
    changed["first_name"] = "Otro"
    changed["assessments"] = []
    res = store.upsert_students(valid([changed]), keys_fn=keys)
    assert (res.inserted, res.updated, res.unchanged) == (0, 1, 0)
    got = store.get_student(sid)
    assert got["record_version"] == 2 and got["first_name"] == "Otro"
    assert got["assessments"] == []
    assert store.count("students") == 40
    assert store.count("match_keys") == before["match_keys"]


def test_get_student_round_trip(store: Store, raw: list[dict[str, Any]]) -> None:
    store.upsert_students(valid(raw), keys_fn=keys)
    for record in raw[:10]:
        got = store.get_student(record["state_student_id"])
        expected = validate_student(record, owner_state="TX").to_dict()
        assert got.pop("record_version") == 1
        assert got == expected
    with pytest.raises(NotFound, match="no student with state_student_id NOPE"):
        store.get_student("NOPE")


def test_candidates_by_keys(store: Store, raw: list[dict[str, Any]]) -> None:
    store.upsert_students(valid(raw), keys_fn=keys)
    target = raw[3]
    hits = store.candidates_by_keys(keys(target), limit=5)
    assert hits[0]["key_hits"] == 2
    assert target["state_student_id"] in {h["state_student_id"] for h in hits}
    assert store.candidates_by_keys([], limit=5) == []


def test_cascade_delete(store: Store, raw: list[dict[str, Any]]) -> None:
    store.upsert_students(valid(raw), keys_fn=keys)
    store.call(lambda db: db.execute("DELETE FROM students"))
    assert set(snapshot(store).values()) == {0}


def test_failure_mid_upsert_rolls_back(store: Store, raw: list[dict[str, Any]]) -> None:
    store.upsert_students(valid(raw[:10]), keys_fn=keys)
    before = snapshot(store)
    calls = 0

    def exploding(record: Any) -> list[str]:
        nonlocal calls
        calls += 1
        if calls > 20:
            raise RuntimeError("injected fault")
        return keys(record)

    changed = copy.deepcopy(raw)
    for r in changed:
        r["first_name"] = "Cambio"
    with pytest.raises(RuntimeError, match="injected"):
        store.upsert_students(valid(changed), keys_fn=exploding)
    assert snapshot(store) == before
    assert store.get_student(raw[0]["state_student_id"])["record_version"] == 1


def test_disk_full_is_storage_error_and_rolls_back(store: Store,
                                                   raw: list[dict[str, Any]]) -> None:
    store.upsert_students(valid(raw[:2]), keys_fn=keys)
    before = snapshot(store)
    pages = store.call(lambda db: db.execute("PRAGMA page_count").fetchone()[0])
    store.call(lambda db: db.execute(f"PRAGMA max_page_count={pages + 1}"))
    many = valid(generate_students("TX", 400, seed=9))
    with pytest.raises(StorageError, match="full; nothing was saved"):
        store.upsert_students(many, keys_fn=keys)
    store.call(lambda db: db.execute("PRAGMA max_page_count=1073741823"))
    assert snapshot(store) == before


def test_read_only_is_storage_error(store: Store, raw: list[dict[str, Any]]) -> None:
    store.call(lambda db: db.execute("PRAGMA query_only=ON"))
    with pytest.raises(StorageError, match="read-only"):
        store.upsert_students(valid(raw[:3]), keys_fn=keys)
    store.call(lambda db: db.execute("PRAGMA query_only=OFF"))
    assert store.count("students") == 0


def test_open_failure_is_storage_error(tmp_path: Path) -> None:
    (tmp_path / "bad.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError, match=r"bad.db"):
        Store(tmp_path / "bad.db")


def test_async_run_uses_the_writer_thread(store: Store, raw: list[dict[str, Any]]) -> None:
    import threading

    async def go() -> tuple[Any, str]:
        res = await store.run(lambda db, s: upsert_students(db, s, keys_fn=keys), valid(raw[:5]))
        name = await store.run(lambda db: threading.current_thread().name)
        return res, name

    res, name = asyncio.run(go())
    assert res.inserted == 5 and name.startswith("store")
    assert store.count("students") == 5


def test_duplicates_in_one_batch_keep_the_last(store: Store, raw: list[dict[str, Any]]) -> None:
    other = copy.deepcopy(raw[0])
    other["first_name"] = "Último"
    res = store.upsert_students(valid([raw[0], other]), keys_fn=keys)
    assert res.inserted == 1
    assert store.get_student(raw[0]["state_student_id"])["first_name"] == "Último"


def test_two_processes_writing_wait_for_each_other(tmp_path: Path) -> None:
    """`statenode import` next to the running node: a transaction that reads and then
    writes is not refused because the other connection wrote in between (BEGIN
    IMMEDIATE takes the write lock first; the other side waits its busy timeout)."""
    import threading
    import time

    run = ("INSERT INTO import_runs (started_at, finished_at, files, students, inserted, "
           "updated, unchanged, rejected) VALUES ('a', 'b', '[]', 0, 0, 0, 0, 0)")
    with Store(tmp_path / "node.db") as node, Store(tmp_path / "node.db") as cli:
        done: list[str] = []

        def node_writes() -> None:
            node.call(lambda db: db.execute(run))
            done.append("node")

        def reads_then_writes(db: Any) -> threading.Thread:
            db.execute("SELECT count(*) FROM students").fetchone()
            other = threading.Thread(target=node_writes)
            other.start()
            time.sleep(0.2)  # the node tries to write meanwhile: it must wait, not win
            db.execute(run)
            return other

        other = cli.call(reads_then_writes)
        other.join(10)
        assert done == ["node"] and cli.count("import_runs") == 2


def test_a_soft_commit_does_not_change_the_store_s_durability(store: Store) -> None:
    """`run(..., durable=False)` (a find's record handles) commits without waiting for the
    disk, then the connection is FULL again for every other write (move notices, links,
    accounts)."""
    def write(db: Any) -> int:
        db.execute("CREATE TABLE IF NOT EXISTS t (x)")
        db.execute("INSERT INTO t VALUES (1)")
        return int(db.execute("PRAGMA synchronous").fetchone()[0])

    async def go() -> tuple[int, int, int]:
        soft = await store.run(write, durable=False)
        hard = await store.run(write)
        return soft, hard, await store.run(lambda db: db.execute(
            "SELECT count(*) FROM t").fetchone()[0])

    soft, hard, count = asyncio.run(go())
    assert (soft, hard, count) == (1, 2, 2)  # NORMAL inside the soft one, FULL after
