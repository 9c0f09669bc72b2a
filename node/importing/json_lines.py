"""Reading JSON Lines files of students in pieces, in worker processes (docs/IMPORT.md).

Owns the JSON Lines half of `node.importing.importer`. A file is cut at line ends into pieces of
about CHUNK_BYTES bytes; `prepare_piece` reads one piece, decodes it, parses each line,
validates it (`protocol.records.validate_student`) and turns it into table rows with
blocking keys (`node.store.record_upsert.prepare`). Files of PARALLEL_MIN lines or more are
prepared by the worker processes of `node.importing.workers`, which get only (path, start,
end) and send back marshal bytes, a few pieces per worker in flight, so the importing
process never holds the whole file; smaller files, and a keys function that cannot be
sent to a process, take the same steps in-process with the same results.

Lines are numbered as an editor shows them: `\\n`, `\\r\\n` or a lone `\\r` ends a line
(Python's universal newlines); a UTF-8 byte order mark at the start is skipped. A line
that is not UTF-8 refuses the whole file, naming the line: such files come from a wrong
export setting, and importing only their ASCII lines would be a half import.
"""

from __future__ import annotations

import codecs
import json
import marshal
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.errors import BadRequest
from node.importing.batch import ImportBatch, ProgressMeter
from node.importing.workers import in_order
from node.store.record_upsert import KeysFn, Prepared, prepare
from protocol.records import InvalidStudent, validate_student

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
CHUNK_BYTES = 1 << 20  # bytes per piece (~400 students): one work item and one write

# One line's outcome: (line number within its piece, prepared student, or None and the
# (field, reason) errors of that line).
Outcome = tuple[int, Prepared | None, list[tuple[str, str]] | None]
# One piece: (its number of lines, outcomes, the raw record of each rejected line by
# number, and the first line that is not UTF-8 with the reason, or None). Plain values
# only, so a worker can marshal it.
Piece = tuple[int, list[Outcome], dict[int, Any], tuple[int, str] | None]


@dataclass(frozen=True)
class JsonlPlan:
    """Where one file's pieces start and end, and about how many lines it has (line
    feeds, used only to choose worker processes and the bulk write)."""

    path: Path
    ranges: tuple[tuple[int, int], ...]
    lines: int

    @property
    def name(self) -> str:
        return str(self.path)


def plan_pieces(path: Path, size: int | None = None) -> JsonlPlan:
    """Cut `path` after a line feed about every `size` bytes (default CHUNK_BYTES)."""
    size = size or CHUNK_BYTES
    ranges: list[tuple[int, int]] = []
    lines = start = 0
    ends_with_newline = True
    with path.open("rb") as fh:
        while block := fh.read(size):
            if not block.endswith(b"\n"):
                block += fh.readline()
            lines += block.count(b"\n")
            ends_with_newline = block.endswith(b"\n")
            ranges.append((start, start + len(block)))
            start += len(block)
    return JsonlPlan(path, tuple(ranges), lines + (0 if ends_with_newline else 1))


def prepare_piece(path: str, start: int, end: int, owner: str,
                  keys_fn: KeysFn | None) -> Piece:
    """Read bytes start..end of `path` and prepare each non-blank line, in order."""
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(end - start)
    if start == 0 and data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    lines = data.splitlines()  # the same line ends as universal newlines: \n, \r\n, \r
    outcomes: list[Outcome] = []
    raws: dict[int, Any] = {}
    for number, encoded in enumerate(lines, start=1):
        try:
            line = encoded.decode("utf-8")
        except UnicodeDecodeError as exc:
            why = f"byte 0x{encoded[exc.start]:02X} at byte {exc.start + 1} of the line"
            return len(lines), outcomes, raws, (number, why)
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            outcomes.append((number, None, [("(line)", f"not valid JSON ({exc.msg})")]))
            raws[number] = line
            continue
        except RecursionError:
            outcomes.append((number, None, [("(line)", "not valid JSON (nested too deeply)")]))
            raws[number] = line[:200]
            continue
        try:
            student = validate_student(raw, owner_state=owner)
        except InvalidStudent as exc:
            outcomes.append((number, None, exc.errors))
            raws[number] = raw
            continue
        outcomes.append((number, prepare(student, keys_fn), None))
    return len(lines), outcomes, raws, None


def _prepare_packed(path: str, start: int, end: int, owner: str,
                    keys_fn: KeysFn | None) -> bytes:
    """`prepare_piece` in a worker process; marshal is much cheaper than pickle here."""
    return marshal.dumps(prepare_piece(path, start, end, owner, keys_fn))


def pieces(plan: JsonlPlan, owner: str, keys_fn: KeysFn | None,
           pool: ProcessPoolExecutor | None, workers: int) -> Iterator[Piece]:
    """The prepared pieces of `plan` in order: from `pool` (the first ones submitted
    now), or computed in-process as they are asked for."""
    jobs = ((plan.name, start, end, owner, keys_fn) for start, end in plan.ranges)
    if pool is None:
        return (prepare_piece(*job) for job in jobs)
    return in_order(pool, _prepare_packed, jobs, workers)


def jsonl_students(plan: JsonlPlan, results: Iterable[Piece], batch: ImportBatch,
                   meter: ProgressMeter) -> Iterator[list[Prepared]]:
    """Record each piece's rejects in `batch` and yield its accepted students."""
    name = plan.name
    base = 0  # lines before the current piece
    duplicates: list[int] = []
    for (start, end), (count, outcomes, raws, undecodable) in zip(plan.ranges, results,
                                                                  strict=True):
        if undecodable is not None:
            line, why = undecodable
            raise BadRequest(f"{name} line {base + line}: not UTF-8 text ({why}); "
                             "save the file as UTF-8 and import it again")
        ready: list[Prepared] = []
        for number, prepared, errors in outcomes:
            if prepared is None:
                batch.reject(name, base + number, errors or [], raws.get(number))
            elif batch.accept(prepared[0], name, base + number):
                ready.append(prepared)
            else:
                duplicates.append(base + number)
        base += count
        meter.advance(end - start)
        yield ready
    if duplicates:
        _keep_records(plan, batch, duplicates)


def _keep_records(plan: JsonlPlan, batch: ImportBatch, numbers: list[int]) -> None:
    """Read the records of the rejected duplicate lines `numbers` again, for the rejects
    file (rare, so they are not carried through the workers)."""
    wanted = set(numbers)
    last = max(wanted)
    kept = batch.bad.setdefault(plan.name, {})
    with plan.path.open("r", encoding="utf-8-sig", newline="") as fh:
        for number, line in enumerate(fh, start=1):
            if number in wanted:
                try:
                    kept[number] = json.loads(line)
                except json.JSONDecodeError:
                    kept[number] = line.rstrip("\r\n")
            if number >= last:
                break
