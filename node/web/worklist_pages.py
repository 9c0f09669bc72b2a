"""Near-match worklist, review requests and link validation pages.

DESIGN.md "Identity matching" (a `near_match` goes to a human worklist with the top
candidates and per-field agreement) and "Messages" (`link`, validated by the receiver's
data admin); MSIX.md §1.3 (two-person rule: a merge must be validated by another data
administrator before it takes effect). The rules live in `node.federation.links`; these
pages call the async functions of `node.control.link_routes`:

- `POST /review` (school staff and data administrators): one click on a near match of a
  search, "Ask a data administrator to check this record", queues it (answered as JSON
  to `static/search.js`, as a page to a plain form post); the same candidate is never
  queued twice;
- `GET /worklist`: open near matches, the one waiting longest first, with its age and
  who asked;
- `GET /worklist/{id}`: what was searched for and what the other state holds, side by
  side, with the agreement of each field and the outcome in words; confirm (→ a pending
  link) or reject;
- `GET /links`: links waiting for validation (ours, confirmed by another admin; and the
  ones peers asserted), active and ended links; revoke;
- `GET /links/{id}`: the child before a validation: both records' demographics side by
  side (for a peer's link: our record and the child as the other state describes it in
  the `link`, `protocol.messages.child_of_comment`), every field's agreement, the outcome
  in words (and the score, for these data administrators); validate or reject there.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from node.appkeys import CONFIG
from node.control import link_routes
from node.errors import BadRequest, NodeError, NotFound
from node.http_inputs import path_id
from node.matching.outcome_words import (
    AGREEMENT_LEVELS,
    candidate_words,
    outcome_words,
    tone,
)
from node.web.i18n import N_
from node.web.local_pages import RECORD_ROLES
from node.web.people_names import name_people
from node.web.site import (
    add_nav,
    current_session,
    now,
    render,
    requires,
    run_db,
    translate,
    translate_message,
)
from protocol.messages import NO_NAME, child_of_comment

ADMIN = "data_admin"
DONE = {"confirmed": "Near match confirmed. Another data administrator must now validate the "
                     "link before it takes effect.",
        "rejected": "Near match rejected; it will not come back for this search.",
        "validate": "Link validated; it is now active.",
        "reject": "Link rejected.", "revoke": "Link revoked."}
#: the fields of a side-by-side comparison: (label, the record's keys, agreement key)
FIELDS = (("Given names", ("first_name", "middle_name"), "given"),
          ("Surnames", ("last_name_1", "last_name_2"), "surnames"),
          ("Birth date", ("birth_date",), "birth_date"),
          ("Sex", ("sex",), "sex"),
          ("Birth city", ("birth_city",), "birth_city"),
          ("Birth state, country", ("birth_state", "birth_country"), "birth_region"),
          ("Student id", ("state_student_id",), "state_student_id"))


def _join(d: dict[str, Any], *keys: str) -> str:
    return " ".join(str(d[k]) for k in keys if d.get(k) not in (None, "", NO_NAME))


def _parent(query: dict[str, Any], role: str) -> str:
    for text in query.get("parent_names", []):
        kind, _, name = str(text).partition(":")
        if kind.strip().lower() == role:
            return name.strip()
    return ""


def _row(label: str, values: list[str], level: str) -> dict[str, Any]:
    return {"label": label, "values": [v or "—" for v in values], "query": values[0] or "—",
            "candidate": values[-1] or "—", "level": level,
            "level_text": AGREEMENT_LEVELS.get(level, level), "tone": tone(level)}


def side_by_side(records: list[dict[str, Any]], agreements: dict[str, Any],
                 ) -> list[dict[str, Any]]:
    """Rows of (field, each record's value, the agreement of the last two) for a page."""
    out = []
    for label, keys, key in FIELDS:
        values = [_join(r, *keys) for r in records]
        level = str(agreements.get(key, "missing"))
        if not any(values) and level == "missing":
            continue
        out.append(_row(label, values, level))
    return out


def comparison(item: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of (field, searched for, the other state's record, agreement) for the page."""
    q, ag = item["query"], item["agreements"]
    rows = side_by_side([q, item["candidate"]], ag)
    for label, role, key in (("Mother", "female", "mother"), ("Father", "male", "father")):
        level = str(ag.get(key, "missing"))
        mine = _parent(q, role)
        if mine or level != "missing":
            rows.append(_row(label, [mine, "(not shared in a search)"], level))
    return rows


def item_words(item: dict[str, Any]) -> str:
    """The outcome in words of a worklist item (a near match as its state answered it)."""
    return candidate_words({"outcome": "near_match", "score": item["score"],
                            "agreements": item["agreements"]})


def age_text(seconds: float) -> str:
    """How long something has waited, in words: "5 minutes", "3 hours", "2 days"."""
    minutes = max(0, int(seconds // 60))
    for size, unit in ((1440, "day"), (60, "hour"), (1, "minute")):
        if minutes >= size:
            n = minutes // size
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return "just now"


def _admin(request: web.Request) -> str:
    session = current_session(request)
    assert session is not None
    return session.user.username


def _id(request: web.Request) -> int:
    return path_id(request.match_info["id"])


async def _record_views(request: web.Request, items: list[dict[str, Any]]) -> None:
    """Near matches show a child's demographics: each is a recorded view (data quality)."""
    from node.store import accounts
    session = current_session(request)
    if session is None:
        return
    for item in items:
        await run_db(request, accounts.record_view, session.user.username, session.user.role,
                     "data_quality", [str(item.get("handle", ""))], str(item.get("peer", "")),
                     what="worklist")


# ---- one click: ask a data administrator ------------------------------------------------

ALREADY_ASKED = N_("Already asked by %(who)s on %(when)s: a data administrator will check "
                   "this record.")


def _when(ms: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ms / 1000)) if ms else "—"


@requires(*RECORD_ROLES)
async def ask_review(request: web.Request) -> web.StreamResponse:
    """Queue a held near match for a data administrator (`links.ask_review`)."""
    wants_json = "application/json" in request.headers.get("Accept", "")
    form = await request.post()
    raw = str(form.get("item", "")).strip()
    try:
        if not raw.isdigit() or not 0 < len(raw) <= 18:
            raise BadRequest("item: which near match to check (a number) is missing")
        item, already = await link_routes.ask_review(request.app, int(raw), _admin(request))
    except NodeError as exc:
        if wants_json:
            return web.json_response({"error": translate_message(request, str(exc))},
                                     status=exc.status)
        return render(request, "review_asked.html", {"error": str(exc)}, status=exc.status,
                      title="Ask a data administrator")
    if already:
        message = translate(request, ALREADY_ASKED) % {
            "who": item["asked_by"], "when": _when(item["asked_ms"])}
    else:
        message = translate(request, N_("Asked: a data administrator will check this record."))
    if wants_json:
        return web.json_response({"item": item["id"], "status": item["status"],
                                  "already": already, "message": message})
    return render(request, "review_asked.html", {"message": message},
                  title="Ask a data administrator")


# ---- the worklist -----------------------------------------------------------------------

@requires(ADMIN)
async def worklist_page(request: web.Request) -> web.StreamResponse:
    items = await link_routes.list_worklist(request.app, "open")
    await _record_views(request, items)
    at = now(request)
    for item in items:
        asked = item.get("asked_ms") or item["created_ms"]
        item["age"] = age_text(at - asked / 1000)
        item["words"] = item_words(item)
    done = DONE.get(request.query.get("done", ""), "")
    await name_people(request, items, "asked_by", "requested_by")
    return render(request, "worklist.html", {"items": items, "done": done},
                  title="Near-match worklist")


async def _item_page(request: web.Request, item_id: int, *, error: str = "",
                     status: int = 200) -> web.Response:
    item = await link_routes.get_worklist_item(request.app, item_id)
    await _record_views(request, [item])
    await name_people(request, [item], "asked_by", "requested_by", "resolved_by")
    return render(request, "worklist_item.html",
                  {"item": item, "rows": comparison(item), "error": error,
                   "words": item_words(item)},
                  status=status, title=f"Near match {item_id}")


@requires(ADMIN)
async def item_page(request: web.Request) -> web.StreamResponse:
    return await _item_page(request, _id(request))


@requires(ADMIN)
async def item_action(request: web.Request) -> web.StreamResponse:
    item_id, action = _id(request), request.match_info["action"]
    form = await request.post()
    comment = str(form.get("comment", "")).strip()[:1000]
    try:
        if action == "confirm":
            local = str(form.get("local_record", "")).strip()[:128] or None
            await link_routes.confirm_item(request.app, item_id, _admin(request),
                                           local_record=local, comment=comment or None)
        elif action == "reject":
            await link_routes.reject_item(request.app, item_id, _admin(request), comment)
        else:
            raise BadRequest(f"unknown action {action!r}")
    except NodeError as exc:
        return await _item_page(request, item_id, error=str(exc), status=exc.status)
    if action == "confirm":
        raise web.HTTPSeeOther("/links?done=confirmed")
    raise web.HTTPSeeOther("/worklist?done=rejected")


# ---- links ------------------------------------------------------------------------------

def _can_validate(link: dict[str, Any], me: str) -> bool:
    return bool(link["status"] == "pending_remote" or (
        link["status"] == "pending" and str(link["asserted_by"]).lower() != me.lower()))


async def _links_page(request: web.Request, *, error: str = "", status: int = 200,
                      ) -> web.Response:
    rows = await link_routes.list_links(request.app, None)
    me = _admin(request)
    for r in rows:
        r["can_validate"] = _can_validate(r, me)
        r["own_pending"] = r["status"] == "pending" and not r["can_validate"]
        r["comment"] = child_of_comment(r["comment"])[0]
    await name_people(request, rows, "asserted_by", "validated_by", "ended_by")
    waiting = [r for r in rows if r["status"] in ("pending", "pending_remote")]
    others = [r for r in rows if r["status"] not in ("pending", "pending_remote")]
    return render(request, "links.html",
                  {"waiting": waiting, "others": others, "error": error,
                   "done": DONE.get(request.query.get("done", ""), "")},
                  status=status, title="Links between states")


@requires(ADMIN)
async def links_page(request: web.Request) -> web.StreamResponse:
    return await _links_page(request)


def _local_child(db: Any, sid: str) -> dict[str, Any]:
    from node.store.record_reads import read_student

    try:
        record = read_student(db, sid)
    except NotFound:
        return {}
    return {k: v for k, v in record.items() if not isinstance(v, list)}


def _compare(left: dict[str, Any], right: dict[str, Any]) -> tuple[dict[str, str], str, int]:
    """(agreements, outcome in words, score × 1000) of two records, scored here with the
    frozen parameters every state scores with."""
    from node.matching.index import score_candidates

    query = {k: v for k, v in left.items() if v != NO_NAME}
    hits = score_candidates(query, [right], limit=1)
    if not hits:  # pragma: no cover - one candidate always gives one hit
        return {}, "", 0
    hit = hits[0]
    words = outcome_words(hit.outcome, probability=getattr(hit, "probability", None))
    return dict(hit.agreements), words, round(hit.score * 1000)


async def link_view(request: web.Request, link_id: int) -> dict[str, Any]:
    """What the link page shows: the two records side by side with each field's
    agreement and the outcome in words (see the module docstring)."""
    link = await link_routes.get_link(request.app, link_id)
    me, node_id = _admin(request), request.app[CONFIG].node.id
    comment, child = child_of_comment(link["comment"])
    columns: list[tuple[str, dict[str, Any]]] = []
    item = None
    if link["direction"] == "out":
        if link.get("worklist_id"):
            try:
                item = await link_routes.get_worklist_item(request.app, link["worklist_id"])
            except NotFound:
                item = None
        if link.get("local_record"):
            mine = await run_db(request, _local_child, link["local_record"])
            columns.append((f"{node_id}'s record (ours)", mine))
        elif link.get("anchor_peer") and item is not None:
            anchor = next((a for a in item["anchors"] if a["handle"] ==
                           link["anchor_record"]), None)
            if anchor is not None and anchor["candidate"]:
                columns.append((f"{link['anchor_peer']}'s record", anchor["candidate"]))
        if item is not None and not columns:
            columns.append((f"Searched for in {node_id}", item["query"]))
        if item is not None:
            columns.append((f"{link['peer']}'s record", item["candidate"]))
    else:
        if child is not None:
            columns.append((f"The child as {link['peer']} knows it", child.to_body()))
        if link.get("local_record"):
            mine = await run_db(request, _local_child, link["local_record"])
            columns.append((f"{node_id}'s record (ours)", mine))
    agreements: dict[str, str] = {}
    words, score = "", None
    if len(columns) >= 2:
        if item is not None and columns[0][1] is item["query"]:
            agreements, score = item["agreements"], item["score"]
            words = item_words(item)
        else:
            agreements, words, score = _compare(columns[0][1], columns[-1][1])
    shown = ({"handle": link["peer_record"], "peer": link["peer"]}
             if link["direction"] == "out" else
             {"handle": link.get("local_record") or link["ref"], "peer": node_id})
    await _record_views(request, [shown])  # the record of the state it belongs to
    return {"link": link, "comment": comment, "columns": [c[0] for c in columns],
            "rows": side_by_side([c[1] for c in columns], agreements) if columns else [],
            "words": words, "score": score, "item": item,
            "described": link["direction"] == "out" or child is not None,
            "can_validate": _can_validate(link, me),
            "own_pending": link["status"] == "pending" and not _can_validate(link, me)}


async def _link_page(request: web.Request, link_id: int, *, error: str = "",
                     status: int = 200) -> web.Response:
    view = await link_view(request, link_id)
    await name_people(request, [view["link"]], "asserted_by", "validated_by", "ended_by")
    return render(request, "link.html", {**view, "error": error}, status=status,
                  title=f"Link {link_id}")


@requires(ADMIN)
async def link_page(request: web.Request) -> web.StreamResponse:
    return await _link_page(request, _id(request))


@requires(ADMIN)
async def link_action(request: web.Request) -> web.StreamResponse:
    link_id, action = _id(request), request.match_info["action"]
    form = await request.post()
    reason = str(form.get("reason", "")).strip()[:500]
    actions = {"validate": lambda: link_routes.validate_link(request.app, link_id,
                                                            _admin(request)),
               "reject": lambda: link_routes.reject_link(request.app, link_id,
                                                        _admin(request), reason),
               "revoke": lambda: link_routes.revoke_link(request.app, link_id,
                                                        _admin(request), reason)}
    if action not in actions:
        raise BadRequest(f"unknown link action {action!r}")
    try:
        await actions[action]()
    except NodeError as exc:
        if form.get("from") == "link":
            return await _link_page(request, link_id, error=str(exc), status=exc.status)
        return await _links_page(request, error=str(exc), status=exc.status)
    raise web.HTTPSeeOther(f"/links?done={action}")


def setup(app: web.Application) -> None:
    add_nav(app, "/worklist", "Near matches", ADMIN)
    add_nav(app, "/links", "Links", ADMIN)
    app.router.add_post("/review", ask_review, name="review")
    app.router.add_get("/worklist", worklist_page, name="worklist")
    app.router.add_get("/worklist/{id}", item_page, name="worklist_item")
    app.router.add_post("/worklist/{id}/{action}", item_action, name="worklist_action")
    app.router.add_get("/links", links_page, name="links")
    app.router.add_get("/links/{id}", link_page, name="link")
    app.router.add_post("/links/{id}/{action}", link_action, name="link_action")
