"""Migration m005_match_forms on a database made by release 0.1.0 (issue 13 items 2, 10).

tests/node/data/node-db-0.1.0.sql is an SQL dump of a node database written by main's
code of release 0.1.0 (every room's migrations applied, 40 synthetic students imported
with that release's blocking keys and no stored normalized forms).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from node.app import MIGRATIONS
from node.matching.index import candidate_keys
from node.matching.normalize import norm_to_text, normalize
from node.ops.doctor import OK, WARN, check_migrations
from node.store.database import Store, pending_migrations
from node.store.record_reads import IDENTITY_COLUMNS, match_candidates

FIXTURE = Path(__file__).parent / "data" / "node-db-0.1.0.sql"


def old_database(tmp_path: Path) -> Path:
    path = tmp_path / "node.db"
    conn = sqlite3.connect(path)
    conn.executescript(FIXTURE.read_text(encoding="utf-8"))
    conn.close()
    return path


def test_doctor_names_the_pending_migration_then_none(tmp_path: Path) -> None:
    path = old_database(tmp_path)
    before = check_migrations(path)
    assert before.status == WARN
    assert "m005_match_forms (statenode)" in before.message
    assert "40 students" in before.message and "statenode serve" in before.fix
    with Store(path) as store:
        for apply in MIGRATIONS:
            store.call(apply)
        assert store.call(pending_migrations) == []
    after = check_migrations(path)
    assert after.status == OK, after.message


def test_backfill_rederives_keys_and_stores_normalized_forms(tmp_path: Path) -> None:
    path = old_database(tmp_path)
    conn = sqlite3.connect(path)
    old_keys = set(conn.execute("SELECT key FROM match_keys"))
    assert not any(k[0].startswith(("p:", "x:", "y:", "l:")) for k in old_keys)
    conn.close()
    with Store(path) as store:
        db = store.db
        cols = ", ".join(f'"{c}"' for c in IDENTITY_COLUMNS)
        rows = db.conn.execute(f"SELECT id, match_norm, {cols} FROM students").fetchall()
        assert len(rows) == 40
        for sid, stored, *values in rows:
            record = dict(zip(IDENTITY_COLUMNS, values, strict=True))
            assert stored == norm_to_text(normalize(record))
            keys = {k for (k,) in db.conn.execute(
                "SELECT key FROM match_keys WHERE student_id = ?", (sid,))}
            assert keys == set(candidate_keys(record))
        # Indexes dropped for the backfill are back.
        names = {r[0] for r in db.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'match_keys'")}
        assert {"idx_match_keys_key_student", "idx_match_keys_student"} <= names


def test_migrated_database_finds_a_child_with_two_typos(tmp_path: Path) -> None:
    path = old_database(tmp_path)
    with Store(path) as store:
        row = dict(zip(("state_student_id", "first_name", "last_name_1", "last_name_2",
                        "birth_date", "sex"), store.db.conn.execute(
            "SELECT state_student_id, first_name, last_name_1, last_name_2, birth_date, sex "
            "FROM students WHERE last_name_1 NOT LIKE '% %' AND length(last_name_1) >= 6 "
            "ORDER BY id LIMIT 1").fetchone(), strict=True))
        y, m, d = row["birth_date"].split("-")
        surname = row["last_name_1"]
        query = {"first_name": row["first_name"], "sex": row["sex"],
                 # one letter swapped in the middle of the surname, one digit of the day
                 "last_name_1": surname[:2] + surname[3] + surname[2] + surname[4:],
                 "birth_date": f"{y}-{m}-{(int(d) % 28) + 1:02d}"}
        found = store.call(lambda db: match_candidates(db, query, 5))
        assert found and found[0][1]["state_student_id"] == row["state_student_id"]
