"""A real `statenode import` refuses mistyped fields and records without a qualifying move
(issue 12 item 6; docs/IMPORT.md "Fields", docs/SECURITY.md "Hardening (issue 12)").

JSON Lines is typed input: a number, list or object where the record has text is not
stored as text, text or true/false where it has a number is not a number, and a flag is
true or false. CSV cells are text and are converted by the column's kind, as before. A
student with no qualifying move is not a migrant child's record; Ed-Fi's
LastQualifyingMove (`last_qualifying_move`) stands in only when no move is given. A
rejected row names its line and field and leaves nothing stored.
"""

from __future__ import annotations

import copy
import csv
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import child

TABLES = ("students", "qualifying_moves", "enrollments", "courses", "assessments",
          "match_keys")


def statenode() -> str:
    """The installed `statenode` command (this interpreter's)."""
    beside = Path(sys.prefix) / "bin" / "statenode"
    found = str(beside) if beside.exists() else shutil.which("statenode")
    assert found, "the statenode command is not installed (pip install -e .)"
    return found


def good(sid: str) -> dict[str, Any]:
    record = child(sid, "Ana", "Ruiz", "Soto", "2011-05-06",
                   courses=(("Algebra I", "Mathematics", 1.0, 0.5),))
    record["multiple_birth"] = False
    return record


@pytest.fixture
def node(tmp_path: Path) -> Path:
    folder = tmp_path / "node"
    folder.mkdir()
    (folder / "node.toml").write_text('[node]\nid = "TX"\n\n[storage]\ndatabase = "node.db"\n')
    return folder


def run_import(node: Path, *inputs: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([statenode(), "import", "--no-progress", "-c",
                           str(node / "node.toml"), *map(str, inputs)],
                          capture_output=True, text=True, timeout=120, check=False)


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                    encoding="utf-8")
    return path


def stored(node: Path, sid: str) -> dict[str, int]:
    """Rows of student `sid` in each record table (0 everywhere: nothing stored)."""
    with sqlite3.connect(node / "node.db") as db:
        row = db.execute("SELECT id FROM students WHERE state_student_id = ?", [sid]).fetchone()
        if row is None:
            return dict.fromkeys(TABLES, 0)
        counts = {"students": 1}
        for table in ("qualifying_moves", "enrollments", "assessments", "match_keys"):
            counts[table] = db.execute(f"SELECT count(*) FROM {table} WHERE student_id = ?",
                                       [row[0]]).fetchone()[0]
        counts["courses"] = db.execute(
            "SELECT count(*) FROM courses WHERE enrollment_row IN "
            "(SELECT id FROM enrollments WHERE student_id = ?)", [row[0]]).fetchone()[0]
        return counts


def rejects_of(path: Path) -> dict[int, list[tuple[str, str]]]:
    lines = Path(f"{path}.rejects.jsonl").read_text(encoding="utf-8").splitlines()
    out: dict[int, list[tuple[str, str]]] = {}
    for line in lines:
        item = json.loads(line)
        out[item["line"]] = [(e["field"], e["reason"]) for e in item["errors"]]
    return out


def test_a_number_where_the_record_has_text_is_a_rejected_row(node: Path) -> None:
    records = [good("TX1")]
    for n, (path, value) in enumerate([
        (("first_name",), 123),                                   # line 2 (was stored '123')
        (("last_name_1",), ["Ruiz"]),                             # line 3
        (("middle_name",), {"given": "Isabel"}),                  # line 4
        (("multiple_birth",), "yes"),                             # line 5: a flag is true/false
        (("enrollments", 0, "courses", 0, "credits_granted"), "0.5"),  # line 6
        (("enrollments", 0, "courses", 0, "begin_academic_year"), True),  # line 7
        (("enrollments", 0, "enrollment_id"), 1),                 # line 8
        (("parent1_phone",), 5125550123),                         # line 9
    ], start=2):
        record = good(f"TX{n}")
        target: Any = record
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
        records.append(record)
    src = write_jsonl(node / "tx.jsonl", records)
    proc = run_import(node, src)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "1 valid students" in proc.stdout
    assert f"{src} line 2: first_name: expected text, got a number" in proc.stderr
    assert rejects_of(src) == {
        2: [("first_name", "expected text, got a number")],
        3: [("last_name_1", "expected text, got a list")],
        4: [("middle_name", "expected text, got an object")],
        5: [("multiple_birth", "expected true or false, got text")],
        6: [("enrollments[0].courses[0].credits_granted", "expected a number, got text")],
        7: [("enrollments[0].courses[0].begin_academic_year",
             "expected a number, got true/false")],
        8: [("enrollments[0].enrollment_id", "expected text, got a number")],
        9: [("parent1_phone", "expected text, got a number")],
    }
    assert stored(node, "TX1")["students"] == 1
    for n in range(2, 10):
        assert stored(node, f"TX{n}") == dict.fromkeys(TABLES, 0), n


def test_a_student_without_a_qualifying_move_is_rejected(node: Path) -> None:
    empty, missing, null = good("TX2"), good("TX3"), good("TX4")
    empty["qualifying_moves"] = []
    del missing["qualifying_moves"]
    null["qualifying_moves"] = None
    src = write_jsonl(node / "tx.jsonl", [good("TX1"), empty, missing, null])
    proc = run_import(node, src)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert f"{src} line 2: qualifying_moves: required" in proc.stderr
    rejects = rejects_of(src)
    assert sorted(rejects) == [2, 3, 4]
    for errors in rejects.values():
        [(field, reason)] = errors
        assert field == "qualifying_moves" and reason.startswith("required: a migrant child")
    assert stored(node, "TX1")["qualifying_moves"] == 1
    for sid in ("TX2", "TX3", "TX4"):
        assert stored(node, sid) == dict.fromkeys(TABLES, 0), sid


def test_last_qualifying_move_stands_in_when_no_move_is_given(node: Path) -> None:
    edfi = good("TX1")  # an Ed-Fi export: only StudentMigrantEducationProgram.LastQualifyingMove
    del edfi["qualifying_moves"]
    edfi["last_qualifying_move"] = "2024-03-15"
    both = good("TX2")  # moves given: they are the record, the date is only checked
    both["last_qualifying_move"] = "2023-01-01"
    mistyped, before_birth = copy.deepcopy(edfi), copy.deepcopy(edfi)
    mistyped.update(state_student_id="TX3", last_qualifying_move=20240315)
    before_birth.update(state_student_id="TX4", last_qualifying_move="2010-01-01")
    src = write_jsonl(node / "tx.jsonl", [edfi, both, mistyped, before_birth])
    proc = run_import(node, src)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    rejects = rejects_of(src)
    assert rejects[3] == [("last_qualifying_move", "expected text, got a number")]
    assert [f for f, _ in rejects[4]] == ["last_qualifying_move"]
    assert "before birth" in rejects[4][0][1]
    assert sorted(rejects) == [3, 4]
    with sqlite3.connect(node / "node.db") as db:
        moves = db.execute(
            "SELECT s.state_student_id, m.qualifying_arrival_date FROM qualifying_moves m "
            "JOIN students s ON s.id = m.student_id ORDER BY 1").fetchall()
    assert moves == [("TX1", "2024-03-15"), ("TX2", "2024-08-01")]
    # the same record with the move spelled out is the same content: re-import changes nothing
    spelled = dict(good("TX1"), qualifying_moves=[{"qualifying_arrival_date": "2024-03-15"}])
    proc = run_import(node, write_jsonl(node / "again.jsonl", [spelled]))
    assert proc.returncode == 0 and "1 unchanged" in proc.stdout, proc.stdout + proc.stderr


def test_csv_cells_are_converted_and_a_student_needs_a_move(node: Path) -> None:
    folder = node / "csv"
    folder.mkdir()
    with (folder / "students.csv").open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["state_student_id", "first_name", "last_name_1", "sex", "birth_date",
                      "multiple_birth", "last_qualifying_move"])
        out.writerow(["TX1", "Ana", "Ruiz", "F", "2011-05-06", "N", ""])
        out.writerow(["TX2", "Eva", "Soto", "F", "2011-05-07", "yes", ""])
        out.writerow(["TX3", "Luz", "Mora", "F", "2011-05-08", "0", "2024-02-01"])
    with (folder / "qualifying_moves.csv").open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["state_student_id", "qualifying_arrival_date"])
        out.writerow(["TX1", "2024-08-01"])
    proc = run_import(node, folder)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    rejects = (folder / "students.csv.rejects.csv").read_text(encoding="utf-8").splitlines()
    assert len(rejects) == 2 and rejects[1].startswith("3,qualifying_moves,required")
    assert stored(node, "TX1")["qualifying_moves"] == 1
    assert stored(node, "TX2") == dict.fromkeys(TABLES, 0)
    assert stored(node, "TX3")["qualifying_moves"] == 1
