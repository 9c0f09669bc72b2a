"""Tests of the importer (node/importing/importer.py) and the `import` / `demo-data` commands."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from node.cli import cli
from node.errors import BadRequest, StorageError
from node.importing.importer import import_files
from node.importing.synthetic import generate_students
from node.store.database import Store

ROOT = Path(__file__).resolve().parents[2]
TABLES = ("students", "qualifying_moves", "enrollments", "courses", "assessments",
          "match_keys", "import_runs", "import_rejects")


def keys(record: Any) -> list[str]:
    return [f"d:{record['birth_date']}"]


@pytest.fixture(scope="module")
def raw() -> list[dict[str, Any]]:
    return generate_students("TX", 30, seed=11)


def write_jsonl(path: Path, records: list[Any]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n")
    return path


def write_csv(folder: Path, records: list[dict[str, Any]]) -> Path:
    from node.cli.data import write_csv_tables

    write_csv_tables(folder, records)
    return folder


def snapshot(store: Store) -> dict[str, int]:
    return {t: store.count(t) for t in TABLES}


def versions(store: Store) -> list[tuple[str, int, str]]:
    return store.call(lambda db: db.execute(
        "SELECT state_student_id, record_version, row_hash FROM students ORDER BY 1").fetchall())


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store(tmp_path / "node.db") as s:
        yield s


def test_jsonl_rejects_name_file_line_field_reason(tmp_path: Path, store: Store,
                                                   raw: list[dict[str, Any]]) -> None:
    bad_date = dict(raw[1], birth_date="2012-13-10", sex="Q")
    src = write_jsonl(tmp_path / "tx.jsonl", [raw[0], bad_date, "{not json", "", raw[2]])
    report = import_files(store, [src], owner_state="TX", keys_fn=keys, progress=False)
    got = {(r.line, r.field, r.reason) for r in report.rejects}
    assert (2, "birth_date", "not a date (2012-13-10)") in got
    assert any(line == 2 and f == "sex" for line, f, _ in got)
    assert any(line == 3 and f == "(line)" and "not valid JSON" in r for line, f, r in got)
    assert all(r.file == str(src) for r in report.rejects)
    assert report.result.inserted == 2 and report.rejected_rows == 2
    with pytest.raises(Exception, match="no student"):
        store.get_student(raw[1]["state_student_id"])
    rejects = [json.loads(x) for x in (tmp_path / "tx.jsonl.rejects.jsonl").read_text().split("\n")
               if x]
    assert [r["line"] for r in rejects] == [2, 3]
    assert rejects[0]["record"]["state_student_id"] == raw[1]["state_student_id"]
    runs = store.call(lambda db: db.execute("SELECT students, rejected FROM import_runs")
                      .fetchall())
    assert runs == [(2, 2)]
    assert store.count("import_rejects") == len(report.rejects)


def test_csv_child_error_is_reported_at_the_child_row(tmp_path: Path, store: Store,
                                                      raw: list[dict[str, Any]]) -> None:
    folder = write_csv(tmp_path / "csv", raw[:6])
    path = folder / "courses.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert rows, "fixture needs at least one course"
    rows[0]["credits_granted"] = "lots"
    victim = rows[0]["state_student_id"]
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with (folder / "assessments.csv").open("a", encoding="utf-8", newline="") as fh:
        fh.write("GHOST1" + "," * 8 + "\n")
    report = import_files(store, [folder], owner_state="TX", keys_fn=keys, progress=False)
    got = {(Path(r.file).name, r.line, r.field) for r in report.rejects}
    assert ("courses.csv", 2, "credits_granted") in got
    assert any(name == "assessments.csv" and f == "state_student_id" for name, _, f in got)
    assert report.result.inserted == 5
    with pytest.raises(Exception, match="no student"):
        store.get_student(victim)
    written = (folder / "courses.csv.rejects.csv").read_text().splitlines()
    assert written[0] == "line,field,reason" and written[1].startswith("2,credits_granted,")


def test_csv_and_jsonl_give_the_same_records(tmp_path: Path, raw: list[dict[str, Any]]) -> None:
    with Store(tmp_path / "a.db") as a, Store(tmp_path / "b.db") as b:
        import_files(a, [write_jsonl(tmp_path / "x.jsonl", raw)], owner_state="TX",
                     keys_fn=keys)
        import_files(b, [write_csv(tmp_path / "csv", raw)], owner_state="TX", keys_fn=keys)
        assert versions(a) == versions(b)
        sid = raw[4]["state_student_id"]
        assert a.get_student(sid) == b.get_student(sid)


def test_reimport_changes_nothing(tmp_path: Path, store: Store,
                                  raw: list[dict[str, Any]]) -> None:
    src = write_jsonl(tmp_path / "tx.jsonl", raw)
    first = import_files(store, [src], owner_state="TX", keys_fn=keys)
    before, vers = snapshot(store), versions(store)
    second = import_files(store, [src], owner_state="TX", keys_fn=keys)
    assert first.result.inserted == 30
    assert (second.result.inserted, second.result.updated, second.result.unchanged) == (0, 0, 30)
    after = snapshot(store)
    assert after.pop("import_runs") == before.pop("import_runs") + 1
    assert after == before and versions(store) == vers


def test_duplicate_ids_and_foreign_owner(tmp_path: Path, store: Store,
                                         raw: list[dict[str, Any]]) -> None:
    foreign = dict(raw[1], owner_state="CA")
    src = write_jsonl(tmp_path / "tx.jsonl", [raw[0], raw[0], foreign])
    report = import_files(store, [src], owner_state="TX", keys_fn=keys)
    got = {(r.line, r.field) for r in report.rejects}
    assert got == {(2, "state_student_id"), (3, "owner_state")}
    assert "duplicate of tx.jsonl line 1" in report.rejects[0].reason


def test_stale_rejects_file_is_removed(tmp_path: Path, store: Store,
                                       raw: list[dict[str, Any]]) -> None:
    src = write_jsonl(tmp_path / "tx.jsonl", [raw[0], "{"])
    import_files(store, [src], owner_state="TX", keys_fn=keys)
    assert (tmp_path / "tx.jsonl.rejects.jsonl").exists()
    write_jsonl(src, [raw[0]])
    import_files(store, [src], owner_state="TX", keys_fn=keys)
    assert not (tmp_path / "tx.jsonl.rejects.jsonl").exists()


def test_bad_inputs(tmp_path: Path, store: Store) -> None:
    (tmp_path / "pupils.csv").write_text("a\n1\n")
    with pytest.raises(BadRequest, match="named after its table"):
        import_files(store, [tmp_path / "pupils.csv"], owner_state="TX")
    (tmp_path / "x.txt").write_text("<x/>")
    with pytest.raises(BadRequest, match="unknown input format"):
        import_files(store, [tmp_path / "x.txt"], owner_state="TX")
    (tmp_path / "x.xml").write_text("<x/>")  # XML, but no Ed-Fi interchange
    with pytest.raises(BadRequest, match=r"x.xml: not an Ed-Fi Data Standard 5.x interchange"):
        import_files(store, [tmp_path / "x.xml"], owner_state="TX")
    (tmp_path / "courses.csv").write_text("a\n1\n")
    with pytest.raises(BadRequest, match=r"needs students.csv"):
        import_files(store, [tmp_path / "courses.csv"], owner_state="TX")
    (tmp_path / "latin1.jsonl").write_bytes('{"first_name": "José"}'.encode("latin-1"))
    with pytest.raises(BadRequest, match="not UTF-8"):
        import_files(store, [tmp_path / "latin1.jsonl"], owner_state="TX")


def test_read_only_database_leaves_nothing_half_written(tmp_path: Path, store: Store,
                                                        raw: list[dict[str, Any]]) -> None:
    import_files(store, [write_jsonl(tmp_path / "a.jsonl", raw[:5])], owner_state="TX",
                 keys_fn=keys)
    before = snapshot(store)
    store.call(lambda db: db.execute("PRAGMA query_only=ON"))
    with pytest.raises(StorageError, match="read-only; nothing was saved"):
        import_files(store, [write_jsonl(tmp_path / "b.jsonl", raw)], owner_state="TX",
                     keys_fn=keys)
    store.call(lambda db: db.execute("PRAGMA query_only=OFF"))
    assert snapshot(store) == before


def test_fault_in_upsert_rolls_back_everything(tmp_path: Path, store: Store,
                                               raw: list[dict[str, Any]]) -> None:
    import_files(store, [write_jsonl(tmp_path / "a.jsonl", raw[:5])], owner_state="TX",
                 keys_fn=keys)
    before, vers = snapshot(store), versions(store)
    changed = [dict(r, first_name="Nuevo") for r in raw]
    seen = 0

    def faulty(record: Any) -> list[str]:
        nonlocal seen
        seen += 1
        if seen == 12:
            raise RuntimeError("injected fault")
        return keys(record)

    with pytest.raises(RuntimeError):
        import_files(store, [write_jsonl(tmp_path / "b.jsonl", changed)], owner_state="TX",
                     keys_fn=faulty)
    assert snapshot(store) == before and versions(store) == vers


def test_sigkill_mid_import_leaves_database_as_before(tmp_path: Path,
                                                      raw: list[dict[str, Any]]) -> None:
    db = tmp_path / "node.db"
    with Store(db) as s:
        import_files(s, [write_jsonl(tmp_path / "a.jsonl", raw[:5])], owner_state="TX",
                     keys_fn=keys)
        before, vers = snapshot(s), versions(s)
    src = write_jsonl(tmp_path / "b.jsonl", [dict(r, first_name="Nuevo") for r in raw])
    script = textwrap.dedent(f"""
        import os, signal, sys
        import node.store.record_upsert as upsert
        import node.store.database as store
        real = upsert._insert
        def killer(conn, table, lead, rows):
            real(conn, table, lead, rows)
            if table == "courses":  # students, moves, enrollments written, not committed
                os.kill(os.getpid(), signal.SIGKILL)
        upsert._insert = killer
        from node.importing.importer import import_files
        s = store.Store({str(db)!r})
        import_files(s, [{str(src)!r}], owner_state="TX", keys_fn=lambda r: ["k"])
        print("not killed")
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert proc.returncode == -9, proc.stderr
    with Store(db) as s:
        assert s.call(lambda d: d.execute("PRAGMA integrity_check").fetchone()[0]) == "ok"
        assert snapshot(s) == before and versions(s) == vers


# ---- the CLI ---------------------------------------------------------------------------

@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "node.toml"
    path.write_text('[node]\nid = "TX"\n\n[storage]\ndatabase = "node.db"\n')
    return path


def test_cli_exit_codes(tmp_path: Path, config: Path, raw: list[dict[str, Any]]) -> None:
    runner = CliRunner()
    good = write_jsonl(tmp_path / "good.jsonl", raw[:3])
    res = runner.invoke(cli, ["import", "-c", str(config), str(good)], obj={})
    assert res.exit_code == 0, res.output
    assert "3 valid students (3 new" in res.output
    bad = write_jsonl(tmp_path / "bad.jsonl", [raw[4], dict(raw[5], sex="Q")])
    res = runner.invoke(cli, ["import", "-c", str(config), str(bad)], obj={})
    assert res.exit_code == 3
    assert f"{bad} line 2: sex: not one of F, M, X" in res.output
    (tmp_path / "x.txt").write_text("")
    res = runner.invoke(cli, ["import", "-c", str(config), str(tmp_path / "x.txt")], obj={})
    assert res.exit_code == 1 and "unknown input format" in res.output


def test_cli_import_next_to_a_running_node_checks_first(
        tmp_path: Path, config: Path, raw: list[dict[str, Any]]) -> None:
    """With the node running (control.json names a live process), the CLI checks every
    student before it takes the write lock on node.db, and says so."""
    from config import load_config
    from node.control.api import control_file

    good = write_jsonl(tmp_path / "good.jsonl", raw[:3])
    ctl = control_file(load_config(config))
    ctl.write_text(json.dumps({"pid": os.getpid(), "url": "http://127.0.0.1:9"}))
    res = CliRunner().invoke(cli, ["import", "-c", str(config), str(good)], obj={})
    assert res.exit_code == 0, res.output
    assert "the node is running: every student is checked first" in res.output
    assert "3 valid students (3 new" in res.output
    ctl.write_text(json.dumps({"pid": 2**22 + 12345, "url": "http://127.0.0.1:9"}))  # gone
    res = CliRunner().invoke(cli, ["import", "-c", str(config), str(good)], obj={})
    assert res.exit_code == 0 and "node is running" not in res.output


def test_cli_demo_data_with_overlap(tmp_path: Path, config: Path) -> None:
    runner = CliRunner()
    ca, tx = tmp_path / "ca.jsonl", tmp_path / "tx.jsonl"
    assert runner.invoke(cli, ["demo-data", "--state", "CA", "--count", "40", "--seed", "1",
                               str(ca)], obj={}).exit_code == 0
    res = runner.invoke(cli, ["demo-data", "--state", "TX", "--count", "30", "--seed", "1",
                              "--overlap", str(ca), "--share", "0.5", str(tx)], obj={})
    assert res.exit_code == 0, res.output
    lines = tx.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 30
    truth = list(csv.DictReader((tmp_path / "tx.jsonl.truth.csv").open(encoding="utf-8")))
    assert len(truth) == 20
    res = runner.invoke(cli, ["import", "-c", str(config), str(tx)], obj={})
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["demo-data", "--state", "TX", "--count", "10", "--format", "csv",
                              str(tmp_path / "csv")], obj={})
    assert res.exit_code == 0 and (tmp_path / "csv" / "courses.csv").exists()
    res = runner.invoke(cli, ["import", "-c", str(config), str(tmp_path / "csv")], obj={})
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["demo-data", "--state", "ZZ", str(tmp_path / "z.jsonl")], obj={})
    assert res.exit_code == 1 and "not a USPS state code" in res.output


# ---- the parallel and bulk paths --------------------------------------------------------

def boom_keys(record: Any) -> list[str]:
    """Picklable keys function that fails inside a worker process on one record."""
    if record.get("first_name") == "Boom":
        raise RuntimeError("injected fault in a worker")
    return keys(record)


def dump(store: Store) -> dict[str, list[Any]]:
    out = {}
    for table in TABLES:
        cols = [c[1] for c in store.call(lambda db, t=table: db.execute(
            f"PRAGMA table_info({t})").fetchall()) if c[1] not in
                ("updated_at", "started_at", "finished_at", "id", "run_id", "file", "files")]
        out[table] = store.call(lambda db, t=table, c=cols: db.execute(
            f"SELECT {', '.join(c)} FROM {t} ORDER BY {', '.join(c)}").fetchall())
    out["ids"] = store.call(lambda db: db.execute(
        "SELECT id, state_student_id FROM students ORDER BY id").fetchall())
    out["indexes"] = store.call(lambda db: db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name").fetchall())
    return out


@pytest.fixture
def mixed(tmp_path: Path, raw: list[dict[str, Any]]) -> list[Any]:
    bad = dict(raw[3], birth_date="2099-01-01", sex="Q")
    return [*raw[:10], "{not json", "", bad, raw[4], *raw[10:], dict(raw[0], first_name="Otro")]


def test_parallel_path_gives_the_same_database_and_rejects(
        tmp_path: Path, mixed: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import node.importing.json_lines as import_jsonl

    monkeypatch.setattr(import_jsonl, "CHUNK_BYTES", 5000)  # several work items and writes
    reports, dumps, rejects = [], [], []
    for workers, first in ((0, False), (2, False), (0, True)):
        (tmp_path / f"w{workers}{first}").mkdir()
        src = write_jsonl(tmp_path / f"w{workers}{first}" / "tx.jsonl", mixed)
        with Store(tmp_path / f"w{workers}{first}.db") as s:
            reports.append(import_files(s, [src], owner_state="TX", keys_fn=keys,
                                        workers=workers, parallel_min=0, prepare_first=first))
            dumps.append(dump(s))
        rejects.append(Path(f"{src}.rejects.jsonl").read_text())
    serial, parallel, prepared_first = reports
    assert prepared_first.result == serial.result and dumps[2] == dumps[0]
    assert prepared_first.rejects == tuple(
        r.__class__(r.file.replace("w0False", "w0True"), r.line, r.field, r.reason)
        for r in serial.rejects) and rejects[2] == rejects[0]
    assert [(r.line, r.field, r.reason) for r in serial.rejects] == \
           [(r.line, r.field, r.reason) for r in parallel.rejects]
    assert {r.line for r in serial.rejects} == {11, 13, 14, 35}  # JSON, fields, 2 duplicates
    assert serial.students == parallel.students == 30
    assert serial.result == parallel.result
    assert dumps[0] == dumps[1]
    assert rejects[0] == rejects[1] and '"first_name": "Otro"' in rejects[0]


def test_parallel_reimport_is_idempotent(tmp_path: Path, store: Store,
                                         raw: list[dict[str, Any]]) -> None:
    src = write_jsonl(tmp_path / "x.jsonl", raw)
    first = import_files(store, [src], owner_state="TX", keys_fn=keys, workers=2,
                         parallel_min=0)
    before = dump(store)
    again = import_files(store, [src], owner_state="TX", keys_fn=keys, workers=2,
                         parallel_min=0)
    assert (first.result.inserted, again.result.unchanged, again.result.inserted) == (30, 30, 0)
    after = dump(store)
    assert {k: v for k, v in after.items() if k not in ("import_runs",)} == \
           {k: v for k, v in before.items() if k not in ("import_runs",)}


def test_unpicklable_keys_fn_falls_back_to_in_process(tmp_path: Path, store: Store,
                                                      raw: list[dict[str, Any]]) -> None:
    src = write_jsonl(tmp_path / "x.jsonl", raw)
    report = import_files(store, [src], owner_state="TX", keys_fn=lambda r: ["k"], workers=2,
                          parallel_min=0)
    assert report.result.inserted == 30 and store.count("match_keys") == 30


def test_worker_failure_rolls_back_everything(tmp_path: Path, store: Store,
                                              raw: list[dict[str, Any]],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import node.importing.json_lines as import_jsonl

    monkeypatch.setattr(import_jsonl, "CHUNK_BYTES", 1)  # one line per piece
    import_files(store, [write_jsonl(tmp_path / "a.jsonl", raw[:5])], owner_state="TX",
                 keys_fn=keys)
    before, vers = snapshot(store), versions(store)
    changed = [dict(r, first_name="Nuevo") for r in raw]
    changed[22]["first_name"] = "Boom"  # its chunk comes after earlier chunks were written
    with pytest.raises(RuntimeError, match="injected fault"):
        import_files(store, [write_jsonl(tmp_path / "b.jsonl", changed)], owner_state="TX",
                     keys_fn=boom_keys, workers=2, parallel_min=0)
    assert snapshot(store) == before and versions(store) == vers


def test_bulk_path_rebuilds_indexes_and_matches_the_plain_path(
        tmp_path: Path, raw: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    import node.store.record_upsert as store_mod

    src = write_jsonl(tmp_path / "x.jsonl", raw)
    with Store(tmp_path / "plain.db") as s:
        import_files(s, [src], owner_state="TX", keys_fn=keys)
        plain = dump(s)
    monkeypatch.setattr(store_mod, "BULK_MIN", 1)
    with Store(tmp_path / "bulk.db") as s:
        cache = s.call(lambda d: d.execute("PRAGMA cache_size").fetchone()[0])
        import_files(s, [src], owner_state="TX", keys_fn=keys, workers=2, parallel_min=0)
        assert dump(s) == plain  # same rows, same indexes
        assert s.call(lambda d: d.execute("PRAGMA cache_size").fetchone()[0]) == cache
        assert s.call(lambda d: d.execute("PRAGMA integrity_check").fetchone()[0]) == "ok"
    with Store(tmp_path / "bulk-fail.db") as s:
        boom = [*raw[:20], dict(raw[20], first_name="Boom"), *raw[21:]]
        with pytest.raises(RuntimeError):
            import_files(s, [write_jsonl(tmp_path / "b.jsonl", boom)], owner_state="TX",
                         keys_fn=boom_keys, workers=0)
        assert snapshot(s) == dict.fromkeys(TABLES, 0)
        assert dump(s)["indexes"] == plain["indexes"]  # the dropped indexes came back


@pytest.mark.parametrize("workers", [0, 2])
def test_line_ends_and_bom_are_numbered_as_an_editor_shows_them(
        tmp_path: Path, raw: list[dict[str, Any]], workers: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import node.importing.json_lines as import_jsonl

    lines = [json.dumps(r, ensure_ascii=False).encode() for r in raw[:6]]
    # \r\n, a lone \r, a blank line and a bad line, over pieces of about one line each
    body = (lines[0] + b"\r\n" + lines[1] + b"\r" + lines[2] + b"\n\n" + b"{bad\r\n"
            + lines[3] + b"\n" + lines[3] + b"\n" + lines[4] + b"\r\n" + lines[5])
    src = tmp_path / "tx.jsonl"
    src.write_bytes(b"\xef\xbb\xbf" + body)
    for size in (1, 3000, 1 << 20):
        monkeypatch.setattr(import_jsonl, "CHUNK_BYTES", size)
        with Store(tmp_path / f"{size}-{workers}.db") as s:
            report = import_files(s, [src], owner_state="TX", keys_fn=keys, workers=workers,
                                  parallel_min=0)
        assert [(r.line, r.field) for r in report.rejects] == \
               [(5, "(line)"), (7, "state_student_id")], size
        assert "duplicate of tx.jsonl line 6" in report.rejects[1].reason
        assert report.students == 6 and report.result.inserted == 6
        kept = [json.loads(x) for x in Path(f"{src}.rejects.jsonl").read_text().splitlines()]
        assert [k["record"] for k in kept] == ["{bad", raw[3]]


@pytest.mark.parametrize("workers", [0, 2])
def test_a_line_that_is_not_utf8_refuses_the_file_and_names_the_line(
        tmp_path: Path, store: Store, raw: list[dict[str, Any]], workers: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import node.importing.json_lines as import_jsonl

    import_files(store, [write_jsonl(tmp_path / "a.jsonl", raw[:3])], owner_state="TX",
                 keys_fn=keys)
    before, vers = snapshot(store), versions(store)
    monkeypatch.setattr(import_jsonl, "CHUNK_BYTES", 1)  # earlier pieces are written first
    src = write_jsonl(tmp_path / "b.jsonl", [dict(r, first_name="Nuevo") for r in raw])
    text = src.read_bytes().split(b"\n")
    text[16] = text[16].replace(b"Nuevo", "Néstor".encode("latin-1"))
    src.write_bytes(b"\n".join(text))
    with pytest.raises(BadRequest, match=r"b\.jsonl line 17: not UTF-8 text \(byte 0xE9 at "):
        import_files(store, [src], owner_state="TX", keys_fn=keys, workers=workers,
                     parallel_min=0)
    assert snapshot(store) == before and versions(store) == vers


def test_a_csv_file_that_is_not_utf8_is_named(tmp_path: Path, store: Store) -> None:
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "students.csv").write_bytes(
        "state_student_id,first_name\r\nA1,Ana\rA2,José\n".encode("latin-1"))
    with pytest.raises(BadRequest, match=r"students\.csv line 3: not UTF-8 text \(byte 0xE9 "
                                         r"at byte 7 of the line\)"):
        import_files(store, [folder], owner_state="TX", keys_fn=keys)
    assert snapshot(store)["students"] == 0


def test_the_garbage_collector_is_back_as_it_was(tmp_path: Path, store: Store,
                                                 raw: list[dict[str, Any]]) -> None:
    import gc

    src = write_jsonl(tmp_path / "x.jsonl", raw[:3])
    assert gc.isenabled()
    import_files(store, [src], owner_state="TX", keys_fn=keys)
    assert gc.isenabled()
    with pytest.raises(BadRequest):
        import_files(store, [tmp_path / "missing.jsonl"], owner_state="TX")
    assert gc.isenabled()
    gc.disable()
    try:
        import_files(store, [src], owner_state="TX", keys_fn=keys)
        assert not gc.isenabled()
    finally:
        gc.enable()
    seen = []  # inside a node (the drop-folder job) the collector stays on
    import_files(store, [src], owner_state="TX", keys_fn=lambda r: seen.append(gc.isenabled())
                 or ["k"], pause_gc=False)
    assert seen and all(seen)
    seen.clear()
    import_files(store, [src], owner_state="TX", keys_fn=lambda r: seen.append(gc.isenabled())
                 or ["k"])
    assert seen and not any(seen)


def test_csv_in_workers_gives_the_same_database_and_rejects(
        tmp_path: Path, raw: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    import node.importing.csv_tables as import_csv

    monkeypatch.setattr(import_csv, "CHUNK_STUDENTS", 4)  # several work items and writes
    folder = write_csv(tmp_path / "csv", raw)
    students = (folder / "students.csv").read_text(encoding="utf-8").splitlines()
    students.insert(3, "")  # a blank line
    students.append(students[5])  # a duplicate id
    students.append(students[6] + ",extra,values" + "," * 40)  # too many values
    (folder / "students.csv").write_text("\n".join(students) + "\n", encoding="utf-8")
    with (folder / "assessments.csv").open("a", encoding="utf-8", newline="") as fh:
        fh.write("GHOST1" + "," * 8 + "\n")  # no such student
    courses = folder / "courses.csv"
    rows = list(csv.DictReader(courses.open(encoding="utf-8")))
    rows[1]["credits_granted"] = "lots"
    with courses.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    reports, dumps = [], []
    for workers in (0, 2):
        with Store(tmp_path / f"w{workers}.db") as s:
            reports.append(import_files(s, [folder], owner_state="TX", keys_fn=keys,
                                        workers=workers, parallel_min=0,
                                        write_rejects_files=False))
            dumps.append(dump(s))
    serial, parallel = reports
    got = [(Path(r.file).name, r.line, r.field) for r in serial.rejects]
    assert got == [(Path(r.file).name, r.line, r.field) for r in parallel.rejects]
    assert ("students.csv", 33, "state_student_id") in got  # the duplicate (after a blank)
    assert ("students.csv", 34, "(line)") in got
    assert ("courses.csv", 3, "credits_granted") in got
    assert any(name == "assessments.csv" and f == "state_student_id" for name, _, f in got)
    assert serial.students == parallel.students == 29
    assert serial.result == parallel.result and dumps[0] == dumps[1]


def test_prepare_first_checks_in_the_calling_thread(tmp_path: Path, store: Store,
                                                    raw: list[dict[str, Any]]) -> None:
    """The drop-folder job's mode: the store's writer thread (busy for every write of a
    running node) is taken only for the writes, not while students are checked."""
    import threading

    src = write_jsonl(tmp_path / "x.jsonl", raw[:5])
    threads: list[str] = []

    def spy(record: Any) -> list[str]:
        threads.append(threading.current_thread().name)
        return keys(record)

    import_files(store, [src], owner_state="TX", keys_fn=spy, workers=0)
    assert threads and all(t.startswith("store") for t in threads)
    threads.clear()
    import_files(store, [src], owner_state="TX", keys_fn=spy, workers=0, prepare_first=True)
    assert threads == [threading.current_thread().name] * 5


def test_pathological_rows_are_named_not_tracebacks(tmp_path: Path, store: Store,
                                                    raw: list[dict[str, Any]]) -> None:
    """JSON nested deeper than Python's recursion limit is a rejected line; a CSV field
    over the csv module's 128 KiB limit refuses the folder, naming the line."""
    src = write_jsonl(tmp_path / "deep.jsonl", [raw[0], "[" * 100_000 + "]" * 100_000])
    report = import_files(store, [src], owner_state="TX", keys_fn=keys)
    assert [(r.line, r.field, r.reason) for r in report.rejects] == [
        (2, "(line)", "not valid JSON (nested too deeply)")]
    assert report.result.inserted == 1
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "students.csv").write_text("state_student_id,first_name\nA1,Ana\nA2,"
                                         + "x" * 200_000 + "\n")
    before = snapshot(store)
    with pytest.raises(BadRequest, match=r"students\.csv line 3: not a readable CSV row "
                                         r"\(field larger than field limit"):
        import_files(store, [folder], owner_state="TX", keys_fn=keys)
    assert snapshot(store) == before


def test_csv_read_in_tiny_blocks_gives_the_same_rows(
        tmp_path: Path, raw: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Line ends split across read blocks (\\r|\\n), lone \\r, a BOM and a quoted field
    with a line break inside: the same rejects and records whatever the block size."""
    import node.importing.csv_tables as import_csv

    folder = write_csv(tmp_path / "csv", raw[:8])
    text = (folder / "students.csv").read_text(encoding="utf-8").splitlines()
    body = "\r\n".join(text[:4]) + "\r" + "\n".join(text[4:]) + "\n"
    body = body.replace(raw[2]["first_name"], f'"{raw[2]["first_name"]}\nX"', 1)
    (folder / "students.csv").write_bytes(b"\xef\xbb\xbf" + body.encode())
    results = []
    for block in (1, 3, 1 << 16):
        monkeypatch.setattr(import_csv, "READ_BLOCK", block)
        with Store(tmp_path / f"b{block}.db") as s:
            report = import_files(s, [folder], owner_state="TX", keys_fn=keys,
                                  write_rejects_files=False)
            results.append(([(r.line, r.field) for r in report.rejects], dump(s)))
    assert results[0] == results[1] == results[2]
    assert results[0][0] and results[0][0][0][1] == "first_name"  # the line break in a name
    assert len(results[0][1]["ids"]) == 7
