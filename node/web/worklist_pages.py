"""Near-match worklist and link validation pages (data administrators).

DESIGN.md "Identity matching" (a `near_match` goes to a human worklist with the top
candidates and per-field agreement) and "Messages" (`link`, validated by the receiver's
data admin); MSIX.md §1.3 (two-person rule: a merge must be validated by another data
administrator before it takes effect). The rules live in `node.federation.links`; these pages call
the async functions of `node.control.link_routes`:

- `GET /worklist`: open near matches, best score first;
- `GET /worklist/{id}`: what was searched for and what the other state holds, side by
  side, with the matcher's agreement level per field; confirm (→ a pending link) or reject;
- `GET /links`: links waiting for validation (ours, confirmed by another admin; and the
  ones peers asserted), active and ended links; validate, reject or revoke.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from node.control import link_routes
from node.errors import BadRequest, NodeError
from node.http_inputs import path_id
from node.web.site import add_nav, current_session, render, requires, run_db

ADMIN = "data_admin"
LEVELS = {"exact": "same", "agree": "same", "alias": "nickname of", "jw_high": "very similar",
          "jw_mid": "similar", "conflict": "conflicting", "differ": "different",
          "swapped": "surnames swapped", "partial": "partly the same",
          "fuzzy": "similar spelling", "one_differs": "one differs",
          "swap": "day and month swapped", "near": "a few days apart",
          "missing": "not compared"}
GOOD, BAD = frozenset({"exact", "agree"}), frozenset({"differ", "conflict"})
DONE = {"confirmed": "Near match confirmed. Another data administrator must now validate the "
                     "link before it takes effect.",
        "rejected": "Near match rejected; it will not come back for this search.",
        "validate": "Link validated; it is now active.",
        "reject": "Link rejected.", "revoke": "Link revoked."}


def _join(d: dict[str, Any], *keys: str) -> str:
    return " ".join(str(d[k]) for k in keys if d.get(k))


def _parent(query: dict[str, Any], role: str) -> str:
    for text in query.get("parent_names", []):
        kind, _, name = str(text).partition(":")
        if kind.strip().lower() == role:
            return name.strip()
    return ""


def comparison(item: dict[str, Any]) -> list[dict[str, str]]:
    """Rows of (field, searched for, the other state's record, agreement) for the page."""
    q, c, ag = item["query"], item["candidate"], item["agreements"]
    rows = [
        ("Given names", _join(q, "first_name", "middle_name"),
         _join(c, "first_name", "middle_name"), "given"),
        ("Surnames", _join(q, "last_name_1", "last_name_2"),
         _join(c, "last_name_1", "last_name_2"), "surnames"),
        ("Birth date", q.get("birth_date", ""), c.get("birth_date", ""), "birth_date"),
        ("Sex", q.get("sex", ""), c.get("sex", ""), "sex"),
        ("Birth city", q.get("birth_city", ""), c.get("birth_city", ""), "birth_city"),
        ("Birth state, country", _join(q, "birth_state", "birth_country"),
         _join(c, "birth_state", "birth_country"), "birth_region"),
        ("Mother", _parent(q, "female"), "(not shared in a search)", "mother"),
        ("Father", _parent(q, "male"), "(not shared in a search)", "father"),
    ]
    out = []
    for label, mine, theirs, key in rows:
        level = str(ag.get(key, "missing"))
        if not mine and level == "missing" and key in ("mother", "father"):
            continue
        tone = ("good" if level in GOOD else "bad" if level in BAD
                else "none" if level == "missing" else "mid")
        out.append({"label": label, "query": mine or "—", "candidate": theirs or "—",
                    "level": level, "level_text": LEVELS.get(level, level), "tone": tone})
    return out


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


@requires(ADMIN)
async def worklist_page(request: web.Request) -> web.StreamResponse:
    items = await link_routes.list_worklist(request.app, "open")
    await _record_views(request, items)
    done = DONE.get(request.query.get("done", ""), "")
    return render(request, "worklist.html", {"items": items, "done": done},
                  title="Near-match worklist")


async def _item_page(request: web.Request, item_id: int, *, error: str = "",
                     status: int = 200) -> web.Response:
    item = await link_routes.get_worklist_item(request.app, item_id)
    await _record_views(request, [item])
    return render(request, "worklist_item.html",
                  {"item": item, "rows": comparison(item), "error": error},
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


async def _links_page(request: web.Request, *, error: str = "", status: int = 200,
                      ) -> web.Response:
    rows = await link_routes.list_links(request.app, None)
    me = _admin(request)
    for r in rows:
        r["can_validate"] = (r["status"] == "pending_remote" or (
            r["status"] == "pending" and r["asserted_by"].lower() != me.lower()))
        r["own_pending"] = r["status"] == "pending" and not r["can_validate"]
    waiting = [r for r in rows if r["status"] in ("pending", "pending_remote")]
    others = [r for r in rows if r["status"] not in ("pending", "pending_remote")]
    return render(request, "links.html",
                  {"waiting": waiting, "others": others, "error": error,
                   "done": DONE.get(request.query.get("done", ""), "")},
                  status=status, title="Links between states")


@requires(ADMIN)
async def links_page(request: web.Request) -> web.StreamResponse:
    return await _links_page(request)


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
        return await _links_page(request, error=str(exc), status=exc.status)
    raise web.HTTPSeeOther(f"/links?done={action}")


def setup(app: web.Application) -> None:
    add_nav(app, "/worklist", "Near matches", ADMIN)
    add_nav(app, "/links", "Links", ADMIN)
    app.router.add_get("/worklist", worklist_page, name="worklist")
    app.router.add_get("/worklist/{id}", item_page, name="worklist_item")
    app.router.add_post("/worklist/{id}/{action}", item_action, name="worklist_action")
    app.router.add_get("/links", links_page, name="links")
    app.router.add_post("/links/{id}/{action}", link_action, name="link_action")
