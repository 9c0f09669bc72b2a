"""The stored aggregates behind the report pages (issue 15 item 5).

Owns the `statenode.reports` migration set: `report_counts` (one row per cell of a
report: `report`, two keys, a count `n` and, where a cell is "n of m", its `m`),
`report_students` (one row per student with the bit masks of the data-quality elements
that apply to the student and that the student has, for the drill-down behind each cell)
and `report_meta` (when the aggregates were computed, for which day and after which
import run). The aggregates are computed by `node.importing.report_aggregates` at the end
of every import run (and so of every drop-folder import) and by `statenode reports
recompute`; the pages only read them, so a page costs the same at 100,000 students as at
ten. Functions take a `sqlite_utils.Database` and run on the store's writer thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlite_utils import Database, Migrations

migrations = Migrations("statenode.reports")


@migrations()
def m001_report_tables(db: Database) -> None:
    """The aggregate tables, empty: a database from before has no aggregates yet, so the
    first page asking for them (or `statenode reports recompute`, or the next import)
    computes them; `statenode doctor` says so until then."""
    db.execute("""CREATE TABLE report_counts (
  report TEXT NOT NULL, k1 TEXT NOT NULL, k2 TEXT NOT NULL, n INTEGER NOT NULL,
  m INTEGER, PRIMARY KEY (report, k1, k2))""")
    db.execute("""CREATE TABLE report_students (
  student_id INTEGER PRIMARY KEY, state_student_id TEXT NOT NULL, name TEXT NOT NULL,
  band TEXT NOT NULL, grade TEXT NOT NULL, applies INTEGER NOT NULL, have INTEGER NOT NULL)""")
    db.execute("CREATE INDEX report_students_band ON report_students (band)")
    db.execute("CREATE INDEX report_students_grade ON report_students (grade)")
    db.execute("CREATE TABLE report_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


def apply_migrations(db: Database) -> None:
    migrations.apply(db)


def replace_all(db: Database, counts: Iterable[tuple[str, str, str, int, int | None]],
                students: Iterable[tuple[int, str, str, str, str, int, int]],
                meta: dict[str, str]) -> None:
    """Replace every aggregate in one transaction (the caller's)."""
    db.execute("DELETE FROM report_counts")
    db.execute("DELETE FROM report_students")
    db.execute("DELETE FROM report_meta")
    db.conn.executemany("INSERT INTO report_counts (report, k1, k2, n, m) VALUES (?,?,?,?,?)",
                        counts)
    db.conn.executemany("INSERT INTO report_students (student_id, state_student_id, name, "
                        "band, grade, applies, have) VALUES (?,?,?,?,?,?,?)", students)
    db.conn.executemany("INSERT INTO report_meta (key, value) VALUES (?, ?)",
                        sorted(meta.items()))


def meta(db: Database) -> dict[str, str]:
    """When and for what the aggregates were computed; {} if never."""
    if not db["report_meta"].exists():
        return {}
    return {r["key"]: r["value"] for r in db.query("SELECT key, value FROM report_meta")}


def counts(db: Database, report: str) -> list[dict[str, Any]]:
    """The cells of one report, in key order."""
    return list(db.query("SELECT k1, k2, n, m FROM report_counts WHERE report = ? "
                         "ORDER BY k1, k2", [report]))


def last_import_run(db: Database) -> int:
    row = db.execute("SELECT max(id) FROM import_runs").fetchone()
    return int(row[0] or 0)


def is_stale(db: Database) -> str:
    """Why the aggregates are out of date ('' if they are not): never computed, or an
    import run finished since they were."""
    m = meta(db)
    if not m:
        return "the report aggregates were never computed"
    last = last_import_run(db)
    if int(m.get("import_run", "0")) < last:
        return f"import run {last} finished after the report aggregates were computed"
    return ""


def missing_children(db: Database, *, bit: int, band: str | None = None,
                     grade: str | None = None, limit: int = 500,
                     ) -> tuple[int, list[dict[str, Any]]]:
    """The children of one data-quality cell the element applies to but who lack it:
    (how many in all, the first `limit` by name)."""
    where = "(applies & ?) != 0 AND (have & ?) = 0"
    args: list[Any] = [bit, bit]
    if band is not None:
        where += " AND band = ?"
        args.append(band)
    if grade is not None:
        where += " AND grade = ?"
        args.append(grade)
    total = int(db.execute(f"SELECT count(*) FROM report_students WHERE {where}",  # noqa: S608
                           args).fetchone()[0])
    rows = list(db.query(f"SELECT state_student_id, name, band, grade FROM report_students "  # noqa: S608
                         f"WHERE {where} ORDER BY name, state_student_id LIMIT ?",
                         [*args, limit]))
    return total, rows
