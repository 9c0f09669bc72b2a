"""What one import run has seen so far, and its progress bar (docs/IMPORT.md).

Owns the bookkeeping shared by the JSON Lines and CSV readers of `node.importing.importer`: the
count of valid students, the first line of every `state_student_id` (a later line with
the same id is a duplicate and is rejected), the rejects (file, line, field, reason) and
the raw record of each rejected line for the rejects files; plus the rich progress bar
over the bytes read, shown on stderr only when asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from node.store.database import Reject


@dataclass
class ImportBatch:
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

    @property
    def rejected_rows(self) -> int:
        return len({(r.file, r.line) for r in self.rejects})


class ProgressMeter:
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

    def advance(self, n: float) -> None:
        if self.progress is not None:
            self.progress.advance(self.task, n)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
