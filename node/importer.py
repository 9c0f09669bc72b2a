"""Import of a state's student records from CSV tables or JSON Lines (docs/IMPORT.md).

Owns reading the input (streamed line by line, line numbers as an editor shows them),
validation through `protocol.records.validate_student`, the reject list (file, line,
field, reason; also written to `<input>.rejects.csv` or `<input>.rejects.jsonl` beside
each input) and the single transaction that upserts every valid student and records the
`import_runs` row with its rejects. A student with any bad row is stored nowhere; a crash
before the commit leaves the database exactly as it was.

A large JSON Lines file (PARALLEL_MIN lines or more) is parsed, validated and turned into
table rows with blocking keys by a pool of worker processes, in chunks of CHUNK_LINES
lines, while the writer thread stores the chunks in order as they come back inside the
one transaction; smaller inputs, CSV folders and a keys function that cannot be sent to
a process take the same steps in-process, with the same results.
"""

from __future__ import annotations

import csv
import gc
import json
import marshal
import multiprocessing
import os
import pickle
import sys
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from sqlite_utils import Database

from node.errors import BadRequest
from node.store import (
    KeysFn,
    Prepared,
    Reject,
    Store,
    UpsertResult,
    _default_keys,
    now_iso,
    prepare,
    upsert_prepared,
)
from protocol.records import InvalidStudent, validate_student

CSV_TABLES = ("students", "qualifying_moves", "enrollments", "courses", "assessments")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
PARALLEL_MIN = 5_000  # lines in a JSON Lines file before worker processes are used
CHUNK_LINES = 1_000  # lines per work item (and per write)
# (line number, prepared student, or None and the (field, reason) errors of that line)
Outcome = tuple[int, Prepared | None, list[tuple[str, str]] | None]


@dataclass(frozen=True)
class ImportReport:
    run_id: int
    files: tuple[str, ...]
    students: int  # valid students read
    result: UpsertResult
    rejects: tuple[Reject, ...]
    rejects_files: tuple[str, ...] = ()

    @property
    def rejected_rows(self) -> int:
        return len({(r.file, r.line) for r in self.rejects})


@dataclass
class _Batch:
    accepted: int = 0
    first_line: dict[str, tuple[str, int]] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    # file -> line -> the raw record (JSONL) or None (CSV), for the rejects files
    bad: dict[str, dict[int, Any]] = field(default_factory=dict)

    def reject(self, file: str, line: int, errors: Sequence[tuple[str, str]],
               raw: Any = None) -> None:
        self.rejects.extend(Reject(file, line, f, r) for f, r in errors)
        self.bad.setdefault(file, {})[line] = raw

    def accept(self, sid: str, file: str, line: int, raw: Any = None) -> bool:
        """Count a valid student; reject it (False) if its id was already seen."""
        first = self.first_line.setdefault(sid, (file, line))
        if first != (file, line):
            where = f"{Path(first[0]).name} line {first[1]}"
            self.reject(file, line, [("state_student_id", f"duplicate of {where} ({sid})")], raw)
            return False
        self.accepted += 1
        return True


class _Meter:
    """A rich progress bar over bytes read, on stderr, only when shown."""

    def __init__(self, show: bool, total: int) -> None:
        self.progress: Progress | None = None
        if show:
            from rich.console import Console

            self.progress = Progress(TextColumn("importing"), BarColumn(), TaskProgressColumn(),
                                     TimeRemainingColumn(), console=Console(stderr=True),
                                     transient=True)
            self.progress.start()
            self.task = self.progress.add_task("import", total=total)

    def advance(self, n: int) -> None:
        if self.progress is not None:
            self.progress.advance(self.task, n)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _read_chunks(path: Path) -> list[tuple[list[tuple[int, str]], int]]:
    """The file's lines (number, text) in chunks of CHUNK_LINES, with each chunk's bytes."""
    chunks: list[tuple[list[tuple[int, str]], int]] = []
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        lines: list[tuple[int, str]] = []
        size = 0
        for number, line in enumerate(fh, start=1):
            lines.append((number, line))
            size += len(line)
            if len(lines) == CHUNK_LINES:
                chunks.append((lines, size))
                lines, size = [], 0
        if lines:
            chunks.append((lines, size))
    return chunks


def prepare_lines(name: str, owner: str, keys_fn: KeysFn | None,
                  lines: Sequence[tuple[int, str]]) -> list[Outcome]:
    """Parse, validate and prepare JSON Lines; one outcome per non-blank line, in order."""
    out: list[Outcome] = []
    for number, line in lines:
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            out.append((number, None, [("(line)", f"not valid JSON ({exc.msg})")]))
            continue
        try:
            student = validate_student(raw, where=f"{name} line {number}", owner_state=owner)
        except InvalidStudent as exc:
            out.append((number, None, exc.errors))
            continue
        out.append((number, prepare(student, keys_fn), None))
    return out


def _prepare_packed(name: str, owner: str, keys_fn: KeysFn | None,
                    lines: Sequence[tuple[int, str]]) -> bytes:
    """`prepare_lines` in a worker process; marshal is much cheaper than pickle here."""
    return marshal.dumps(prepare_lines(name, owner, keys_fn, lines))


def _raw_of(line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return line


def _jsonl_stream(name: str, chunks: list[tuple[list[tuple[int, str]], int]],
                  results: Iterable[list[Outcome]], batch: _Batch,
                  meter: _Meter) -> Iterator[list[Prepared]]:
    """Record the rejects of each chunk's outcomes and yield its accepted students."""
    for (lines, size), outcomes in zip(chunks, results, strict=True):
        text = dict(lines)
        ready: list[Prepared] = []
        for number, prepared, errors in outcomes:
            if prepared is None:
                batch.reject(name, number, errors or [], _raw_of(text[number]))
            elif batch.accept(prepared[0], name, number, None):
                ready.append(prepared)
            else:  # a duplicate id: keep its record for the rejects file
                batch.bad[name][number] = _raw_of(text[number])
        meter.advance(size)
        yield ready


def _csv_rows(path: Path, meter: _Meter) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        line = 1
        for row in reader:
            meter.advance(sum(len(v or "") + 1 for v in row.values()))
            line = reader.line_num
            if None in row:
                row.pop(None)
                yield line, {"(line)": "more values than header columns"}
                continue
            yield line, {k: v for k, v in row.items() if k is not None}


def _read_csv_folder(tables: dict[str, Path], batch: _Batch, owner: str, meter: _Meter,
                     keys_fn: KeysFn | None) -> Iterator[list[Prepared]]:
    studs: dict[str, dict[str, Any]] = {}
    where: dict[str, dict[str, tuple[str, int]]] = {}  # sid -> path prefix -> location
    spath = str(tables["students"])
    for line, row in _csv_rows(tables["students"], meter):
        if "(line)" in row:
            batch.reject(spath, line, [("(line)", row["(line)"])])
            continue
        sid = row.get("state_student_id", "")
        if sid in studs:
            batch.reject(spath, line, [("state_student_id", f"duplicate of students.csv line "
                                        f"{where[sid][''][1]} ({sid})")])
            continue
        studs[sid] = dict(row, qualifying_moves=[], enrollments=[], assessments=[])
        where[sid] = {"": (spath, line)}
    enr_index: dict[tuple[str, str], dict[str, Any]] = {}
    for table in ("qualifying_moves", "enrollments", "courses", "assessments"):
        if table not in tables:
            continue
        cpath = str(tables[table])
        for line, row in _csv_rows(tables[table], meter):
            if "(line)" in row:
                batch.reject(cpath, line, [("(line)", row["(line)"])])
                continue
            sid = row.pop("state_student_id", "") or ""
            parent = studs.get(sid)
            if parent is None:
                batch.reject(cpath, line, [("state_student_id",
                                            f"no such student in students.csv ({sid!r})")])
                continue
            if table == "courses":
                eid = row.pop("enrollment_id", "") or ""
                enr = enr_index.get((sid, eid))
                if enr is None:
                    batch.reject(cpath, line, [("enrollment_id", f"no such enrollment of "
                                                f"{sid} in enrollments.csv ({eid!r})")])
                    continue
                prefix = f"{enr['__prefix']}courses[{len(enr['courses'])}]."
                enr["courses"].append(row)
            else:
                items = parent[table]
                prefix = f"{table}[{len(items)}]."
                if table == "enrollments":
                    new_enr: dict[str, Any] = dict(row, courses=[], __prefix=prefix)
                    enr_index.setdefault((sid, row.get("enrollment_id", "")), new_enr)
                    items.append(new_enr)
                else:
                    items.append(row)
            where[sid][prefix] = (cpath, line)
    ready: list[Prepared] = []
    for sid, raw in studs.items():
        for enr in raw["enrollments"]:
            enr.pop("__prefix", None)
        spot = where[sid]
        try:
            student = validate_student(raw, owner_state=owner)
        except InvalidStudent as exc:
            for path_field, reason in exc.errors:
                prefix = max((p for p in spot if path_field.startswith(p)), key=len)
                file, line = spot[prefix]
                batch.reject(file, line, [(path_field[len(prefix):], reason)])
            continue
        if batch.accept(student.state_student_id, spath, spot[""][1]):
            ready.append(prepare(student, keys_fn))
        if len(ready) >= CHUNK_LINES:
            yield ready
            ready = []
    yield ready


def _group_inputs(paths: Sequence[Path]) -> list[tuple[str, Path, dict[str, Path]]]:
    """('jsonl', file, {}) or ('csv', folder, {table: file}) per input, in order."""
    groups: list[tuple[str, Path, dict[str, Path]]] = []
    csv_folders: dict[Path, dict[str, Path]] = {}
    for path in paths:
        if path.is_dir():
            tables = {t: path / f"{t}.csv" for t in CSV_TABLES if (path / f"{t}.csv").is_file()}
            if not tables:
                raise BadRequest(f"{path}: folder holds none of {', '.join(CSV_TABLES)} (.csv)")
            csv_folders.setdefault(path, {}).update(tables)
        elif not path.is_file():
            raise BadRequest(f"{path}: no such file")
        elif path.suffix.lower() == ".csv":
            if path.stem not in CSV_TABLES:
                raise BadRequest(f"{path}: a CSV file must be named after its table "
                                 f"({', '.join(f'{t}.csv' for t in CSV_TABLES)})")
            csv_folders.setdefault(path.parent, {})[path.stem] = path
        elif path.suffix.lower() in JSONL_SUFFIXES:
            groups.append(("jsonl", path, {}))
        else:
            raise BadRequest(f"{path}: unknown input format (use .jsonl or CSV tables)")
    for folder, tables in csv_folders.items():
        if "students" not in tables:
            raise BadRequest(f"{folder}: CSV import needs students.csv next to the other tables")
        groups.append(("csv", folder, tables))
    return groups


def write_rejects(batch: _Batch, files: Sequence[str]) -> list[str]:
    """Write `<input>.rejects.csv|jsonl` beside each input that had rejects; drop stale ones."""
    written = []
    by_file: dict[str, list[Reject]] = {}
    for r in batch.rejects:
        by_file.setdefault(r.file, []).append(r)
    for file in files:
        jsonl = not file.lower().endswith(".csv")
        target = Path(f"{file}.rejects.{'jsonl' if jsonl else 'csv'}")
        rejects = by_file.get(file)
        if not rejects:
            target.unlink(missing_ok=True)
            continue
        with target.open("w", encoding="utf-8", newline="") as fh:
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


def _record_run(db: Database, started: str, files: Sequence[str], batch: _Batch,
                result: UpsertResult) -> int:
    cur = db.conn.execute(
        "INSERT INTO import_runs (started_at, finished_at, files, students, inserted, updated, "
        "unchanged, rejected) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (started, now_iso(), json.dumps(list(files)), batch.accepted, result.inserted,
         result.updated, result.unchanged, len({(r.file, r.line) for r in batch.rejects})))
    run_id = int(cur.lastrowid or 0)
    db.conn.executemany(
        "INSERT INTO import_rejects (run_id, file, line, field, reason) VALUES (?, ?, ?, ?, ?)",
        [(run_id, r.file, r.line, r.field, r.reason) for r in batch.rejects])
    return run_id


def _can_send(fn: KeysFn | None) -> bool:
    try:
        pickle.dumps(fn)
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


def _pool(workers: int) -> ProcessPoolExecutor:
    """Forked workers: no re-import of `__main__`, nothing to load again. The children run
    pure Python (json, validation, keys) and leave by os._exit, so they never touch the
    parent's SQLite connection; the store's writer thread is idle while they fork. Each
    child freezes the heap it inherited, so its garbage collector never walks (and
    copies on write) the parent's objects: without that a worker ran 2-3 times slower."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return ProcessPoolExecutor(workers)
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=gc.freeze)


def _default_workers() -> int:
    """One worker per usable core: the writer thread mostly waits on workers and SQLite,
    so it shares a core well (measured on an idle 2-core machine, 100,000 students:
    1 worker 14.6 s, 2 workers 12.7 s)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores)


def import_files(store: Store, paths: Sequence[str | Path], *, owner_state: str,
                 progress: bool | None = None, keys_fn: KeysFn | None = None,
                 write_rejects_files: bool = True, workers: int | None = None,
                 parallel_min: int = PARALLEL_MIN) -> ImportReport:
    """Import `paths` into `store`: one transaction for every valid student and the run row.

    `workers` worker processes (default: usable cores - 1; 0: none) prepare JSON Lines
    files of at least `parallel_min` lines.
    """
    started = now_iso()
    show = sys.stderr.isatty() if progress is None else progress
    groups = _group_inputs([Path(p) for p in paths])
    files = [str(f) for kind, p, t in groups for f in ([p] if kind == "jsonl" else t.values())]
    fn = keys_fn or _default_keys()
    workers = _default_workers() if workers is None else workers
    parallel = workers > 0 and _can_send(fn)
    batch = _Batch()
    meter = _Meter(show, sum(Path(f).stat().st_size for f in files))
    pool: ProcessPoolExecutor | None = None
    streams: list[Iterator[list[Prepared]]] = []
    expected = 0
    try:
        for kind, path, tables in groups:
            if kind == "csv":
                streams.append(_read_csv_folder(tables, batch, owner_state, meter, fn))
                continue
            name = str(path)
            chunks = _read_chunks(path)
            lines = sum(len(c) for c, _size in chunks)
            expected += lines
            results: Iterable[list[Outcome]]
            if parallel and lines >= parallel_min:
                pool = pool or _pool(workers)
                futures = [pool.submit(_prepare_packed, name, owner_state, fn, c)
                           for c, _size in chunks]
                results = _unpacked(futures)
            else:
                results = (prepare_lines(name, owner_state, fn, c) for c, _size in chunks)
            streams.append(_jsonl_stream(name, chunks, results, batch, meter))

        def work(db: Database) -> tuple[int, UpsertResult]:  # Store.call: one transaction
            result = upsert_prepared(db, (c for s in streams for c in s), expected=expected)
            return _record_run(db, started, files, batch, result), result

        run_id, result = store.call(work)
    except UnicodeDecodeError as exc:
        raise BadRequest(f"an input file is not UTF-8 text ({exc.reason})") from exc
    finally:
        meter.stop()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    written = write_rejects(batch, files) if write_rejects_files else []
    return ImportReport(run_id, tuple(files), batch.accepted, result,
                        tuple(batch.rejects), tuple(written))


def _unpacked(futures: Sequence[Future[bytes]]) -> Iterator[list[Outcome]]:
    for future in futures:
        yield marshal.loads(future.result())  # type: ignore[no-any-return]  # noqa: S302 (our workers)
