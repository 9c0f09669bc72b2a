"""Hostile import files: arbitrary and mutated JSON Lines / CSV bytes never crash the
importer, every reject names its file and line, only our errors escape, and rows that are
not valid students never reach the record tables (docs/IMPORT.md, docs/SECURITY.md)."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.errors import NodeError
from node.importing.importer import import_files
from node.importing.synthetic import generate_students
from node.store.database import Store

RECORD_TABLES = ("students", "qualifying_moves", "enrollments", "courses", "assessments",
                 "match_keys")
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])
VALID = "".join(json.dumps(r, ensure_ascii=False) + "\n"
                for r in generate_students("TX", 3, seed=5)).encode()


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    with tempfile.TemporaryDirectory() as d, Store(Path(d) / "node.db") as s:
        yield s


def _counts(store: Store) -> dict[str, int]:
    return {t: store.count(t) for t in RECORD_TABLES}


def _run(store: Store, path: Path) -> int:
    """Import `path`; return how many students were accepted. Only our errors may escape."""
    before = _counts(store)
    try:
        report = import_files(store, [path], owner_state="TX", progress=False, workers=0,
                              write_rejects_files=False)
    except NodeError as exc:  # e.g. not UTF-8: refused as a whole
        assert str(exc) and _counts(store) == before
        return 0
    lines = len(re.split(rb"\r\n|\r|\n", path.read_bytes()))  # universal newlines
    for r in report.rejects:
        assert r.file.endswith(path.name) and 1 <= r.line <= lines, r
        assert r.reason
    if report.students == 0:
        assert _counts(store) == before  # nothing half-written
    return report.students


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["set", "insert", "delete"]))
        if op == "set":
            data[i] = draw(st.sampled_from(b'{}[]",:\n\\0aZ\xc3\x00 -'))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[i:i + draw(st.integers(1, 30))]
    return bytes(data)


@SETTINGS
@given(st.binary(max_size=1500))
def test_arbitrary_jsonl_bytes(store: Store, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "in.jsonl"
        path.write_bytes(data)
        assert _run(store, path) == 0


@SETTINGS
@given(st.lists(st.text(max_size=80), max_size=12))
def test_arbitrary_jsonl_text_lines(store: Store, lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "in.jsonl"
        text = "\n".join(lines)
        if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
            return  # lone surrogates cannot be written as UTF-8
        path.write_text(text, encoding="utf-8")
        assert _run(store, path) == 0


@SETTINGS
@given(mutated(VALID))
def test_mutated_valid_jsonl(store: Store, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "in.jsonl"
        path.write_bytes(data)
        _run(store, path)


@SETTINGS
@given(st.binary(max_size=1200))
def test_arbitrary_csv_bytes(store: Store, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        (folder / "students.csv").write_bytes(data)
        try:
            report = import_files(store, [folder], owner_state="TX", progress=False, workers=0,
                                  write_rejects_files=False)
        except NodeError as exc:
            assert str(exc)
            return
        for r in report.rejects:
            assert r.file.endswith("students.csv") and r.line >= 1, r
        assert report.students == 0
