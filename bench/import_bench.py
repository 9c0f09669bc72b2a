"""Import throughput: the real importer path against a plain sqlite3.executemany.

Generates N synthetic students (default 100,000), writes them as JSON Lines (or, with
`--format csv`, as a folder of CSV tables), imports them through
`node.importing.importer.import_files` (parse, validate, blocking keys, one transaction, no
progress bar) into a fresh store, then in the same run inserts exactly the rows the
importer wrote (students, child tables, match keys) with plain `executemany` into a
fresh database with the same schema, in one transaction. Prints rows/s and the ratio,
plus the CPU seconds of each side (the importer's include its worker processes) and the
load average, since other jobs on the machine move the wall-clock figures.

    PYTHONPATH=. python bench/import_bench.py [--count N] [--format jsonl|csv]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from node.importing.importer import import_files
from node.importing.synthetic import generate_students
from node.store.database import Store

TABLES = ("students", "qualifying_moves", "enrollments", "courses", "assessments", "match_keys")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="import-bench-"))
    try:
        run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # ~0.5 GB of inputs and databases


def run(args: argparse.Namespace, tmp: Path) -> None:
    t0 = time.perf_counter()
    students = generate_students("TX", args.count, seed=1)
    if args.format == "csv":
        from node.cli.data import write_csv_tables

        src = tmp / "tx-csv"
        write_csv_tables(src, students)
    else:
        src = tmp / "tx.jsonl"
        with src.open("w", encoding="utf-8") as fh:
            for s in students:
                fh.write(json.dumps(s, ensure_ascii=False) + "\n")
    del students  # the importer's process should not carry the generator's data
    print(f"generated {args.count} {args.format} students in {time.perf_counter() - t0:.1f} s")

    store = Store(tmp / "import.db")
    load_before = Path("/proc/loadavg").read_text().split()[0]
    cpu0 = _cpu()
    t0 = time.perf_counter()
    # the report aggregates (recomputed after each run) are timed by bench/report_bench.py
    report = import_files(store, [src], owner_state="TX", progress=False,
                          write_rejects_files=False, refresh_reports=False)
    t_import = time.perf_counter() - t0
    cpu_import = _cpu() - cpu0
    rows = {t: store.count(t) for t in TABLES}
    total = sum(rows.values())
    # Dump the rows the importer wrote, then replay them with plain executemany.
    data = {t: store.call(lambda db, t=t: db.execute(f"SELECT * FROM {t}").fetchall())
            for t in TABLES}
    cols = {t: store.call(lambda db, t=t: [c[1] for c in db.execute(
        f"PRAGMA table_info({t})").fetchall()]) for t in TABLES}
    schema = store.call(lambda db: [r[0] for r in db.execute(
        "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL "
        "AND tbl_name NOT LIKE '%sqlite%'").fetchall()])
    store.close()
    assert report.result.inserted == args.count and not report.rejects

    conn = sqlite3.connect(tmp / "plain.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    for sql in schema:
        conn.execute(sql)
    cpu0 = _cpu()
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    for t in TABLES:
        marks = ",".join("?" * len(cols[t]))
        conn.executemany(f"INSERT INTO {t} VALUES ({marks})", data[t])
    conn.execute("COMMIT")
    t_plain = time.perf_counter() - t0
    cpu_plain = _cpu() - cpu0
    conn.close()

    print(f"rows written: {total} ({', '.join(f'{t} {n}' for t, n in rows.items())})")
    print(f"importer ({args.format}: parse+validate+keys+upsert): {t_import:.2f} s, "
          f"{total / t_import:,.0f} rows/s, {args.count / t_import:,.0f} students/s, "
          f"{cpu_import:.2f} CPU s")
    print(f"plain executemany, same rows:          {t_plain:.2f} s, "
          f"{total / t_plain:,.0f} rows/s, {cpu_plain:.2f} CPU s")
    print(f"ratio importer/plain: {t_plain / t_import:.2f} (target >= 0.5); "
          f"load average {load_before} -> {Path('/proc/loadavg').read_text().split()[0]}")


def _cpu() -> float:
    """User + system seconds of this process and of its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


if __name__ == "__main__":
    main()
