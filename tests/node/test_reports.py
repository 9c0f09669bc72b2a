"""Reports (issue 15 item 5): figures checked against SQL written here, independently of
the report code; every page as HTML (with its SVG chart), every table as CSV; the
data-quality drill-down; aggregates kept up to date by imports; roles; CSV injection.

The node is made by `write_node`, its students imported by the real `import_files`
(which recomputes the aggregates at the end of the run), the app is `create_app` with
`setup_web`, driven by aiohttp's test client.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from config import load_config
from crypto.passwords import TEST_COST, hash_password
from node.app import create_app
from node.importing import report_aggregates
from node.importing.importer import import_files
from node.importing.synthetic import generate_students
from node.ops.node_folder import write_node
from node.store import accounts, reports
from node.store.database import Store
from node.web.report_output import Table, csv_text, safe_cell
from node.web.setup import setup_web
from tests.node.test_web_security import PW, token_of

USERS = {"sam": "staff", "dana": "data_admin", "audrey": "auditor", "otto": "operator"}
PAGES = ("/reports", "/reports/child-count", "/reports/mobility", "/reports/move-notices",
         "/reports/worklist-aging", "/data-quality")
EVIL = "=HYPERLINK(\"http://evil.example\")"


@dataclass
class Node:
    db_path: Path
    tmp: Path
    client_for: Any

    async def login(self, username: str) -> TestClient[Any, Any]:
        client = await self.client_for()
        page = await (await client.get("/login")).text()
        resp = await client.post("/login", allow_redirects=False, data={
            "username": username, "password": PW, "csrf_token": token_of(page), "next": "/"})
        assert resp.status == 303, await resp.text()
        return client


def _jsonl(path: Path, students: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(s) + "\n" for s in students), encoding="utf-8")
    return path


@pytest.fixture
async def node(tmp_path: Path, aiohttp_server: Any, aiohttp_client: Any) -> Node:
    config_path = write_node(tmp_path / "tx", state="TX", name="Texas",
                             endpoint="http://127.0.0.1:0")
    cfg = load_config(config_path)
    students = generate_students("TX", 240, seed=5)
    students[0].update(first_name=EVIL, birth_city="", birth_country="")
    with Store(cfg.storage.database) as store:
        store.call(accounts.apply_migrations)
        phc = hash_password(PW, TEST_COST)
        for name, role in USERS.items():
            store.call(accounts.add_user, name, role, phc)
        import_files(store, [_jsonl(tmp_path / "tx.jsonl", students)], owner_state="TX",
                     progress=False, workers=0, write_rejects_files=False)
    app = create_app(cfg)
    setup_web(app)
    server = await aiohttp_server(app)
    return Node(cfg.storage.database, tmp_path, lambda: aiohttp_client(server))


def _sql(path: Path, sql: str, args: Any = ()) -> list[tuple[Any, ...]]:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# Independent of node/importing/report_aggregates.py: joins and GROUP BY instead of
# EXISTS, the birthdays by SQLite's date(), eligibility as "not expired before start".
INDEPENDENT_CAT = """
SELECT count(DISTINCT s.id) FROM students s
JOIN qualifying_moves q ON q.student_id = s.id
JOIN enrollments e ON e.student_id = s.id
WHERE date(s.birth_date, '+3 years') <= :end AND date(s.birth_date, '+22 years') > :start
  AND q.qualifying_arrival_date <= :end
  AND (CASE WHEN q.eligibility_expiration_date IS NULL
            THEN date(q.qualifying_arrival_date, '+3 years')
            ELSE q.eligibility_expiration_date END) >= :start
  AND e.enrollment_date <= :end AND (e.withdrawal_date IS NULL OR e.withdrawal_date >= :start)
  AND s.id IN (SELECT student_id FROM enrollments WHERE {served})
"""
ANY = "1 = 1"
SERVED = ("enrollment_date <= :end AND (withdrawal_date IS NULL OR withdrawal_date >= :start) "
          "AND (enrollment_type = 'summer_mep' OR mep_project_type LIKE '%summer%' "
          "OR mep_project_type LIKE '%intersession%')")


async def test_child_count_matches_independent_sql(node: Node) -> None:
    client = await node.login("sam")
    resp = await client.get("/reports/child-count?format=csv")
    assert resp.status == 200
    rows = _csv(await resp.text())
    assert rows[0] == ["Performance period", "Category 1", "Category 2"]
    assert len(rows) == 1 + report_aggregates.PERIODS_KEPT
    nonzero = 0
    for label, cat1, cat2 in rows[1:]:
        start = date.fromisoformat(label.split("from ")[1].rstrip(")"))
        args = {"start": start.isoformat(),
                "end": date(start.year + 1, 8, 31).isoformat()}
        want1 = _sql(node.db_path, INDEPENDENT_CAT.format(served=ANY), args)[0][0]
        want2 = _sql(node.db_path, INDEPENDENT_CAT.format(served=SERVED), args)[0][0]
        assert (int(cat1), int(cat2)) == (want1, want2), label
        nonzero += want1 > 0
        assert want2 <= want1
    assert nonzero, "the synthetic children should count in some period"
    html = await (await client.get("/reports/child-count")).text()
    assert "Category 1: eligible migrant children aged 3 through 21" in html
    assert "summer or intersession" in html and "MSIX.md" in html and "<svg" in html


async def test_mobility_matches_independent_sql(node: Node) -> None:
    client = await node.login("dana")
    months = _csv(await (await client.get("/reports/mobility?format=csv&table=months")).text())
    want = dict(_sql(node.db_path,
                     "SELECT strftime('%Y-%m', qualifying_arrival_date), count(*) FROM "
                     "qualifying_moves WHERE move_to_state = 'TX' GROUP BY 1"))
    got = {r[0]: int(r[1]) for r in months[1:]}
    for month in got:
        assert got[month] == want.get(month, 0)
    assert set(want) >= set(got) and sum(got.values()) > 0
    states = _csv(await (await client.get("/reports/mobility?format=csv&table=states")).text())
    want_from = dict(_sql(node.db_path, "SELECT CASE WHEN coalesce(move_from_state, '') = '' "
                          "THEN move_from_country ELSE move_from_state END, count(*) "
                          "FROM qualifying_moves WHERE move_to_state = 'TX' GROUP BY 1"))
    assert {r[0]: int(r[1]) for r in states[1:] if int(r[1])} == want_from


async def test_data_quality_counts_and_drill_down(node: Node) -> None:
    client = await node.login("dana")
    missing = _csv(await (await client.get("/data-quality?format=csv&table=missing")).text())
    got = {r[0]: (int(r[1]), int(r[2])) for r in missing[1:]}
    total = _sql(node.db_path, "SELECT count(*) FROM students")[0][0]
    no_place = _sql(node.db_path, "SELECT state_student_id FROM students WHERE "
                    "coalesce(birth_city, '') = '' AND coalesce(birth_country, '') = ''")
    no_sex = _sql(node.db_path, "SELECT count(*) FROM students WHERE coalesce(sex, '') = ''")
    assert got["Birth place"] == (len(no_place), total)
    assert got["Sex"] == (no_sex[0][0], total)
    html = await (await client.get("/data-quality")).text()
    assert "<svg" in html and f"{total - len(no_place)} / {total}" in html
    assert "/reports/data-quality/children?group=total&amp;element=Birth+place" in html
    drill = await client.get("/reports/data-quality/children",
                             params={"group": "total", "element": "Birth place"})
    page = await drill.text()
    assert drill.status == 200
    for (sid,) in no_place:
        assert f'href="/students/{sid}?purpose=data_quality"' in page
    assert "&lt;" not in EVIL and "=HYPERLINK" in page  # shown as text, escaped
    exported = _csv(await (await client.get(
        "/reports/data-quality/children",
        params={"group": "total", "element": "Birth place", "format": "csv"})).text())
    assert sorted(r[1] for r in exported[1:]) == sorted(sid for (sid,) in no_place)
    assert any(r[0].startswith("'=HYPERLINK") for r in exported[1:]), "formula defused"
    # one age band's cell equals a count made here (age on today, banded by hand)
    band_rows = _csv(await (await client.get("/data-quality?format=csv&table=age")).text())
    header = band_rows[0]
    sex_have = header.index("Sex: have")
    for row in band_rows[1:]:
        if row[0] == "All children":
            assert int(row[1]) == total and int(row[sex_have]) == total - no_sex[0][0]
    bad = await client.get("/reports/data-quality/children", params={"element": "Shoe size"})
    assert bad.status == 400 and "element" in await bad.text()


async def test_every_report_page_html_csv_and_svg(node: Node) -> None:
    client = await node.login("dana")
    for page in PAGES:
        resp = await client.get(page)
        html = await resp.text()
        assert resp.status == 200, (page, html[:400])
        if page != "/reports":
            assert "<svg" in html or "Nothing to count yet" in html, page
            assert "<table" in html and "format=csv" in html, page
            csv_resp = await client.get(page, params={"format": "csv"})
            assert csv_resp.status == 200
            assert csv_resp.headers["Content-Type"] == "text/csv; charset=utf-8"
            assert csv_resp.headers["Content-Disposition"].startswith(
                'attachment; filename="') and csv_resp.headers[
                "Content-Disposition"].endswith('.csv"')
            assert _csv(await csv_resp.text())[0], page
    nope = await client.get("/reports/mobility", params={"format": "csv", "table": "nope"})
    assert nope.status == 404
    fmt = await client.get("/reports/mobility", params={"format": "pdf"})
    assert fmt.status == 400 and "format" in await fmt.text()


async def test_report_roles(node: Node) -> None:
    staff = await node.login("sam")
    assert (await staff.get("/reports/child-count")).status == 200
    assert 'href="/data-quality"' not in await (await staff.get("/reports")).text()
    admin = await node.login("dana")
    assert 'href="/data-quality"' in await (await admin.get("/reports")).text()
    assert (await staff.get("/reports/data-quality/children?element=Sex")).status == 403
    auditor = await node.login("audrey")
    for page in PAGES:
        assert (await auditor.get(page, allow_redirects=False)).status == 403, page
    anon = await node.client_for()
    assert (await anon.get("/reports/mobility", allow_redirects=False)).status in (302, 303)


async def test_pending_notices_and_worklist_aging_match_sql(node: Node) -> None:
    now_ms = 1_800_000_000_000
    day = 86_400_000

    def add(db: Any) -> None:
        for i, (age, status) in enumerate(((0.5, "new"), (3, "new"), (3, "acknowledged"),
                                           (40, "new"), (2, "handled"))):
            db.execute("INSERT INTO inbox (sender, message_id, received_ms, body_hash, "
                       "notice, status) VALUES ('CA', ?, ?, x'00', '{}', ?)",
                       [bytes([i]), now_ms - int(age * day), status])
        for i, age in enumerate((0.2, 10, 10, 45)):
            db.execute("INSERT INTO worklist (find_id, peer, handle, query_key, score, "
                       "agreements, candidate, query, requested_by, created_ms, "
                       "last_seen_ms, asked_ms) VALUES ('f', 'CA', ?, 'k', 1, '{}', '{}', "
                       "'{}', 'sam', ?, ?, ?)", [f"h{i}", now_ms - int(age * day), now_ms,
                                                  now_ms - int(age * day)])

    with Store(node.db_path) as store:
        store.call(add)
    from node import clock
    with clock.frozen_at(now_ms / 1000):
        client = await node.login("dana")
        rows = _csv(await (await client.get("/reports/move-notices?format=csv")).text())
        wl = _csv(await (await client.get("/reports/worklist-aging?format=csv")).text())
    got = {r[0]: [int(x) for x in r[1:]] for r in rows[1:]}
    pending = _sql(node.db_path, "SELECT count(*) FROM inbox WHERE status != 'handled'")[0][0]
    assert sum(v[2] for v in got.values()) == pending == 4
    assert got["under 1 day"] == [1, 0, 1] and got["1–7 days"] == [1, 1, 2]
    assert got["over 30 days"] == [1, 0, 1]
    aging = {r[0]: int(r[1]) for r in wl[1:]}
    assert aging == {"under 1 day": 1, "1–7 days": 0, "8–30 days": 2, "over 30 days": 1}


async def test_imports_keep_the_aggregates_up_to_date(node: Node) -> None:
    def meta(db: Any) -> dict[str, str]:
        return reports.meta(db)

    with Store(node.db_path) as store:
        before = store.call(meta)
        more = generate_students("TX", 30, seed=99)
        for s in more:
            s["state_student_id"] = "N" + s["state_student_id"]
        report = import_files(store, [_jsonl(node.tmp / "more.jsonl", more)],
                              owner_state="TX", progress=False, workers=0,
                              write_rejects_files=False)
        after = store.call(meta)
        assert store.call(reports.is_stale) == ""
    assert int(after["import_run"]) == report.run_id > int(before["import_run"])
    assert int(after["students"]) == int(before["students"]) + 30
    client = await node.login("dana")
    got = _csv(await (await client.get("/data-quality?format=csv&table=age")).text())
    assert int(got[1][1]) == _sql(node.db_path, "SELECT count(*) FROM students")[0][0]


def test_csv_cells_never_run_as_formulas() -> None:
    for evil in ("=1+1", "+1", "-1+2", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(evil) == "'" + evil
    assert safe_cell("Ana") == "Ana" and safe_cell(-3) == -3
    text = csv_text(Table("t", "T", ["Name", "n"], [["=cmd|' /C calc'!A0", 1]]))
    assert text.splitlines()[1].startswith("'=cmd|")


def test_previous_release_database_doctor_and_recompute(node_dir: Path) -> None:
    """A node.db made by the previous release (no report tables, students written):
    doctor names the pending migration, then the missing aggregates; `statenode reports
    recompute` computes them and doctor is content."""
    from click.testing import CliRunner

    from node.cli import cli
    from node.ops.doctor import check_schema_and_reports
    from node.store import discover_tables, federation_tables, link_tables
    from protocol.records import validate_student

    cfg = load_config(node_dir / "node.toml")
    with Store(cfg.storage.database) as store:  # what the previous release's start made
        for apply in (federation_tables.apply_migrations, accounts.apply_migrations,
                      link_tables.apply_migrations):
            store.call(apply)
        store.upsert_students([validate_student(s) for s in generate_students("TX", 20, 3)])
    checks = check_schema_and_reports(cfg.storage.database)
    assert [c.status for c in checks if c.area == "schema"] == ["warn"]
    assert "statenode.reports.m001_report_tables" in checks[0].message
    assert any(c.area == "reports" and "never computed" in c.message
               and "statenode reports recompute" in c.fix for c in checks)
    with Store(cfg.storage.database) as store:
        store.call(reports.apply_migrations)
        store.call(discover_tables.apply_migrations)  # this release's other new set
    assert [c.status for c in check_schema_and_reports(cfg.storage.database)] == ["ok", "warn"]
    out = CliRunner().invoke(cli, ["reports", "recompute", "-c", str(node_dir / "node.toml")],
                             obj={})
    assert out.exit_code == 0 and "recomputed for 20 students" in out.output, out.output
    assert [c.status for c in check_schema_and_reports(cfg.storage.database)] == ["ok", "ok"]
    n = _sql(cfg.storage.database, "SELECT n FROM report_counts WHERE report = 'dq' "
             "AND k1 = 'total' AND k2 = ''")[0][0]
    assert n == 20


def test_the_hourly_job_recomputes_once_a_day(tmp_path: Path) -> None:
    import asyncio
    from datetime import timedelta
    from types import SimpleNamespace

    with Store(tmp_path / "n.db") as store:
        store.call(reports.apply_migrations)
        assert "never computed" in store.call(report_aggregates.needs_refresh, date.today())
        yesterday = date.today() - timedelta(days=1)
        store.call(report_aggregates.recompute, yesterday, "TX")
        assert "not today" in store.call(report_aggregates.needs_refresh, date.today())
        services: Any = SimpleNamespace(store=store, cfg=SimpleNamespace(
            node=SimpleNamespace(id="TX")))

        async def twice() -> tuple[Any, Any]:
            return (await report_aggregates.refresh_job(services),
                    await report_aggregates.refresh_job(services))

        first, second = asyncio.run(twice())
        assert first is not None and first["as_of"] == date.today().isoformat()
        assert second is None, "nothing to do the second time"


def test_the_drop_folder_job_keeps_the_aggregates_up_to_date(tmp_path: Path) -> None:
    import os

    from node.importing.drop_folder import import_drop_folder

    folder = tmp_path / "drop"
    folder.mkdir()
    src = _jsonl(folder / "tx.jsonl", generate_students("TX", 15, seed=8))
    os.utime(src, (1_000_000_000, 1_000_000_000))  # settled long ago
    with Store(tmp_path / "n.db") as store:
        assert import_drop_folder(store, folder, "TX")["imported"] == 1
        meta = store.call(reports.meta)
        assert store.call(reports.is_stale) == ""
    assert meta["students"] == "15" and meta["import_run"] == "1"
    total = _sql(tmp_path / "n.db", "SELECT n FROM report_counts WHERE report = 'dq' "
                 "AND k1 = 'total' AND k2 = ''")[0][0]
    assert total == _sql(tmp_path / "n.db", "SELECT count(*) FROM students")[0][0] == 15
