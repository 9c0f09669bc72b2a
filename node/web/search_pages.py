"""Federated search page of the staff web UI: ask every state at once, show answers as they come.

DESIGN.md "Web UI" (federated search: results appear as each state answers, with states
that did not answer named) and "Identity matching"; MSIX.md §1.3. `GET /search` shows the
form with the fields school staff have at hand (both surnames, given names, birth date,
sex, birth place, parents' names, any id) and a required purpose of use.
`static/search.js` POSTs the form (CSRF token in the `X-CSRF-Token` header) to
`POST /search/results`, which streams NDJSON, one line per event (a browser without
JavaScript posts the same form as a page and gets the whole answer as one HTML page,
`search_results.html`, once every state has answered or timed out):

- `{"type": "start", "local": "FL", "states": ["CA", "TX"]}`
- `{"type": "answer", "state": .., "status": "answered"|"timeout"|"failed", "error": ..,
  "candidates": [{handle|record, score, outcome, words, demographics, agreements, ..}]}` —
  this node's own students first (`"local": true`, `record` = state student id), then
  each peer as it answers (through the links find hook, so near matches reach the
  worklist, or are held with a `worklist_item` someone may ask a review for);
- `{"type": "summary", "answered": [..], "timed_out": [..], "failed": {state: reason}}`.

A search needs the given name and first surname, or a student id of any state. Outcomes
are said in words (`node.matching.outcome_words`: "almost certainly this child (99.9%)",
"possibly this child") with each field's agreement; only data administrators also see
the raw score. The page hands `search.js` every word it shows (`SEARCH_WORDS`, the
levels and fields), so the page and the script say the same. A held near match has a
button "Ask a data administrator to check this record" (`POST /review`, see
`node.web.worklist_pages`).

Every candidate shown is recorded with `accounts.record_view(..., what="search")`.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from node.appkeys import CONFIG, SERVICES
from node.errors import BadRequest, NodeError
from node.federation.federated_find import NEED_NAMES, build_criteria, federated_find
from node.federation.peer_client import active_peers
from node.matching.outcome_words import (
    AGREEMENT_FIELDS,
    AGREEMENT_LEVELS,
    agreement_text,
    candidate_words,
    id_only,
)
from node.services import Services
from node.store import accounts
from node.web.i18n import N_
from node.web.local_pages import PURPOSE_LABELS, RECORD_ROLES
from node.web.site import (
    add_nav,
    current_session,
    render,
    requires,
    run_db,
    translate,
    translate_message,
    translate_phrases,
)
from protocol.messages import (
    NO_NAME,
    SEARCH_PURPOSES,
    SEXES,
    FindCriteria,
    Requester,
    search_refusal,
)

NAME_FIELDS = ("first_name", "middle_name", "last_name_1", "last_name_2")
PLACE_FIELDS = ("birth_city", "birth_state", "birth_country")
PARENT_FIELDS = ("mother_first", "mother_last", "father_first", "father_last")
FORM_FIELDS = (*NAME_FIELDS, "birth_date", "sex", *PLACE_FIELDS, *PARENT_FIELDS,
               "student_id", "purpose")
#: Every word the results say besides a candidate's own `words`: the page uses them and
#: hands them to static/search.js (`data-words`), so both say the same.
SEARCH_WORDS: dict[str, Any] = {
    "need": NEED_NAMES,
    "purpose": "Choose the purpose of use.",
    "none": "No record of this child.",
    "local": "This node",
    "answered": "Answered",
    "no_answer": "Did not answer",
    "timeout": "Did not answer in time",
    "columns": ["Include", "Name", "Birth date", "Sex", "Birth place", "Outcome"],
    "score": "Score",
    "linked": "linked",
    "on_worklist": "on the worklist",
    "ask": "Ask a data administrator to check this record",
    "asked": "Asked: a data administrator will check this record.",
    "held_admin": "Near match: open it with the purpose Data quality to resolve it.",
    "held_staff": "Near match: opens once a data administrator has linked it.",
    "id_only": "Found by the student id alone: add the birth date or given name and search "
               "again to open it.",
}


#: what static/search.js says on its own, with {n}, {state}, {list}, {status} and {error}
#: filled in by the script; a pair is (one, other): the plural form is chosen with the
#: page language's Intl.PluralRules
SCRIPT_WORDS: dict[str, Any] = {
    "waiting": N_("Waiting…"),
    "waiting_answer": N_("Waiting for an answer…"),
    "records": (N_("{n} record"), N_("{n} records")),
    "include": N_("Include {name} ({state})"),
    "state_answered": (N_("{state}: {n} record."), N_("{state}: {n} records.")),
    "state_no_answer": N_("{state} did not answer."),
    "waiting_for": N_("Waiting for {list}…"),
    "timed_out": N_("{state} (no answer in time)"),
    "unreachable": N_("{state} (could not be reached)"),
    "states_answered": (N_("{n} state answered"), N_("{n} states answered")),
    "records_found": (N_("{n} record found."), N_("{n} records found.")),
    "did_not_answer": N_("Did not answer: {list}. Results may be incomplete."),
    # the summary's disclosure (issue 14): {sent} states received the search's details of
    # {total} asked; {n} answered the discover round with no hit and saw none of them
    "disclosed": (N_("Your search's details went to {sent} of {total} states; {n} state "
                     "found no record and saw none of them."),
                  N_("Your search's details went to {sent} of {total} states; {n} found no "
                     "record and saw none of them.")),
    "disclosed_all": N_("Your search's details went to {sent} of {total} states."),
    "failed": N_("The search failed (HTTP {status})."),
    "interrupted": N_("The search was interrupted: {error}"),
    "tick": N_("Tick at least one record to open."),
    "http": N_("HTTP {status}"),
    "sex_F": N_("female"), "sex_M": N_("male"), "sex_X": N_("not specified"),
}


def page_words(request: web.Request) -> dict[str, Any]:
    """SEARCH_WORDS and SCRIPT_WORDS in the request's language (the page and search.js)."""
    def said(value: Any) -> Any:
        if isinstance(value, str):
            return translate(request, value)
        return [said(v) for v in value]

    return {k: said(v) for k, v in {**SEARCH_WORDS, **SCRIPT_WORDS}.items()}


#: the routes of a find's disclosure (node.federation.discover_round.Route), each state once
DISCLOSURE_ROUTES = ("plain", "connected", "hit", "no_hit", "not_sent")


def disclosure_text(request: web.Request, summary: dict[str, Any]) -> str:
    """How many states received the search's details, from the summary's disclosure, in
    the request's language (static/search.js says the same with the same words)."""
    disclosure = summary.get("disclosure") or {}
    asked = {s for route in DISCLOSURE_ROUTES for s in disclosure.get(route, ())}
    if not asked:
        return ""
    n = len(disclosure.get("no_hit", ()))
    words = SCRIPT_WORDS["disclosed"][0 if n == 1 else 1] if n else SCRIPT_WORDS[
        "disclosed_all"]
    values = {"sent": len(disclosure.get("find_sent", ())), "total": len(asked), "n": n}
    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))),
                  translate(request, words))


def requester_for(request: web.Request) -> Requester:
    """The signed-in user as the `Requester` a peer logs (FERPA §99.32)."""
    session = current_session(request)
    assert session is not None
    cfg = request.app[CONFIG]
    where = cfg.node.name or cfg.node.id
    school = f"{session.user.school}, {where}" if session.user.school else where
    return Requester(session.user.username, session.user.role, school[:200])


def check_purpose(value: str, role: str) -> str:
    if not value:
        raise BadRequest(SEARCH_WORDS["purpose"])
    if value not in SEARCH_PURPOSES:
        raise BadRequest(f"Unknown purpose of use {value[:40]!r}: "
                         f"{', '.join(PURPOSE_LABELS[p] for p in SEARCH_PURPOSES)}.")
    refusal = search_refusal(value, role)
    if refusal is not None:  # the form offers only what the role may use
        raise BadRequest(refusal[0].upper() + refusal[1:] + ".")
    return value


def search_purposes(role: str) -> dict[str, str]:
    """The purposes this role may search with, as the form offers them."""
    return {p: label for p, label in PURPOSE_LABELS.items() if search_refusal(p, role) is None}


def parse_search(form: Any, role: str) -> tuple[FindCriteria, str, dict[str, str]]:
    """(criteria, purpose, the cleaned form) from the search form; BadRequest names the field."""
    clean = {k: str(form.get(k, "")).strip()[:100] for k in FORM_FIELDS}
    person = {k: clean[k] for k in (*NAME_FIELDS, "birth_date", "sex", *PLACE_FIELDS)}
    parents = []
    for parent, prefix in (("female", "mother"), ("male", "father")):
        name = f"{clean[prefix + '_first']} {clean[prefix + '_last']}".strip()
        if name:
            parents.append(f"{parent}: {name}")
    ids = [("state_student_id", clean["student_id"])] if clean["student_id"] else []
    criteria = build_criteria(person, parents=parents, ids=ids)
    return criteria, check_purpose(clean["purpose"], role), clean


def _ndjson(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, ensure_ascii=False) + "\n").encode()


async def _record_shown(request: web.Request, purpose: str, state: str,
                        ids: list[str]) -> None:
    if not ids:
        return
    who = requester_for(request)
    await run_db(request, accounts.record_view, who.user_id, who.role, purpose, ids, state,
                 what="search")


# ---- pages -------------------------------------------------------------------------------

def _search_form(request: web.Request, form: Any, error: str = "",
                 status: int = 200) -> web.Response:
    values = {k: str(form.get(k, ""))[:100] for k in FORM_FIELDS}
    return render(request, "search.html",
                  {"form": values, "purposes": search_purposes(requester_for(request).role),
                   "sexes": SEXES, "error": error,
                   "levels_json": json.dumps({k: translate(request, v)
                                              for k, v in AGREEMENT_LEVELS.items()}),
                   "fields_json": json.dumps({k: translate(request, v)
                                              for k, v in AGREEMENT_FIELDS.items()}),
                   "words_json": json.dumps(page_words(request))},
                  status=status, title="Search all states")


@requires(*RECORD_ROLES)
async def search_page(request: web.Request) -> web.StreamResponse:
    return _search_form(request, request.query)


def _result_rows(event: dict[str, Any], purpose: str, admin: bool) -> list[dict[str, Any]]:
    """One state's candidates as the results page shows them (as search.js does)."""
    rows = []
    for c in event.get("candidates", []):
        d = c.get("demographics") or {}
        local = bool(event.get("local"))
        value = c["record"] if local else f"{event['state']}:{c['handle']}"
        held = (not local and c.get("outcome") == "near_match"
                and not (admin and purpose == "data_quality"))
        note = ""
        if held:
            note = SEARCH_WORDS["id_only"] if id_only(c) else SEARCH_WORDS[
                "held_admin" if admin else "held_staff"]
        rows.append({
            "c": c, "name": " ".join(str(d[k]) for k in (*NAME_FIELDS, "suffix")
                                     if d.get(k) and d[k] != NO_NAME),
            "place": ", ".join(str(d[k]) for k in PLACE_FIELDS if d.get(k)) or "—",
            "agree": agreement_text(c.get("agreements") or {}), "held": held, "admin": admin,
            "words": c.get("words") or candidate_words(c), "note": note,
            "ask": c.get("worklist_status") == "held" and c.get("worklist_item"),
            "field": "local" if local else "r", "value": value,
            "href": "/record?" + urlencode({"purpose": purpose,
                                            ("local" if local else "r"): value}),
        })
    return rows


async def _results_page(request: web.Request, events: list[dict[str, Any]], form: Any,
                        purpose: str) -> web.Response:
    session = current_session(request)
    admin = session is not None and session.user.role == "data_admin"
    answers = [dict(e, rows=_result_rows(e, purpose, admin))
               for e in events if e["type"] == "answer"]
    summary = next(e for e in events if e["type"] == "summary")
    again = urlencode({k: str(form.get(k, ""))[:100] for k in FORM_FIELDS if form.get(k)})
    return render(request, "search_results.html",
                  {"answers": answers, "summary": summary, "purpose": purpose,
                   "purpose_label": PURPOSE_LABELS.get(purpose, purpose), "admin": admin,
                   "words": page_words(request), "again": f"/search?{again}",
                   "disclosure": disclosure_text(request, summary)},
                  title="Search results")


@requires(*RECORD_ROLES)
async def search_results(request: web.Request) -> web.StreamResponse:
    """Stream each state's answer as NDJSON, or answer a plain form post with a page
    (see the module docstring)."""
    services: Services = request.app[SERVICES]
    form = await request.post()
    as_page = "text/html" in request.headers.get("Accept", "")  # a plain form post
    try:
        criteria, purpose, _clean = parse_search(form, requester_for(request).role)
        peers = active_peers(services)
    except NodeError as exc:
        if as_page:
            return _search_form(request, form, str(exc), exc.status)
        return web.json_response({"error": translate_message(request, str(exc))},
                                 status=exc.status)
    events = _search_events(request, services, criteria, purpose, peers)
    if as_page:
        return await _results_page(request, [e async for e in events], form, purpose)
    resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await resp.prepare(request)
    async for event in events:
        await resp.write(_ndjson(event))
    await resp.write_eof()
    return resp


async def _search_events(request: web.Request, services: Services, criteria: FindCriteria,
                         purpose: str, peers: list[str]) -> AsyncIterator[dict[str, Any]]:
    """start, this node's answer, each peer's answer as it comes, summary."""
    yield {"type": "start", "local": services.node_id, "states": peers}
    async for event in federated_find(services, criteria, requester=requester_for(request),
                                      purpose=purpose, peers=peers, include_local=True):
        if event["type"] == "answer":
            key = "record" if event.get("local") else "handle"
            shown = [c[key] for c in event.get("candidates", [])]
            await _record_shown(request, purpose, event["state"], shown)
            event = {**event, "candidates": [
                {**c, "words": translate_phrases(request, c.get("words") or "")}
                for c in event.get("candidates", [])]}
        yield event


def setup(app: web.Application) -> None:
    add_nav(app, "/search", "Search all states", *RECORD_ROLES)
    app.router.add_get("/search", search_page, name="search")
    app.router.add_post("/search/results", search_results, name="search_results")
