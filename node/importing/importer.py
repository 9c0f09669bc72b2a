"""Import of a state's student records from CSV tables, JSON Lines or Ed-Fi XML (docs/IMPORT.md).

Owns the import run: sorting the inputs into JSON Lines files (`node.importing.json_lines`, read
in pieces by worker processes), CSV folders (`node.importing.csv_tables`) and the Ed-Fi
interchange files of the run, read together since their records join across files
(`node.importing.edfi_xml`, checked by `node.importing.edfi_check`), the single
transaction that upserts every valid student
(`node.store.record_upsert.upsert_prepared`) and records
the `import_runs` row with its rejects, and the rejects files written beside each input
(`<input>.rejects.csv` or `<input>.rejects.jsonl`: file, line, field, reason). A student
with any bad row is stored nowhere; a crash before the commit leaves the database
exactly as it was. The writer stores each piece as it comes back, in input order.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import json
import logging
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from node.errors import BadRequest, NodeError
from node.file_modes import open_private
from node.importing import report_aggregates
from node.importing.batch import ImportBatch, ProgressMeter
from node.importing.csv_tables import CSV_TABLES, assemble_csv_folder, checked_chunks, csv_students
from node.importing.edfi_assembly import EdfiSet, MigrantRule
from node.importing.edfi_check import checked_students
from node.importing.edfi_xml import READ_SHARE as EDFI_READ_SHARE
from node.importing.edfi_xml import read_edfi_files, sniff
from node.importing.json_lines import JSONL_SUFFIXES, jsonl_students, pieces, plan_pieces
from node.importing.workers import PARALLEL_MIN, can_send, start_pool
from node.store import reports
from node.store.database import Reject, Store
from node.store.record_upsert import KeysFn, Prepared, UpsertResult, default_keys, upsert_prepared
from node.store.sql import now_iso

log = logging.getLogger("statenode.import")


@dataclass(frozen=True)
class ImportReport:
    run_id: int
    files: tuple[str, ...]
    students: int  # valid students read
    result: UpsertResult
    rejects: tuple[Reject, ...]
    rejects_files: tuple[str, ...] = ()
    # (why, how many) of the records left out on purpose (Ed-Fi: students who are not
    # migrant children)
    skipped: tuple[tuple[str, int], ...] = ()

    @property
    def rejected_rows(self) -> int:
        return len({(r.file, r.line) for r in self.rejects})


FORMATS = ("auto", "jsonl", "csv", "edfi-xml")


def _group_inputs(paths: Sequence[Path], fmt: str = "auto"
                  ) -> list[tuple[str, Path, dict[str, Path]]]:
    """('jsonl', file, {}), ('csv', folder, {table: file}) or ('edfi', first file,
    {file name: file}) per input, in order; all Ed-Fi files of a run form one input.
    `fmt` other than "auto" takes every file as that format."""
    groups: list[tuple[str, Path, dict[str, Path]]] = []
    csv_folders: dict[Path, dict[str, Path]] = {}
    edfi: dict[str, Path] = {}
    for path in paths:
        if path.is_dir() and fmt in ("auto", "csv"):
            tables = {t: path / f"{t}.csv" for t in CSV_TABLES if (path / f"{t}.csv").is_file()}
            if not tables:
                raise BadRequest(f"{path}: folder holds none of {', '.join(CSV_TABLES)} (.csv)")
            csv_folders.setdefault(path, {}).update(tables)
        elif path.is_dir():
            raise BadRequest(f"{path}: a folder; with --format {fmt} give its files")
        elif not path.is_file():
            raise BadRequest(f"{path}: no such file")
        elif fmt == "edfi-xml" or (fmt == "auto" and path.suffix.lower() == ".xml"
                                   and sniff(path) is not None):
            if not edfi:
                groups.append(("edfi", path, edfi))
            edfi[str(path)] = path
        elif (fmt == "csv" or (fmt == "auto" and path.suffix.lower() == ".csv")):
            if path.stem not in CSV_TABLES:
                raise BadRequest(f"{path}: a CSV file must be named after its table "
                                 f"({', '.join(f'{t}.csv' for t in CSV_TABLES)})")
            csv_folders.setdefault(path.parent, {})[path.stem] = path
        elif fmt == "jsonl" or (fmt == "auto" and path.suffix.lower() in JSONL_SUFFIXES):
            groups.append(("jsonl", path, {}))
        elif path.suffix.lower() == ".xml":
            raise BadRequest(f"{path}: not an Ed-Fi Data Standard 5.x interchange (its root "
                             "element must be Interchange… in an http://ed-fi.org/5.x "
                             "namespace)")
        else:
            raise BadRequest(f"{path}: unknown input format (use .jsonl, CSV tables or Ed-Fi "
                             "interchange XML)")
    for folder, tables in csv_folders.items():
        if "students" not in tables:
            raise BadRequest(f"{folder}: CSV import needs students.csv next to the other tables")
        groups.append(("csv", folder, tables))
    return groups


def write_rejects(batch: ImportBatch, files: Sequence[str]) -> list[str]:
    """Write `<input>.rejects.csv|jsonl` beside each input that had rejects; drop stale ones."""
    written = []
    by_file: dict[str, list[Reject]] = {}
    for r in batch.rejects:
        by_file.setdefault(r.file, []).append(r)
    for file in files:
        jsonl = Path(file).suffix.lower() in JSONL_SUFFIXES
        target = Path(f"{file}.rejects.{'jsonl' if jsonl else 'csv'}")
        rejects = by_file.get(file)
        if not rejects:
            target.unlink(missing_ok=True)
            continue
        with open_private(target, "w", encoding="utf-8", newline="") as fh:
            if jsonl:
                grouped: dict[int, list[dict[str, str]]] = {}
                for r in rejects:
                    grouped.setdefault(r.line, []).append({"field": r.field, "reason": r.reason})
                for line, errors in grouped.items():
                    raw = batch.bad.get(file, {}).get(line)
                    fh.write(json.dumps({"line": line, "errors": errors, "record": raw},
                                        ensure_ascii=False) + "\n")
            else:
                out = csv.writer(fh)
                out.writerow(["line", "field", "reason"])
                out.writerows([r.line, r.field, r.reason] for r in rejects)
        written.append(str(target))
    return written


def record_run(db: Database, started: str, files: Sequence[str], batch: ImportBatch,
                result: UpsertResult) -> int:
    cur = db.conn.execute(
        "INSERT INTO import_runs (started_at, finished_at, files, students, inserted, updated, "
        "unchanged, rejected) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (started, now_iso(), json.dumps(list(files)), batch.accepted, result.inserted,
         result.updated, result.unchanged, batch.rejected_rows))
    run_id = int(cur.lastrowid or 0)
    db.conn.executemany(
        "INSERT INTO import_rejects (run_id, file, line, field, reason) VALUES (?, ?, ?, ?, ?)",
        [(run_id, r.file, r.line, r.field, r.reason) for r in batch.rejects])
    return run_id


def _default_workers() -> int:
    """One worker per usable core: the writer thread mostly waits on workers and SQLite,
    so it shares a core well (measured on an idle 2-core machine, 100,000 students:
    1 worker 14.6 s, 2 workers 12.7 s)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while an import runs. The import builds and drops
    millions of small containers and makes no reference cycles; collections walking them
    (and whatever else the process holds) cost a third of the run (bench/import_bench.py,
    100,000 students: 15.8 s with, 11.5 s without)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def import_files(store: Store, paths: Sequence[str | Path], *, owner_state: str,
                 progress: bool | None = None, keys_fn: KeysFn | None = None,
                 write_rejects_files: bool = True, workers: int | None = None,
                 parallel_min: int = PARALLEL_MIN, pause_gc: bool = True,
                 prepare_first: bool = False, fmt: str = "auto",
                 edfi_rule: MigrantRule | None = None,
                 refresh_reports: bool = True) -> ImportReport:
    """Import `paths` into `store`: one transaction for every valid student and the run row.

    `workers` worker processes (default: one per usable core; 0: none) prepare JSON Lines
    files of at least `parallel_min` lines and CSV folders of at least `parallel_min`
    students. `pause_gc`: turn the cyclic garbage collector off for the run (the CLI);
    a long-running process with other work (the node's drop-folder job) keeps it on.
    `prepare_first`: read, check and prepare every student in the calling thread before
    the store's writer thread is taken, so a running node keeps answering while the
    input is checked (its writer is busy only for the writes); costs the memory of the
    prepared rows (about 1 KB a student). `fmt`: one of FORMATS ("auto": by suffix,
    Ed-Fi XML by its root element and namespace). `edfi_rule`: who else is a migrant
    child in Ed-Fi input (`[edfi]` of node.toml).
    `refresh_reports`: recompute the report aggregates (`node.importing.report_aggregates`)
    once the run is committed, in a transaction of their own; if that fails the import
    stands and `statenode doctor` says the aggregates are out of date.
    """
    started = now_iso()
    if refresh_reports:  # the aggregates' tables exist whether or not the run succeeds
        store.call(reports.apply_migrations)
    show = sys.stderr.isatty() if progress is None else progress
    if fmt not in FORMATS:
        raise BadRequest(f"unknown format {fmt!r} (use {', '.join(FORMATS)})")
    groups = _group_inputs([Path(p) for p in paths], fmt)
    files = [str(f) for kind, p, t in groups for f in ([p] if kind == "jsonl" else t.values())]
    fn = keys_fn or default_keys()
    workers = _default_workers() if workers is None else workers
    parallel = workers > 0 and can_send(fn)
    batch = ImportBatch()
    meter = ProgressMeter(show, sum(Path(f).stat().st_size for f in files))
    pool: ProcessPoolExecutor | None = None
    streams: list[Iterator[list[Prepared]]] = []
    expected = 0
    skipped: list[tuple[str, int]] = []
    try:
        with _collector_paused() if pause_gc else contextlib.nullcontext():
            for kind, path, tables in groups:
                if kind == "edfi":
                    size = sum(f.stat().st_size for f in tables.values())
                    if parallel and size >= parallel_min * 4000:  # ~4 KB of XML a student
                        pool = pool or start_pool(workers, now=True)  # fork while small
                    edfi = read_edfi_files(list(tables.values()), meter, edfi_rule,
                                           pool=pool, workers=workers)
                    skipped.extend(_edfi_skipped(edfi))
                    count = len(edfi.migrant)
                    expected += count
                    if parallel and count >= parallel_min:
                        pool = pool or start_pool(workers)
                    share = size * (1 - EDFI_READ_SHARE)
                    streams.append(checked_students(
                        edfi, owner_state, fn, batch, meter, share,
                        pool=pool if parallel and count >= parallel_min else None,
                        workers=workers))
                    continue
                if kind == "csv":
                    # ~130 bytes a student: fork the workers before the folder is read
                    if parallel and tables["students"].stat().st_size >= parallel_min * 100:
                        pool = pool or start_pool(workers, now=True)
                    folder = assemble_csv_folder(tables, batch, meter)
                    count = len(folder.students)
                    expected += count
                    if parallel and count >= parallel_min:
                        pool = pool or start_pool(workers)
                        checked = checked_chunks(folder, owner_state, fn, pool, workers)
                    else:
                        checked = checked_chunks(folder, owner_state, fn, None, workers)
                    streams.append(csv_students(folder, checked, batch, meter))
                    continue
                plan = plan_pieces(path)
                expected += plan.lines
                if parallel and plan.lines >= parallel_min:
                    pool = pool or start_pool(workers)
                    results = pieces(plan, owner_state, fn, pool, workers)
                else:
                    results = pieces(plan, owner_state, fn, None, workers)
                streams.append(jsonl_students(plan, results, batch, meter))

            chunks: Iterable[Sequence[Prepared]] = (c for s in streams for c in s)
            if prepare_first:
                chunks = list(chunks)

            def work(db: Database) -> tuple[int, UpsertResult]:  # Store.call: one transaction
                result = upsert_prepared(db, chunks, expected=expected)
                return record_run(db, started, files, batch, result), result

            run_id, result = store.call(work)
    finally:
        meter.stop()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    if refresh_reports:
        try:
            report_aggregates.refresh(store, owner_state)
        except NodeError as exc:
            log.warning("import run %s: the report aggregates were not recomputed (%s); "
                        "run `statenode reports recompute`", run_id, exc)
    written = write_rejects(batch, files) if write_rejects_files else []
    return ImportReport(run_id, tuple(files), batch.accepted, result,
                        tuple(batch.rejects), tuple(written), tuple(skipped))


def _edfi_skipped(edfi: EdfiSet) -> list[tuple[str, int]]:
    out = []
    if edfi.skipped:
        out.append(("Ed-Fi students without a migrant education program association "
                    "(not migrant children)", len(edfi.skipped)))
    if edfi.skipped_records:
        out.append(("Ed-Fi records of students who are not migrant children",
                    edfi.skipped_records))
    return out
