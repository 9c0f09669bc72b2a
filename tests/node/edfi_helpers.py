"""Test helpers for Ed-Fi input: the shared sample, and a stand-in Ed-Fi ODS/API.

`sample_dir()` finds the Ed-Fi Alliance's sample (shared/edfi-samples beside the
project) and fails, never skips, when it is missing. `resources_from_xml` turns the
sample's interchange XML into ODS/API resource JSON (ElementTree, independent of the
importer), shaped after the ODS/API's published OpenAPI. `StandIn` is an aiohttp app
that serves them as an Ed-Fi ODS/API v7 does: OAuth2 client credentials, `/data/v3/
ed-fi/<resource>` with offset/limit paging and key filters, change queries
(`availableChangeVersions`, `minChangeVersion`/`maxChangeVersion`, `/deletes`,
`/keyChanges`), and faults on demand (expired tokens, a 429, a 5xx mid-way).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID, CLIENT_SECRET = "statenode-tx", "s3cret-for-tests"


def sample_dir() -> Path:
    """shared/edfi-samples beside the project (a CI clone has shared/ at ../shared)."""
    for base in (ROOT / ".." / "shared", ROOT / ".." / ".." / "shared"):
        found = (base / "edfi-samples").resolve()
        if (found / "xml" / "Student.xml").is_file():
            return found
    pytest.fail(f"the Ed-Fi sample is missing: expected shared/edfi-samples/xml/*.xml at "
                f"{(ROOT / '..' / 'shared').resolve()} (the shared folder beside the project)")


def sample_files() -> list[Path]:
    return sorted((sample_dir() / "xml").glob("*.xml"))


# ---- the sample as ODS/API resources (independent of the importer) --------------------

def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(el: ET.Element, path: str) -> str | None:
    node: ET.Element | None = el
    for part in path.split("/"):
        node = next((c for c in node if _local(c.tag) == part), None) if node is not None else None
    if node is None or node.text is None:
        return None
    return node.text.strip() or None


def _all(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if _local(c.tag) == name]


def _id(*parts: Any) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


def _sid_ref(el: ET.Element) -> dict[str, str]:
    return {"studentUniqueId": _find(el, "StudentReference/StudentIdentity/StudentUniqueId")
            or ""}


def _bool(text: str | None) -> bool | None:
    return None if text is None else text.lower() in ("true", "1")


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def resources_from_xml(folder: Path) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}

    def add(resource: str, item: dict[str, Any]) -> None:
        out.setdefault(resource, []).append(_clean(item))

    contact_ids: dict[str, str] = {}
    for path in sorted(folder.glob("*.xml")):
        root = ET.parse(path).getroot()
        for el in root:
            name = _local(el.tag)
            if name == "Student" and _local(root.tag) == "InterchangeStudent":
                sid = _find(el, "StudentUniqueId")
                add("students", {
                    "id": _id("s", sid), "studentUniqueId": sid,
                    "firstName": _find(el, "Name/FirstName"),
                    "middleName": _find(el, "Name/MiddleName"),
                    "lastSurname": _find(el, "Name/LastSurname"),
                    "generationCodeSuffix": _find(el, "Name/GenerationCodeSuffix"),
                    "personalTitlePrefix": _find(el, "Name/PersonalTitlePrefix"),
                    "birthDate": _find(el, "BirthData/BirthDate"),
                    "birthSexDescriptor": _find(el, "BirthData/BirthSex")})
            elif name == "StudentMigrantEducationProgramAssociation":
                add("studentMigrantEducationProgramAssociations", {
                    "id": _id("m", _sid_ref(el), _find(el, "BeginDate")),
                    "studentReference": _sid_ref(el),
                    "programReference": {
                        "educationOrganizationId": int(_find(
                            el, "ProgramReference/ProgramIdentity/EducationOrganizationReference/"
                                "EducationOrganizationIdentity/EducationOrganizationId") or 0),
                        "programName": _find(el, "ProgramReference/ProgramIdentity/ProgramName"),
                        "programTypeDescriptor": _find(
                            el, "ProgramReference/ProgramIdentity/ProgramType")},
                    "educationOrganizationReference": {"educationOrganizationId": int(_find(
                        el, "EducationOrganizationReference/EducationOrganizationIdentity/"
                            "EducationOrganizationId") or 0)},
                    "beginDate": _find(el, "BeginDate"),
                    "priorityForServices": _bool(_find(el, "PriorityForServices")),
                    "lastQualifyingMove": _find(el, "LastQualifyingMove"),
                    "qualifyingArrivalDate": _find(el, "QualifyingArrivalDate")})
            elif name == "StudentSpecialEducationProgramAssociation":
                add("studentSpecialEducationProgramAssociations", {
                    "id": _id("sp", _sid_ref(el), _find(el, "BeginDate")),
                    "studentReference": _sid_ref(el),
                    "ideaEligibility": _bool(_find(el, "IdeaEligibility"))})
            elif name == "StudentSchoolAssociation":
                school = int(_find(el, "SchoolReference/SchoolIdentity/SchoolId") or 0)
                add("studentSchoolAssociations", {
                    "id": _id("ssa", _sid_ref(el), school), "studentReference": _sid_ref(el),
                    "schoolReference": {"schoolId": school},
                    "entryDate": _find(el, "EntryDate"),
                    "entryGradeLevelDescriptor": _find(el, "EntryGradeLevel")})
            elif name == "StudentEducationOrganizationAssociation":
                add("studentEducationOrganizationAssociations", {
                    "id": _id("seoa", _sid_ref(el)), "studentReference": _sid_ref(el),
                    "educationOrganizationReference": {"educationOrganizationId": 255901},
                    "sexDescriptor": _find(el, "Sex"),
                    "limitedEnglishProficiencyDescriptor": _find(el, "LimitedEnglishProficiency")})
            elif name == "Contact":
                cid = _find(el, "ContactUniqueId") or ""
                contact_ids[el.get("id") or cid] = cid
                add("contacts", {
                    "id": _id("c", cid), "contactUniqueId": cid,
                    "firstName": _find(el, "Name/FirstName"),
                    "lastSurname": _find(el, "Name/LastSurname"),
                    "sexDescriptor": _find(el, "Sex"),
                    "telephones": [_clean({
                        "telephoneNumber": _find(t, "TelephoneNumber"),
                        "telephoneNumberTypeDescriptor": _find(t, "TelephoneNumberType"),
                        "orderOfPriority": int(_find(t, "OrderOfPriority") or 0) or None})
                        for t in _all(el, "Telephone")],
                    "electronicMails": [_clean({
                        "electronicMailAddress": _find(m, "ElectronicMailAddress"),
                        "electronicMailTypeDescriptor": _find(m, "ElectronicMailType"),
                        "primaryEmailAddressIndicator": _bool(
                            _find(m, "PrimaryEmailAddressIndicator"))})
                        for m in _all(el, "ElectronicMail")]})
            elif name == "StudentContactAssociation":
                ref = next(c for c in el if _local(c.tag) == "ContactReference")
                cid = contact_ids.get(ref.get("ref") or "") or _find(
                    ref, "ContactIdentity/ContactUniqueId") or ""
                add("studentContactAssociations", {
                    "id": _id("sca", _sid_ref(el), cid), "studentReference": _sid_ref(el),
                    "contactReference": {"contactUniqueId": cid},
                    "relationDescriptor": _find(el, "Relation"),
                    "primaryContactStatus": _bool(_find(el, "PrimaryContactStatus")),
                    "livesWith": _bool(_find(el, "LivesWith")),
                    "legalGuardian": _bool(_find(el, "LegalGuardian"))})
            elif name == "StudentHealth":
                add("studentHealths", {
                    "id": _id("h", _sid_ref(el)), "studentReference": _sid_ref(el),
                    "asOfDate": _find(el, "AsOfDate"),
                    "requiredImmunizations": [
                        {"immunizationTypeDescriptor": _find(r, "ImmunizationType"),
                         "dates": [{"immunizationDate": (d.text or "").strip()}
                                   for d in _all(r, "ImmunizationDate")]}
                        for r in _all(el, "RequiredImmunization")]})
    return out


# ---- the stand-in ODS/API --------------------------------------------------------------

def _student_of(item: dict[str, Any]) -> str | None:
    for key in ("studentReference", "studentAcademicRecordReference"):
        if isinstance(item.get(key), dict):
            return item[key].get("studentUniqueId")
    return item.get("studentUniqueId")


def _contact_of(item: dict[str, Any]) -> str | None:
    if isinstance(item.get("contactReference"), dict):
        return item["contactReference"].get("contactUniqueId")
    return item.get("contactUniqueId")


@dataclass
class StandIn:
    """The data and behaviour of a stand-in Ed-Fi ODS/API v7."""

    resources: dict[str, list[dict[str, Any]]]
    version: int = 0
    versions: dict[str, int] = field(default_factory=dict)  # item id -> change version
    deletes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    key_changes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    token_requests: int = 0
    data_requests: list[tuple[str, dict[str, str], bool]] = field(default_factory=list)
    fail_at: int | None = None  # the data request (1-based) answered with a 503
    throttle: int = 0  # the next this many data requests get a 429 with Retry-After
    retry_after: str = "1"
    throttled_at: list[float] = field(default_factory=list)
    request_times: list[float] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        for items in self.resources.values():
            for item in items:
                self.version += 1
                self.versions[item["id"]] = self.version

    # ---- changes made by a test -----------------------------------------------------
    def change(self, resource: str, item_id: str, **fields: Any) -> None:
        item = next(i for i in self.resources[resource] if i["id"] == item_id)
        item.update(fields)
        self.version += 1
        self.versions[item_id] = self.version

    def add(self, resource: str, item: dict[str, Any]) -> None:
        self.resources.setdefault(resource, []).append(item)
        self.version += 1
        self.versions[item["id"]] = self.version

    def delete(self, resource: str, item_id: str, key_values: dict[str, Any]) -> None:
        self.resources[resource] = [i for i in self.resources[resource] if i["id"] != item_id]
        self.version += 1
        self.deletes.setdefault(resource, []).append(
            {"id": item_id, "changeVersion": self.version, "keyValues": key_values})

    def change_key(self, resource: str, item_id: str, old: dict[str, Any],
                   new: dict[str, Any]) -> None:
        self.version += 1
        self.versions[item_id] = self.version
        self.key_changes.setdefault(resource, []).append(
            {"id": item_id, "changeVersion": self.version, "oldKeyValues": old,
             "newKeyValues": new})

    def expire_tokens(self) -> None:
        self.tokens.clear()

    # ---- the HTTP side ----------------------------------------------------------------
    async def token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        form = await request.post()
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}" or (
                form.get("grant_type") != "client_credentials"):
            return web.json_response({"error": "invalid_client"}, status=401)
        token = f"token-{next(self._ids)}"
        self.tokens.add(token)
        return web.json_response({"access_token": token, "token_type": "bearer",
                                  "expires_in": 1800})

    def _authorized(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in self.tokens

    async def available(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"message": "Authorization denied."}, status=401)
        return web.json_response({"oldestChangeVersion": 0, "newestChangeVersion": self.version})

    async def data(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"message": "Authorization denied."}, status=401)
        q = request.query
        self.request_times.append(time.monotonic())
        self.data_requests.append((request.path, dict(q),
                                   request.headers.get("Use-Snapshot") == "true"))
        if self.fail_at is not None and len(self.data_requests) == self.fail_at:
            return web.json_response({"message": "The server is unavailable."}, status=503)
        if self.throttle:
            self.throttle -= 1
            self.throttled_at.append(time.monotonic())
            return web.json_response({"message": "Too many requests"}, status=429,
                                     headers={"Retry-After": self.retry_after})
        resource = request.match_info["resource"]
        kind = request.match_info.get("kind", "")
        low = int(q.get("minChangeVersion", 0))
        high = int(q.get("maxChangeVersion", 1 << 60))
        if kind == "deletes":
            items = [d for d in self.deletes.get(resource, []) if low <= d["changeVersion"] <= high]
        elif kind == "keyChanges":
            items = [d for d in self.key_changes.get(resource, [])
                     if low <= d["changeVersion"] <= high]
        else:
            items = [i for i in self.resources.get(resource, [])
                     if low <= self.versions[i["id"]] <= high]
            if "studentUniqueId" in q:
                items = [i for i in items if _student_of(i) == q["studentUniqueId"]]
            if "contactUniqueId" in q:
                items = [i for i in items if _contact_of(i) == q["contactUniqueId"]]
        offset, limit = int(q.get("offset", 0)), int(q.get("limit", 25))
        return web.json_response(items[offset:offset + limit])

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/oauth/token", self.token)
        app.router.add_get("/changeQueries/v1/availableChangeVersions", self.available)
        app.router.add_get("/data/v3/ed-fi/{resource}", self.data)
        app.router.add_get("/data/v3/ed-fi/{resource}/{kind}", self.data)
        return app
