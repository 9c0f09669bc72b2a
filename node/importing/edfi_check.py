"""Checking the joined Ed-Fi students of one run (docs/IMPORT.md "Ed-Fi").

Owns the step between `node.importing.edfi_assembly` and the writer, for the XML files
and the ODS/API pull alike: each migrant student of an `EdfiSet` is joined (`assemble`),
validated strictly by `protocol.records.validate_student` (typed values, so a student
without a qualifying move is rejected) and prepared for the tables
(`node.store.record_upsert.prepare`), CHUNK_STUDENTS at a time, by the worker processes
of `node.importing.workers` for PARALLEL_MIN students or more, else in-process, with the
same results. Every problem is recorded in the run's `ImportBatch` at the Ed-Fi record it
came from: the file, line and element of an interchange (`StudentSchoolAssociation/
EntryGradeLevel (grade_level)`), or the resource and id of the API; a student with any
problem is stored nowhere.
"""

from __future__ import annotations

import marshal
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from node.importing.batch import ImportBatch, ProgressMeter
from node.importing.edfi_assembly import EdfiSet, Spots, Where, assemble, locate, table_of
from node.importing.edfi_mapping import SOURCES
from node.importing.workers import in_order
from node.store.record_upsert import KeysFn, Prepared, prepare
from protocol.records import InvalidStudent, validate_student

CHUNK_STUDENTS = 1_000
# One student's outcome: its prepared rows, or None and its (field path, reason) errors.
Checked = tuple[Prepared | None, list[tuple[str, str]] | None]
#: (table, our field) -> the Ed-Fi element or JSON field to name in a reject
ElementName = Callable[[str, str], str]


def xml_element(table: str, name: str) -> str:
    return SOURCES.get((table, name), name)


def check_raws(raws: list[dict[str, Any]], owner: str, keys_fn: KeysFn | None) -> list[Checked]:
    """Validate (typed values) and prepare joined students, in order."""
    out: list[Checked] = []
    for raw in raws:
        try:
            student = validate_student(raw, owner_state=owner)
        except InvalidStudent as exc:
            out.append((None, exc.errors))
            continue
        out.append((prepare(student, keys_fn), None))
    return out


def _check_packed(packed: bytes, owner: str, keys_fn: KeysFn | None) -> bytes:
    """`check_raws` in a worker process (marshal both ways)."""
    return marshal.dumps(check_raws(marshal.loads(packed), owner, keys_fn))  # noqa: S302


def reject_at(batch: ImportBatch, where: Where, field: str, reason: str) -> None:
    """Record one problem at an Ed-Fi record: a file and line, or (line 0) a resource
    and id."""
    file, line, element = where
    name = field if line else f"{element}: {field}"
    batch.reject(file, line, [(name, reason)])


def _report(batch: ImportBatch, spots: Spots, problems: list[tuple[Where, str, str]],
            errors: list[tuple[str, str]], names: ElementName) -> None:
    for where, element, reason in problems:
        reject_at(batch, where, element, reason)
    for path, reason in errors:
        where, _kind, ours = locate(path, spots)
        element = names(table_of(path), ours)
        reject_at(batch, where, element if element == ours else f"{element} ({ours})",
                  reason)


def checked_students(edfi: EdfiSet, owner: str, keys_fn: KeysFn | None, batch: ImportBatch,
                     meter: ProgressMeter, share: float, *,
                     pool: ProcessPoolExecutor | None = None, workers: int = 0,
                     names: ElementName = xml_element) -> Iterator[list[Prepared]]:
    """The accepted students of `edfi`, a chunk at a time (their fragments are released
    as they are joined); rejects go to `batch`; `share` of the progress bar is advanced
    over the students."""
    for where, element, reason in edfi.problems.pop("", []):
        reject_at(batch, where, element, reason)
    ids = list(edfi.migrant_ids())
    spots_of: deque[list[tuple[str, Spots, list[tuple[Where, str, str]]]]] = deque()

    def chunks() -> Iterator[list[dict[str, Any]]]:
        for i in range(0, len(ids), CHUNK_STUDENTS):
            raws, meta = [], []
            for sid in ids[i:i + CHUNK_STUDENTS]:
                raw, spots, problems = assemble(edfi, sid)
                edfi.parts.pop(sid, None)
                raws.append(raw)
                meta.append((sid, spots, problems))
            spots_of.append(meta)
            yield raws

    if pool is None:
        results: Iterator[list[Checked]] = (check_raws(c, owner, keys_fn) for c in chunks())
    else:
        results = in_order(pool, _check_packed,
                           ((marshal.dumps(c), owner, keys_fn) for c in chunks()), workers)
    step = share / max(len(ids), 1)
    for outcomes in results:
        meta = spots_of.popleft()
        ready: list[Prepared] = []
        for (sid, spots, problems), (prepared, errors) in zip(meta, outcomes, strict=True):
            if prepared is None or problems:
                _report(batch, spots, problems, errors or [], names)
                continue
            file, line, _el = spots[""][0]
            if batch.accept(sid, file, line):
                ready.append(prepared)
        meter.advance(step * len(outcomes))
        yield ready
