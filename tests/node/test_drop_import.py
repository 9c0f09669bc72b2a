"""The drop-folder import job: ready files are imported once and moved aside."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from config import load_config
from node.drop_import import import_drop_folder, pending
from node.store import Store
from node.synthetic import generate_students


def _old(path: Path) -> None:
    past = time.time() - 60
    os.utime(path, (past, past))


def test_drop_folder_imports_once_and_moves_files(node_dir: Path, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    good = drop / "batch1.jsonl"
    records = generate_students("TX", 5, 3)
    bad_line = json.dumps({"state_student_id": "TXBAD", "first_name": "X"})
    good.write_text("".join(json.dumps(r) + "\n" for r in records) + bad_line + "\n")
    _old(good)
    fresh = drop / "uploading.jsonl"
    fresh.write_text(json.dumps(records[0]) + "\n")  # still being written: left alone
    assert pending(drop) == [good]

    cfg = load_config(node_dir / "node.toml")
    with Store(cfg.storage.database) as store:
        counts = import_drop_folder(store, drop, "TX")
        assert counts == {"imported": 1, "failed": 0, "students": 5, "rejected_rows": 1}
        assert store.count("students") == 5
        # a second run finds nothing new
        assert import_drop_folder(store, drop, "TX")["imported"] == 0
    processed = sorted(p.name for p in (drop / "processed").iterdir())
    assert any(n.endswith("batch1.jsonl") for n in processed)
    assert any(".rejects." in n for n in processed)
    assert fresh.exists() and not good.exists()
