"""node.db made by the release before the Ed-Fi pull gains its change-version table.

tests/node/data/node-db-before-edfi.sql is the dump of a node.db written by that release
(commit ffe564f: all its migrations, 3 synthetic students, a record handle given to CA).
Opening it with this release applies m004_edfi_change_versions and keeps every row; a
key change of the pull renames a student, handle included.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from node.store import accounts, federation_tables, link_tables
from node.store.database import Store, last_change_version, save_change_version
from node.store.record_upsert import delete_students, rename_student

DUMP = Path(__file__).resolve().parent / "data" / "node-db-before-edfi.sql"


def _old_db(tmp_path: Path) -> Path:
    path = tmp_path / "node.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(DUMP.read_text(encoding="utf-8"))
    return path


def test_previous_release_database_is_migrated_in_place(tmp_path: Path) -> None:
    path = _old_db(tmp_path)
    with sqlite3.connect(path) as conn:
        # match_keys is re-derived by m005_match_forms (tests/node/test_match_migration.py)
        columns = {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")]
                   for t in ("students", "enrollments", "record_handles")}
        before = {t: conn.execute(f"SELECT {', '.join(c)} FROM {t} ORDER BY 1").fetchall()
                  for t, c in columns.items()}
        assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = "
                                "'edfi_change_versions'").fetchone()
    with Store(path) as store:
        for apply in (federation_tables.apply_migrations, accounts.apply_migrations,
                      link_tables.apply_migrations):
            store.call(apply)
        assert store.call(last_change_version, "https://edfi.example/api") is None
        store.call(lambda db: db.execute("INSERT INTO import_runs (started_at, finished_at, "
                                         "files, students, inserted, updated, unchanged, "
                                         "rejected) VALUES ('a', 'b', '[]', 0, 0, 0, 0, 0)"))
        store.call(save_change_version, "https://edfi.example/api", 41, 1)
        store.call(save_change_version, "https://edfi.example/api", 42, 1)
        assert store.call(last_change_version, "https://edfi.example/api") == 42
    with sqlite3.connect(path) as conn:
        for table, rows in before.items():
            assert conn.execute(f"SELECT {', '.join(columns[table])} FROM {table} "
                                "ORDER BY 1").fetchall() == rows
        applied = [r[0] for r in conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = 'statenode' ORDER BY id")]
        assert applied[-2:] == ["m004_edfi_change_versions", "m005_match_forms"]


def test_rename_and_delete_on_a_previous_release_database(tmp_path: Path) -> None:
    path = _old_db(tmp_path)
    with sqlite3.connect(path) as conn:
        (old,) = conn.execute("SELECT state_student_id FROM record_handles").fetchone()
        others = [r[0] for r in conn.execute(
            "SELECT state_student_id FROM students WHERE state_student_id != ?", [old])]
    with Store(path) as store:
        assert store.call(rename_student, old, "TXRENAMED1") is True
        assert store.call(rename_student, others[0], "TXRENAMED1") is False  # taken
        assert store.call(delete_students, [others[1], "TXNOSUCH"]) == 1
        renamed = store.get_student("TXRENAMED1")
        assert renamed["record_version"] == 1 and renamed["enrollments"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT state_student_id FROM record_handles").fetchone() == (
            "TXRENAMED1",)
        assert conn.execute("SELECT count(*) FROM qualifying_moves WHERE student_id NOT IN "
                            "(SELECT id FROM students)").fetchone() == (0,)
