"""Reading a folder of CSV tables into students (docs/IMPORT.md "CSV tables").

Owns the CSV half of `node.importing.importer`: one file per table (students.csv plus any of
qualifying_moves.csv, enrollments.csv, courses.csv, assessments.csv; headers are the
field names of protocol/record_fields.py), child rows joined to their student by
`state_student_id` and courses to their enrollment by `enrollment_id`
(`assemble_csv_folder`, in the importing process: the tables must all be read before
any student is whole), and every error reported at the file and line of the row that
caused it. The assembled students are validated with `protocol.records.validate_student`
and prepared with `node.store.record_upsert.prepare` in groups of CHUNK_STUDENTS, by the
worker processes of `node.importing.workers` for folders of PARALLEL_MIN students or more,
else in-process, with the same results.
"""

from __future__ import annotations

import codecs
import csv
import marshal
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node.errors import BadRequest
from node.importing.batch import ImportBatch, ProgressMeter
from node.importing.workers import in_order
from node.store.record_upsert import KeysFn, Prepared, prepare
from protocol.records import InvalidStudent, validate_student

CSV_TABLES = ("students", "qualifying_moves", "enrollments", "courses", "assessments")
CHUNK_STUDENTS = 1_000  # students per work item and per write
# One student's outcome: its prepared rows, or None and its (field path, reason) errors.
Checked = tuple[Prepared | None, list[tuple[str, str]] | None]
READ_SHARE = 0.5  # of the progress bar for reading the tables; checking and saving: the rest
READ_BLOCK = 1 << 16  # bytes read at a time


def _text_lines(path: Path, meter: ProgressMeter) -> Iterator[str]:
    """The file's lines as text, split where universal newlines split them (\n, \r\n, a
    lone \r) and decoded one by one, so a byte that is not UTF-8 is named with its line;
    a UTF-8 byte order mark at the start is skipped."""
    number = 0
    with path.open("rb") as fh:
        head = fh.read(len(codecs.BOM_UTF8))
        meter.advance(len(head) * READ_SHARE)
        # the start of a line not ended yet (or ended by a \r a \n may follow), in parts
        pending = [b""] if head == codecs.BOM_UTF8 else [head]
        while block := fh.read(READ_BLOCK):
            meter.advance(len(block) * READ_SHARE)
            if b"\n" not in block and b"\r" not in block:
                pending.append(block)  # a long line: join it once, when it ends
                continue
            lines = b"".join([*pending, block]).splitlines(keepends=True)
            pending = [lines.pop()] if not lines[-1].endswith(b"\n") else []
            for encoded in lines:
                number += 1
                yield _decoded(path, number, encoded)
        rest = b"".join(pending)
        if rest:
            yield _decoded(path, number + 1, rest)



def _decoded(path: Path, number: int, encoded: bytes) -> str:
    try:
        return encoded.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"{path} line {number}: not UTF-8 text (byte 0x{encoded[exc.start]:02X} at byte "
            f"{exc.start + 1} of the line); save the file as UTF-8 and import it again"
        ) from None


def _csv_rows(path: Path, meter: ProgressMeter,
              strings: dict[str, str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) per data row, without its empty values (empty means "not given");
    a row with more values than the header becomes {"(line)": reason}. Blank lines are
    skipped; `line` is where the row ends, as csv.DictReader counts. Equal values share
    one string through `strings` (codes, dates, names and yes/no values repeat a lot: a
    folder held in memory takes half the room, 100,000 students: 934 -> 473 MB)."""
    share = strings.setdefault
    reader = csv.reader(_text_lines(path, meter))
    try:
        header: list[str] | None = []
        while header == []:  # blank lines before the header, as csv.DictReader
            header = next(reader, None)
        if header is None:
            return
        width = len(header)
        for values in reader:
            if not values:
                continue
            if len(values) > width:
                yield reader.line_num, {"(line)": "more values than header columns"}
                continue
            # fewer values than columns: the missing ones are not given
            row = zip(header, values, strict=False)
            yield reader.line_num, {k: share(v, v) for k, v in row if v != ""}
    except csv.Error as exc:  # e.g. a field over the csv module's 128 KiB limit
        raise BadRequest(f"{path} line {reader.line_num}: not a readable CSV row ({exc})"
                         ) from None


@dataclass
class CsvFolder:
    """The students of one folder, whole: (raw nested record, where each part came from:
    field-path prefix -> (file, line)), in students.csv order."""

    students_file: str
    size: int  # bytes of all its tables, for the progress bar
    students: list[tuple[dict[str, Any], dict[str, tuple[str, int]]]] = field(
        default_factory=list)


def assemble_csv_folder(tables: dict[str, Path], batch: ImportBatch,
                        meter: ProgressMeter) -> CsvFolder:
    """Read every table and join the child rows to their students; rows that cannot be
    placed are rejected in `batch`."""
    strings: dict[str, str] = {}
    studs: dict[str, dict[str, Any]] = {}
    where: dict[str, dict[str, tuple[str, int]]] = {}  # sid -> path prefix -> location
    spath = str(tables["students"])
    for line, row in _csv_rows(tables["students"], meter, strings):
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
        for line, row in _csv_rows(tables[table], meter, strings):
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
    folder = CsvFolder(spath, sum(p.stat().st_size for p in tables.values()))
    for sid, raw in studs.items():
        for enr in raw["enrollments"]:
            enr.pop("__prefix", None)
        folder.students.append((raw, where[sid]))
    return folder


def check_students(raws: list[dict[str, Any]], owner: str,
                   keys_fn: KeysFn | None) -> list[Checked]:
    """Validate and prepare assembled students, in order (CSV cells are text: each is
    converted by its field's kind)."""
    out: list[Checked] = []
    for raw in raws:
        try:
            student = validate_student(raw, owner_state=owner, from_text=True)
        except InvalidStudent as exc:
            out.append((None, exc.errors))
            continue
        out.append((prepare(student, keys_fn), None))
    return out


def _check_packed(packed: bytes, owner: str, keys_fn: KeysFn | None) -> bytes:
    """`check_students` in a worker process (marshal both ways)."""
    return marshal.dumps(check_students(marshal.loads(packed), owner, keys_fn))  # noqa: S302


def checked_chunks(folder: CsvFolder, owner: str, keys_fn: KeysFn | None,
                   pool: ProcessPoolExecutor | None, workers: int) -> Iterator[list[Checked]]:
    """`check_students` of each CHUNK_STUDENTS students of `folder`, in order: by `pool`
    (the first chunks submitted now), or in-process as they are asked for."""
    chunks = (folder.students[i:i + CHUNK_STUDENTS]
              for i in range(0, len(folder.students), CHUNK_STUDENTS))
    if pool is None:
        return (check_students([raw for raw, _ in c], owner, keys_fn) for c in chunks)
    jobs = ((marshal.dumps([raw for raw, _ in c]), owner, keys_fn) for c in chunks)
    return in_order(pool, _check_packed, jobs, workers)


def csv_students(folder: CsvFolder, results: Iterable[list[Checked]], batch: ImportBatch,
                 meter: ProgressMeter) -> Iterator[list[Prepared]]:
    """Record each student's errors at the file and line they came from and yield the
    accepted students, a chunk at a time."""
    spath = folder.students_file
    position = 0
    for outcomes in results:
        ready: list[Prepared] = []
        for prepared, errors in outcomes:
            spot = folder.students[position][1]
            position += 1
            if prepared is None:
                for path_field, reason in errors or []:
                    prefix = max((p for p in spot if path_field.startswith(p)), key=len)
                    file, line = spot[prefix]
                    batch.reject(file, line, [(path_field[len(prefix):], reason)])
            elif batch.accept(prepared[0], spath, spot[""][1]):
                ready.append(prepared)
        meter.advance(folder.size * (1 - READ_SHARE) * len(outcomes) / len(folder.students))
        yield ready
