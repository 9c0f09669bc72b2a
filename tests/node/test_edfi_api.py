"""The Ed-Fi ODS/API pull (node/importing/edfi_pull.py) against a stand-in ODS/API.

The stand-in (tests/node/edfi_helpers.py) is a real aiohttp server on a loopback port
that serves the shared sample as ODS/API v7 resource JSON: OAuth2 client credentials,
offset/limit paging, change queries, deletes and key changes, and faults on demand.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from config.load import load_config
from config.schema import NodeConfig
from node.appkeys import JOBS
from node.errors import BadRequest, SourceUnavailable
from node.importing.edfi_pull import PullReport, pull_from_api
from node.importing.importer import import_files
from node.store.database import Store, last_change_version
from tests.node.edfi_helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    StandIn,
    resources_from_xml,
    sample_dir,
    sample_files,
)

Server = Callable[..., Awaitable[TestServer]]
SMEPA = "studentMigrantEducationProgramAssociations"


@pytest.fixture
def standin() -> StandIn:
    return StandIn(resources_from_xml(sample_dir() / "xml"))


async def _configure(node_dir: Path, server: TestServer, *, mode: int = 0o600,
                     page_size: int = 100) -> NodeConfig:
    creds = node_dir / "edfi-credentials.toml"
    creds.write_text(f'client_id = "{CLIENT_ID}"\nclient_secret = "{CLIENT_SECRET}"\n')
    creds.chmod(mode)
    toml = node_dir / "node.toml"
    toml.write_text(toml.read_text() + f'\n[edfi]\napi_url = "{server.make_url("")}"\n'
                    f'credentials_file = "edfi-credentials.toml"\npage_size = {page_size}\n')
    return load_config(toml)


@pytest.fixture
async def setup(node_dir: Path, standin: StandIn,
                aiohttp_server: Server) -> tuple[NodeConfig, StandIn]:
    server = await aiohttp_server(standin.app())
    return await _configure(node_dir, server), standin


async def _pull(cfg: NodeConfig) -> PullReport:
    store = Store(cfg.storage.database)
    try:
        return await pull_from_api(store, cfg)
    finally:
        await asyncio.to_thread(store.close)


def _students(cfg: NodeConfig) -> dict[str, tuple[int, str]]:
    with sqlite3.connect(cfg.storage.database) as conn:
        return {r[0]: (r[1], r[2]) for r in conn.execute(
            "SELECT state_student_id, record_version, first_name FROM students")}


def _version(cfg: NodeConfig) -> int | None:
    with Store(cfg.storage.database) as store:
        return store.call(last_change_version, str(cfg.edfi.api_url).rstrip("/"))


def _records(path: Path, sids: list[str]) -> dict[str, Any]:
    with Store(path) as store:
        return {s: {k: v for k, v in store.get_student(s).items() if k != "record_version"}
                for s in sids}


async def test_full_pull_pages_and_stores_what_the_xml_import_stores(
        setup: tuple[NodeConfig, StandIn], tmp_path: Path) -> None:
    cfg, standin = setup
    pulled = await _pull(cfg)
    assert pulled.full and pulled.report is not None
    assert (pulled.report.students, pulled.report.rejects) == (275, ())
    assert pulled.report.result.inserted == 275
    assert _version(cfg) == standin.version
    # paging: 960 students in pages of 100, every data request on the snapshot
    offsets = [int(q["offset"]) for p, q, _ in standin.data_requests if p.endswith("/students")]
    assert offsets == list(range(0, 1000, 100))
    assert all(snapshot for _p, _q, snapshot in standin.data_requests)
    # the same students, field for field, as the interchange XML import
    with Store(tmp_path / "xml.db") as store:
        import_files(store, sample_files(), owner_state="TX")
    sids = sorted(_students(cfg))
    assert _records(cfg.storage.database, sids) == _records(tmp_path / "xml.db", sids)

    again = await _pull(cfg)
    assert again.report is None and again.to_version == standin.version


async def test_change_queries_apply_changes_deletions_and_key_changes(
        setup: tuple[NodeConfig, StandIn]) -> None:
    cfg, standin = setup
    await _pull(cfg)
    before = _students(cfg)
    students = {s["studentUniqueId"]: s for s in standin.resources["students"]}
    changed, deleted, renamed = sorted(before)[:3]
    standin.change("students", students[changed]["id"], firstName="Guadalupe")
    gone = next(p for p in standin.resources[SMEPA]
                if p["studentReference"]["studentUniqueId"] == deleted)
    standin.delete(SMEPA, gone["id"], {"studentUniqueId": deleted, "beginDate": gone["beginDate"]})
    new_id = renamed + "9"
    for items in standin.resources.values():
        for item in items:
            ref = item.get("studentReference")
            if isinstance(ref, dict) and ref.get("studentUniqueId") == renamed:
                ref["studentUniqueId"] = new_id
    students[renamed]["studentUniqueId"] = new_id
    standin.change_key("students", students[renamed]["id"], {"studentUniqueId": renamed},
                       {"studentUniqueId": new_id})
    standin.data_requests.clear()

    pulled = await _pull(cfg)
    assert not pulled.full and pulled.report is not None
    assert (pulled.removed, pulled.renamed) == (1, 1)
    after = _students(cfg)
    assert after[changed] == (2, "Guadalupe")
    assert deleted not in after and renamed not in after
    assert after[new_id][0] == before[renamed][0] + 1  # same record, its id changed
    assert {s: v for s, v in after.items() if s not in (changed, new_id)} == {
        s: v for s, v in before.items() if s not in (changed, deleted, renamed)}
    assert _version(cfg) == standin.version
    windows = {(q.get("minChangeVersion"), q.get("maxChangeVersion"))
               for p, q, _ in standin.data_requests if "minChangeVersion" in q}
    assert len(windows) == 1
    assert len(standin.data_requests) < 120  # only the touched students were read again


async def test_expired_token_is_renewed_once(setup: tuple[NodeConfig, StandIn]) -> None:
    cfg, standin = setup
    await _pull(cfg)
    assert standin.token_requests == 1
    students = standin.resources["students"]
    sid = next(s for s in students if s["studentUniqueId"] in _students(cfg))
    standin.change("students", sid["id"], middleName="Inés")
    store = Store(cfg.storage.database)
    try:
        standin.expire_tokens()
        pulled = await pull_from_api(store, cfg)
    finally:
        await asyncio.to_thread(store.close)
    assert pulled.report is not None and pulled.report.result.updated == 1
    assert standin.token_requests == 2


async def test_refused_credentials_say_so(node_dir: Path, standin: StandIn,
                                          aiohttp_server: Server) -> None:
    server = await aiohttp_server(standin.app())
    cfg = await _configure(node_dir, server)
    (node_dir / "edfi-credentials.toml").write_text(
        f'client_id = "{CLIENT_ID}"\nclient_secret = "wrong"\n')
    with pytest.raises(SourceUnavailable, match=r"gave no access token \(HTTP 401\) \(check "
                                                 "client_id and client_secret\\)"):
        await _pull(cfg)


async def test_failure_midway_stores_nothing_and_keeps_the_version(
        setup: tuple[NodeConfig, StandIn]) -> None:
    cfg, standin = setup
    standin.fail_at = 12
    with pytest.raises(SourceUnavailable, match="HTTP 503 from the Ed-Fi ODS/API"):
        await _pull(cfg)
    assert _students(cfg) == {} and _version(cfg) is None
    standin.fail_at = None
    await _pull(cfg)
    first = _version(cfg)
    before = _students(cfg)
    for s in [s for s in standin.resources["students"] if s["studentUniqueId"] in before][:50]:
        standin.change("students", s["id"], firstName="Changed")
    standin.fail_at = len(standin.data_requests) + 40  # in the middle of the re-reads
    with pytest.raises(SourceUnavailable):
        await _pull(cfg)
    assert _students(cfg) == before and _version(cfg) == first
    standin.fail_at = None
    pulled = await _pull(cfg)
    assert pulled.report is not None and pulled.report.result.updated == 50


async def test_too_many_requests_waits_retry_after(setup: tuple[NodeConfig, StandIn]) -> None:
    cfg, standin = setup
    standin.throttle, standin.retry_after = 1, "1"
    started = len(standin.data_requests)
    pulled = await _pull(cfg)
    assert pulled.report is not None and pulled.report.students == 275
    assert len(standin.throttled_at) == 1 and len(standin.data_requests) > started
    (throttled,) = standin.throttled_at
    retried = min(t for t in standin.request_times if t > throttled)
    assert retried - throttled >= 1.0  # Retry-After: 1 was honoured


async def test_schema_surprise_rejects_naming_resource_and_id(
        setup: tuple[NodeConfig, StandIn]) -> None:
    cfg, standin = setup
    migrants = sorted({p["studentReference"]["studentUniqueId"] for p in standin.resources[SMEPA]})
    ssa = next(a for a in standin.resources["studentSchoolAssociations"]
               if a["studentReference"]["studentUniqueId"] == migrants[0])
    ssa["entryGradeLevell"] = ssa.pop("entryGradeLevelDescriptor")
    student = next(s for s in standin.resources["students"]
                   if s["studentUniqueId"] == migrants[1])
    student["birthDate"] = 20100314
    pulled = await _pull(cfg)
    assert pulled.report is not None
    shown = {f"{r.file}: {r.field}: {r.reason}" for r in pulled.report.rejects}
    assert (f"edfi-api/studentSchoolAssociations: id {ssa['id']}: entryGradeLevell: unknown "
            "field (not in the Ed-Fi 5.x studentSchoolAssociations resource)") in shown
    assert (f"edfi-api/students: id {student['id']}: birthDate: expected text, got a "
            "number") in shown
    stored = _students(cfg)
    assert len(stored) == 273 and migrants[0] not in stored and migrants[1] not in stored


async def test_credentials_file_must_be_private(node_dir: Path, standin: StandIn,
                                                aiohttp_server: Server) -> None:
    server = await aiohttp_server(standin.app())
    cfg = await _configure(node_dir, server, mode=0o644)
    creds = node_dir / "edfi-credentials.toml"
    with pytest.raises(BadRequest, match=rf"{creds}: the Ed-Fi credentials file may be read by "
                                         rf"others \(mode 0644\); .*chmod 600 {creds}"):
        await _pull(cfg)
    assert standin.token_requests == 0


async def test_cli_and_scheduled_job(setup: tuple[NodeConfig, StandIn],
                                     aiohttp_server: Server) -> None:
    cfg, standin = setup
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "node", "import", "-c", str(cfg.config_path), "--from-edfi-api",
        "--no-progress", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    assert f"full pull up to change version {standin.version}" in out.decode()
    assert "275 valid students (275 new" in out.decode()

    from node.app import create_app

    first = standin.resources["students"][0]
    standin.change("students", first["id"], firstName="Rosa")
    app = create_app(cfg)
    await aiohttp_server(app)
    t0 = time.monotonic()
    result = await app[JOBS].run_now("edfi_pull")
    assert result is not None and result["change_version"] == standin.version
    assert result["full"] is False and time.monotonic() - t0 < 60
    assert app[JOBS].status["edfi_pull"].failures == 0


async def test_many_changes_are_read_in_one_pass(setup: tuple[NodeConfig, StandIn],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import node.importing.edfi_pull as edfi_pull

    cfg, standin = setup
    await _pull(cfg)
    before = _students(cfg)
    monkeypatch.setattr(edfi_pull, "REREAD_MAX", 1)
    changed = [s for s in standin.resources["students"] if s["studentUniqueId"] in before][:2]
    for s in changed:
        standin.change("students", s["id"], firstName="Rosa")
    standin.data_requests.clear()
    pulled = await _pull(cfg)
    assert pulled.report is not None and not pulled.full
    assert (pulled.report.result.updated, pulled.report.result.unchanged) == (2, 273)
    assert not any("studentUniqueId" in q for _p, q, _s in standin.data_requests)


async def test_mistyped_collections_are_rejected_not_fatal(
        setup: tuple[NodeConfig, StandIn]) -> None:
    cfg, standin = setup
    migrants = {p["studentReference"]["studentUniqueId"] for p in standin.resources[SMEPA]}
    link = next(a for a in standin.resources["studentContactAssociations"]
                if a["studentReference"]["studentUniqueId"] in migrants)
    contact = next(c for c in standin.resources["contacts"]
                   if c["contactUniqueId"] == link["contactReference"]["contactUniqueId"])
    contact["telephones"] = "(950) 342 7522"
    pulled = await _pull(cfg)
    assert pulled.report is not None
    shown = [f"{r.file}: {r.field}: {r.reason}" for r in pulled.report.rejects]
    assert shown[0] == (f"edfi-api/contacts: id {contact['id']}: telephones: expected a list, "
                        "got text")
    assert shown[1] == (f"edfi-api/studentContactAssociations: id {link['id']}: "
                        "StudentContactAssociation/ContactReference: its Contact "
                        f"'{contact['contactUniqueId']}' was rejected (edfi-api/contacts id "
                        f"{contact['id']})")
    assert link["studentReference"]["studentUniqueId"] not in _students(cfg)
