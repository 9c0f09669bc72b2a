"""The drop-folder import job: ready files are imported once and moved aside."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from config import load_config
from node.importing.drop_folder import import_drop_folder, pending
from node.importing.synthetic import generate_students
from node.store.database import Store


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


def test_an_unreadable_input_does_not_jam_the_folder(node_dir: Path, tmp_path: Path,
                                                     monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A folder whose import fails (here a CSV field over the csv module's limit, and an
    unexpected error) moves to failed/, and the inputs after it are still imported."""
    import node.importing.drop_folder as drop_import

    drop = tmp_path / "drop"
    (drop / "a-csv").mkdir(parents=True)
    (drop / "a-csv" / "students.csv").write_text(
        "state_student_id,first_name\nTX1," + "x" * 200_000 + "\n")
    later = drop / "b.jsonl"
    later.write_text("".join(json.dumps(r) + "\n" for r in generate_students("TX", 3, 4)))
    for p in (drop / "a-csv" / "students.csv", drop / "a-csv", later):
        _old(p)
    cfg = load_config(node_dir / "node.toml")
    with Store(cfg.storage.database) as store:
        counts = import_drop_folder(store, drop, "TX")
        assert counts["failed"] == 1 and counts["imported"] == 1 and counts["students"] == 3
        assert any(p.name.endswith("a-csv") for p in (drop / "failed").iterdir())
        boom = drop / "c.jsonl"
        boom.write_text(json.dumps(generate_students("TX", 1, 5)[0]) + "\n")
        _old(boom)

        def broken(*_a, **_k):  # type: ignore[no-untyped-def]
            raise ZeroDivisionError("a bug")

        monkeypatch.setattr(drop_import, "import_files", broken)
        assert import_drop_folder(store, drop, "TX")["failed"] == 1
        assert not boom.exists()
