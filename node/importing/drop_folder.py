"""Scheduled import from a drop folder (`jobs.import_folder`, DESIGN.md "Scheduled jobs").

Every `jobs.import_interval` the node imports each JSON Lines file (`*.jsonl`) and each
folder of CSV tables found in the drop folder, one import run each, through the same
importer as `statenode import` (all-or-nothing, rejects reported with file, line,
field and reason). A file is taken only once it has not changed for `SETTLE_S`
seconds (an upload in progress is left alone). Afterwards the input and its rejects
file move to `processed/` (imported, possibly with rejects) or `failed/` (nothing
stored), stamped with the time, so nothing is imported twice. The input is read and
checked in the job's thread before the store's writer is taken (`prepare_first`), so
the node keeps answering peers while a large file is checked.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from node import clock
from node.errors import NodeError
from node.file_modes import private_dir
from node.importing.importer import import_files
from protocol.errors import ProtocolError

if TYPE_CHECKING:
    from node.services import Services

log = logging.getLogger("statenode.import")
SETTLE_S = 5.0
DONE_FOLDERS = ("processed", "failed")


def _settled(path: Path, now: float) -> bool:
    paths = [path, *path.rglob("*")] if path.is_dir() else [path]
    return all(now - p.stat().st_mtime >= SETTLE_S for p in paths)


def pending(folder: Path, now: float | None = None) -> list[Path]:
    """Inputs ready to import, oldest first."""
    now = clock.now() if now is None else now
    found = [p for p in folder.iterdir()
             if p.name not in DONE_FOLDERS and not p.name.startswith(".")
             and ((p.is_file() and p.suffix == ".jsonl" and not p.name.endswith(".rejects.jsonl"))
                  or (p.is_dir() and any(p.glob("*.csv"))))]
    return sorted((p for p in found if _settled(p, now)), key=lambda p: p.stat().st_mtime)


def _move(path: Path, folder: Path, outcome: str) -> None:
    target = private_dir(folder / outcome, tighten=True)  # inputs and rejects: student data
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for item in [path, *path.parent.glob(path.name + ".rejects.*")]:
        if item.exists():
            shutil.move(str(item), str(target / f"{stamp}-{item.name}"))


def import_drop_folder(store: Any, folder: Path, owner_state: str) -> dict[str, Any]:
    """Import every ready input once; return counts (runs on a worker thread)."""
    counts = {"imported": 0, "failed": 0, "students": 0, "rejected_rows": 0}
    for path in pending(folder):
        try:
            # the node keeps serving: checked in this thread first, the GC stays on
            report = import_files(store, [path], owner_state=owner_state, progress=False,
                                  workers=0, pause_gc=False, prepare_first=True)
        except (NodeError, ProtocolError, OSError) as exc:
            log.warning("drop-folder import of %s failed: %s", path.name, exc)
            counts["failed"] += 1
            _move(path, folder, "failed")
            continue
        except Exception as exc:  # a bug must not jam the folder; its text may hold data
            log.error("drop-folder import of %s failed unexpectedly (%s); moved to failed/",
                      path.name, type(exc).__name__)
            counts["failed"] += 1
            _move(path, folder, "failed")
            continue
        counts["imported"] += 1
        counts["students"] += report.students
        counts["rejected_rows"] += report.rejected_rows
        log.info("drop-folder import of %s: %d students, %d rejected rows", path.name,
                 report.students, report.rejected_rows)
        _move(path, folder, "processed")
    return counts


async def drop_import_job(services: Services) -> dict[str, Any] | None:
    """Scheduler job (every `jobs.import_interval`): import what the drop folder holds."""
    cfg = services.cfg
    folder = cfg.jobs.import_folder
    if folder is None:
        return None
    if not folder.is_dir():
        raise NodeError(f"jobs.import_folder: {folder} is not a folder")
    return await asyncio.to_thread(import_drop_folder, services.store, folder, cfg.node.id)
