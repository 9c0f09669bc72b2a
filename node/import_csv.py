"""Reading a folder of CSV tables into students (docs/IMPORT.md "CSV tables").

Owns the CSV half of `node.importer`: one file per table (students.csv plus any of
qualifying_moves.csv, enrollments.csv, courses.csv, assessments.csv; headers are the
field names of protocol/records.py), child rows joined to their student by
`state_student_id` and courses to their enrollment by `enrollment_id`, and every error
reported at the file and line of the row that caused it. Students are validated with
`protocol.records.validate_student` and prepared with `node.record_upsert.prepare`, and yielded
in groups of CHUNK_STUDENTS for the writer.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from node.errors import BadRequest
from node.import_batch import ImportBatch, ProgressMeter
from node.record_upsert import KeysFn, Prepared, prepare
from protocol.records import InvalidStudent, validate_student

CSV_TABLES = ("students", "qualifying_moves", "enrollments", "courses", "assessments")
CHUNK_STUDENTS = 1_000  # students per write


def _csv_rows(path: Path, meter: ProgressMeter) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) per data row; a row with too many values becomes {"(line)": reason}."""
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        try:
            for row in reader:
                meter.advance(sum(len(v or "") + 1 for v in row.values()))
                line = reader.line_num
                if None in row:
                    row.pop(None)
                    yield line, {"(line)": "more values than header columns"}
                    continue
                yield line, {k: v for k, v in row.items() if k is not None}
        except UnicodeDecodeError as exc:
            raise BadRequest(f"{path} near line {reader.line_num + 1}: not UTF-8 text "
                             f"({exc.reason}); save the file as UTF-8") from None


def read_csv_folder(tables: dict[str, Path], batch: ImportBatch, owner: str, meter: ProgressMeter,
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
        if len(ready) >= CHUNK_STUDENTS:
            yield ready
            ready = []
    yield ready
