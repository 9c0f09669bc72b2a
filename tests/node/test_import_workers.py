"""Import worker processes never outlive the import that started them (issue 12 item 2).

The kill -9 case, with real processes: tests/integration/test_import_workers_die.py. Here:
a drop-folder import inside the node starts no worker processes at all, and an import
that fails part-way leaves none behind, however often it fails.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

import pytest

from config import load_config
from node.importing.drop_folder import import_drop_folder
from node.importing.importer import import_files
from node.importing.synthetic import generate_students
from node.importing.workers import PARALLEL_MIN
from node.store.database import Store


def _big_file(path: Path) -> Path:
    records = generate_students("TX", PARALLEL_MIN + 200, 11)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    past = time.time() - 60  # settled: the drop folder takes it
    os.utime(path, (past, past))
    return path


def test_drop_folder_import_starts_no_worker_processes(node_dir: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The node's drop-folder job prepares even a large file in its own thread: nothing is
    forked inside the node, so a crashed or killed job leaves no process behind."""
    import node.importing.importer

    def no_pool(*_a: Any, **_k: Any) -> None:
        raise AssertionError("a drop-folder import started worker processes")

    monkeypatch.setattr(node.importing.importer, "start_pool", no_pool)
    drop = tmp_path / "drop"
    drop.mkdir()
    _big_file(drop / "big.jsonl")
    with Store(load_config(node_dir / "node.toml").storage.database) as store:
        counts = import_drop_folder(store, drop, "TX")
    assert counts["imported"] == 1 and counts["failed"] == 0, counts
    assert multiprocessing.active_children() == []


def test_a_failed_import_leaves_no_worker_processes(node_dir: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import node.importing.importer

    def crash(db: Any, chunks: Any, **_k: Any) -> Any:
        next(iter(chunks))  # the workers are busy now
        raise RuntimeError("crash in the middle of an import")

    pools: list[Any] = []

    def start_pool(*args: Any, **kwargs: Any) -> Any:
        pools.append(real_start_pool(*args, **kwargs))
        return pools[-1]

    real_start_pool = node.importing.importer.start_pool
    monkeypatch.setattr(node.importing.importer, "start_pool", start_pool)
    monkeypatch.setattr(node.importing.importer, "upsert_prepared", crash)
    data = _big_file(tmp_path / "big.jsonl")
    with Store(load_config(node_dir / "node.toml").storage.database) as store:
        for run in range(1, 3):
            with pytest.raises(RuntimeError):
                import_files(store, [data], owner_state="TX", progress=False, workers=2)
            assert len(pools) == run  # the import did use worker processes
            assert multiprocessing.active_children() == []
        assert store.count("students") == 0
