"""Pulling migrant students from an Ed-Fi ODS/API (v7, Data Standard 5.x; docs/IMPORT.md).

Owns `statenode import --from-edfi-api` and the scheduled `edfi_pull` job: OAuth2 client
credentials (RFC 6749 §4.4) against the token endpoint, with the client id and secret
read from the 0600 file `[edfi] credentials_file` names (a looser file is refused);
every data request with `Use-Snapshot: true`, so the pages of one pull read one
consistent snapshot; paging by `offset`/`limit`; change queries: the first pull reads
every resource, later pulls only what changed after the change version stored by the
last successful one (`/changeQueries/v1/availableChangeVersions`, `minChangeVersion`/
`maxChangeVersion`, and each resource's `/deletes` and `/keyChanges`), then re-read every
resource of each student touched, so a student is always stored whole. A 401 re-authenticates
once; a 429 waits its `Retry-After`; any other failure (5xx, network, a page that is not
a list) ends the pull with nothing stored and the change version where it was. The
students are checked like interchange XML (`node.importing.edfi_check`) and written with
the renames, deletions, the run's row and the new change version in one transaction.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import logging
import os
import stat
import time
import tomllib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import aiohttp

from config.schema import NodeConfig
from node.errors import BadRequest, SourceUnavailable
from node.importing.batch import ImportBatch, ProgressMeter
from node.importing.edfi_assembly import EdfiSet, MigrantRule
from node.importing.edfi_check import checked_students
from node.importing.edfi_resources import api_element, read_item, student_of
from node.importing.edfi_schemas import DECIDING, RESOURCES
from node.importing.importer import ImportReport, record_run
from node.store.database import Store, last_change_version, save_change_version
from node.store.record_upsert import (
    KeysFn,
    Prepared,
    UpsertResult,
    default_keys,
    delete_students,
    rename_student,
    upsert_prepared,
)
from node.store.sql import now_iso

if TYPE_CHECKING:
    from node.services import Services

log = logging.getLogger("statenode.import")
DATA_PATH = "/data/v3/ed-fi/"
VERSIONS_PATH = "/changeQueries/v1/availableChangeVersions"
MAX_WAIT = 120.0  # longest Retry-After honoured (seconds)
MAX_RETRIES = 5  # 429 answers in a row before the pull gives up
REREAD_MAX = 2_000  # students touched above which a pull reads every resource whole


@dataclass(frozen=True)
class ApiSettings:
    url: str
    token_url: str
    client_id: str
    client_secret: str
    page_size: int
    timeout: float


def rule_of(cfg: NodeConfig) -> MigrantRule:
    """Who else is a migrant child (`[edfi]` migrant_program_types, _characteristics)."""
    return MigrantRule(frozenset(c.lower() for c in cfg.edfi.migrant_program_types),
                       frozenset(c.lower() for c in cfg.edfi.migrant_characteristics))


def load_settings(cfg: NodeConfig) -> ApiSettings:
    """The API's settings and credentials; BadRequest naming the key or file at fault."""
    e = cfg.edfi
    url = e.api_url.rstrip("/")
    if not url.startswith(("https://", "http://")):
        raise BadRequest(f"{cfg.config_path}: edfi.api_url: set it to the base URL of the "
                         "Ed-Fi ODS/API (https://…) to pull from it")
    path = e.credentials_file
    if path is None:
        raise BadRequest(f"{cfg.config_path}: edfi.credentials_file: required to pull from "
                         "the Ed-Fi ODS/API (a 0600 TOML file with client_id and client_secret)")
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o077:
            raise BadRequest(f"{path}: the Ed-Fi credentials file may be read by others "
                             f"(mode {mode:04o}); make it the service's only: chmod 600 {path}")
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadRequest(f"{path}: no such file (edfi.credentials_file)") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadRequest(f"{path}: cannot read the Ed-Fi credentials ({exc})") from None
    for key in ("client_id", "client_secret"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise BadRequest(f"{path}: {key}: required (text)")
    return ApiSettings(url, e.token_url or f"{url}/oauth/token", data["client_id"],
                       data["client_secret"], max(1, e.page_size), e.timeout)


def _wait_of(value: str | None) -> float:
    if not value:
        return 1.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 1.0
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class EdfiClient:
    """Requests to one ODS/API: the bearer token, snapshot reads, retries."""

    def __init__(self, session: aiohttp.ClientSession, settings: ApiSettings) -> None:
        self.session, self.s = session, settings
        self.token: str | None = None
        self.expires = 0.0
        self.requests = 0

    async def _authenticate(self) -> None:
        # RFC 6749 §2.3.1: HTTP Basic with the form-encoded client id and secret
        pair = f"{quote(self.s.client_id, safe='')}:{quote(self.s.client_secret, safe='')}"
        basic = "Basic " + base64.b64encode(pair.encode()).decode()
        try:
            async with self.session.post(
                    self.s.token_url, data={"grant_type": "client_credentials"},
                    headers={"Authorization": basic, "Accept": "application/json"}) as resp:
                body = await resp.json(content_type=None) if resp.status == 200 else None
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise SourceUnavailable(f"{self.s.token_url}: no token from the Ed-Fi ODS/API "
                                    f"({type(exc).__name__})") from None
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            hint = " (check client_id and client_secret)" if status in (400, 401, 403) else ""
            raise SourceUnavailable(f"{self.s.token_url}: the Ed-Fi ODS/API gave no access "
                                    f"token (HTTP {status}){hint}")
        self.token = token
        lifetime = body.get("expires_in") if isinstance(body, dict) else None
        self.expires = time.monotonic() + (float(lifetime) if isinstance(lifetime, int | float)
                                           else 3600.0)

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """The JSON of GET `path`, with a fresh token once after a 401 and waiting out
        429s; SourceUnavailable on anything else."""
        reauthenticated = False
        waits = 0
        url = self.s.url + path
        while True:
            if self.token is None or time.monotonic() > self.expires - 30:
                await self._authenticate()
            headers = {"Authorization": f"Bearer {self.token}", "Use-Snapshot": "true",
                       "Accept": "application/json"}
            self.requests += 1
            try:
                async with self.session.get(url, params=params, headers=headers) as resp:
                    status, retry_after = resp.status, resp.headers.get("Retry-After")
                    body = await resp.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise SourceUnavailable(f"{path}: the Ed-Fi ODS/API could not be reached "
                                        f"({type(exc).__name__})") from None
            if status == 401 and not reauthenticated:
                reauthenticated = True
                self.token = None
                continue
            if status == 429 and waits < MAX_RETRIES:
                wait = _wait_of(retry_after)
                if wait > MAX_WAIT:
                    raise SourceUnavailable(f"{path}: the Ed-Fi ODS/API asked to wait "
                                            f"{wait:.0f} s (Retry-After)")
                waits += 1
                await asyncio.sleep(wait)
                continue
            if status != 200:
                raise SourceUnavailable(f"{path}: HTTP {status} from the Ed-Fi ODS/API")
            try:
                return json.loads(body)
            except ValueError:
                raise SourceUnavailable(f"{path}: the Ed-Fi ODS/API answered with something "
                                        "that is not JSON") from None

    async def versions(self) -> tuple[int, int]:
        body = await self.get(VERSIONS_PATH)
        lower = {str(k).lower(): v for k, v in body.items()} if isinstance(body, dict) else {}
        oldest, newest = lower.get("oldestchangeversion"), lower.get("newestchangeversion")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (oldest, newest)):
            raise SourceUnavailable(f"{VERSIONS_PATH}: no oldestChangeVersion and "
                                    "newestChangeVersion numbers in the answer")
        return int(oldest), int(newest)  # type: ignore[arg-type]

    async def items(self, resource: str, suffix: str = "",
                    params: dict[str, int | str] | None = None) -> AsyncIterator[list[Any]]:
        """The pages of one resource (or its /deletes, /keyChanges), offset by limit."""
        offset = 0
        path = DATA_PATH + resource + suffix
        while True:
            page = await self.get(path, {**(params or {}), "offset": offset,
                                         "limit": self.s.page_size})
            if not isinstance(page, list):
                raise SourceUnavailable(f"{path}: the Ed-Fi ODS/API answered with "
                                        f"{type(page).__name__}, not a list of items")
            if page:
                yield page
            if len(page) < self.s.page_size:
                return
            offset += len(page)


@dataclass(frozen=True)
class PullReport:
    report: ImportReport | None  # None: nothing changed since the last pull
    from_version: int | None
    to_version: int
    full: bool
    removed: int = 0
    renamed: int = 0
    requests: int = 0


def _key(values: Any, name: str) -> str | None:
    value = values.get(name) if isinstance(values, dict) else None
    return value.strip() if isinstance(value, str) and value.strip() else None


async def _changes(client: EdfiClient, window: dict[str, int | str], rule: MigrantRule,
                   ) -> tuple[set[str], set[str], list[tuple[str, str]]]:
    """Students touched in the window, students deleted, and student id changes."""
    touched: set[str] = set()
    deleted: set[str] = set()
    renames: list[tuple[str, str]] = []
    contacts: set[str] = set()
    for resource in _resources(rule):
        async for page in client.items(resource, "", window):
            for item in page:
                sid = student_of(resource, item) if isinstance(item, dict) else None
                if sid:
                    touched.add(sid)
                elif resource == "contacts" and isinstance(item, dict):
                    cid = _key(item, "contactUniqueId")
                    if cid:
                        contacts.add(cid)
        async for page in client.items(resource, "/deletes", window):
            for item in page:
                values = item.get("keyValues") if isinstance(item, dict) else None
                sid, cid = _key(values, "studentUniqueId"), _key(values, "contactUniqueId")
                if sid:
                    touched.add(sid)
                    if resource == "students":
                        deleted.add(sid)
                elif cid:
                    contacts.add(cid)
        async for page in client.items(resource, "/keyChanges", window):
            for item in page:
                old = _key(item.get("oldKeyValues") if isinstance(item, dict) else None,
                           "studentUniqueId")
                new = _key(item.get("newKeyValues") if isinstance(item, dict) else None,
                           "studentUniqueId")
                touched.update(s for s in (old, new) if s)
                if resource == "students" and old and new and old != new:
                    renames.append((old, new))
    for cid in sorted(contacts):
        async for page in client.items("studentContactAssociations", "", {"contactUniqueId": cid}):
            touched.update(s for s in (student_of("studentContactAssociations", i)
                                       for i in page if isinstance(i, dict)) if s)
    return touched, deleted, renames


def _resources(rule: MigrantRule) -> tuple[str, ...]:
    return tuple(r for r in RESOURCES if r != "studentProgramAssociations"
                 or rule.program_types)


async def _read(client: EdfiClient, edfi: EdfiSet, rule: MigrantRule,
                students: list[str] | None, meter: ProgressMeter) -> None:
    """Every item of every resource (students None), or those of `students` only."""
    for resource in _resources(rule):
        if resource == "contacts":
            continue
        if resource not in DECIDING and not edfi.final:
            edfi.finish_migrants()
        if students is None:
            async for page in client.items(resource):
                for item in page:
                    read_item(edfi, resource, item)
        else:
            for sid in students:
                if resource not in DECIDING and sid not in edfi.migrant:
                    continue
                async for page in client.items(resource, "", {"studentUniqueId": sid}):
                    for item in page:
                        read_item(edfi, resource, item)
        meter.advance(1)
    wanted = sorted({f.data["_contact"] for fs in edfi.parts.values() for f in fs
                     if f.kind == "contact_link"})
    if students is None:
        async for page in client.items("contacts"):
            for item in page:
                read_item(edfi, "contacts", item)
    else:
        for cid in wanted:
            async for page in client.items("contacts", "", {"contactUniqueId": cid}):
                for item in page:
                    read_item(edfi, "contacts", item)
    meter.advance(1)


async def pull_from_api(store: Store, cfg: NodeConfig, *, progress: bool = False,
                        session: aiohttp.ClientSession | None = None,
                        keys_fn: KeysFn | None = None) -> PullReport:
    """One pull: read what changed, check it, and write it with the new change version
    in one transaction (nothing at all if any request fails)."""
    settings = load_settings(cfg)
    source = settings.url
    rule = rule_of(cfg)
    started = now_iso()
    owned = session is None
    if session is None:
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=settings.timeout))
    meter = ProgressMeter(progress, len(_resources(rule)) + 1)
    try:
        client = EdfiClient(session, settings)
        last = await store.run(last_change_version, source)
        oldest, newest = await client.versions()
        if last is not None and newest <= last:
            return PullReport(None, last, last, False, requests=client.requests)
        full = last is None or last + 1 < oldest  # first pull, or the changes were purged
        edfi = EdfiSet(rule=rule)
        touched: set[str] = set()
        deleted: set[str] = set()
        renames: list[tuple[str, str]] = []
        if full:
            await _read(client, edfi, rule, None, meter)
        else:
            window: dict[str, int | str] = {"minChangeVersion": int(last or 0) + 1,
                                            "maxChangeVersion": newest}
            touched, deleted, renames = await _changes(client, window, rule)
            # many students touched: one read of everything costs fewer requests
            await _read(client, edfi, rule,
                        sorted(touched) if len(touched) <= REREAD_MAX else None, meter)
    finally:
        meter.stop()
        if owned:
            await session.close()
    batch = ImportBatch()
    fn = keys_fn or default_keys()
    prepared: list[Prepared] = await asyncio.to_thread(
        lambda: [p for chunk in checked_students(edfi, cfg.node.id, fn, batch, meter, 0.0,
                                                 names=api_element) for p in chunk])
    gone = {s for s in touched if s not in edfi.migrant} | (deleted - edfi.students.keys())
    files = [f"{source}{DATA_PATH}"]

    def write(db: Any) -> tuple[int, UpsertResult, int, int]:
        renamed = sum(rename_student(db, old, new) for old, new in renames)
        result = upsert_prepared(db, [prepared], expected=len(prepared))
        removed = delete_students(db, gone)
        run_id = record_run(db, started, files, batch, result)
        save_change_version(db, source, newest, run_id)
        return run_id, result, removed, renamed

    run_id, result, removed, renamed = await store.run(write)
    skipped = []
    if edfi.skipped:
        skipped.append(("Ed-Fi students without a migrant education program association "
                        "(not migrant children)", len(edfi.skipped)))
    report = ImportReport(run_id, tuple(files), batch.accepted, result, tuple(batch.rejects),
                          (), tuple(skipped))
    log.info("Ed-Fi pull: change versions %s..%d, %d students, %d rejected rows, %d removed, "
             "%d renamed", last, newest, batch.accepted, batch.rejected_rows, removed, renamed)
    return PullReport(report, last, newest, full, removed, renamed, client.requests)


async def edfi_pull_job(services: Services) -> dict[str, Any] | None:
    """Scheduler job (every `edfi.pull_interval`): pull what changed from the ODS/API."""
    cfg = services.cfg
    if not cfg.edfi.api_url:
        return None
    pulled = await pull_from_api(services.store, cfg)
    report = pulled.report
    return {"change_version": pulled.to_version, "full": pulled.full,
            "students": report.students if report else 0,
            "rejected_rows": report.rejected_rows if report else 0,
            "removed": pulled.removed, "renamed": pulled.renamed}

