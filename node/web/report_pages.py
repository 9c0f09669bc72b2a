"""Report pages (issue 15 item 5): child count, mobility, move notices pending, worklist
aging, and the data-quality drill-down.

Every report is a page with a server-rendered SVG chart and its table (the chart's text
alternative), and each table downloads as CSV (`?format=csv&table=<id>`). Figures that
depend on every student (child count, arrivals and departures from the qualifying moves,
data quality) are read from the aggregates of `node.store.reports`, computed at the end
of each import by `node.importing.report_aggregates` (never per request); figures of the
small federation tables (move notices, worklist) are counted live with one indexed query.
School staff and data administrators read the reports; the drill-down to children (names
and links to their records) is for data administrators, like the data-quality page.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from node import clock
from node.appkeys import CONFIG
from node.errors import BadRequest
from node.importing import report_aggregates
from node.importing.data_quality import (
    BAND_ORDER,
    GRADE_KEYS,
    LABELS,
    Group,
    Report,
    import_runs,
    sort_bands,
    sort_grades,
)
from node.store import reports
from node.web.report_output import (
    Table,
    bars,
    csv_response,
    passthrough_gettext,
    pick_table,
)
from node.web.site import add_nav, current_session, render, requires, run_db

REPORT_ROLES = ("staff", "data_admin")
DAY_MS = 86_400_000
AGE_BUCKETS = ((1, "under 1 day"), (7, "1–7 days"), (30, "8–30 days"), (None, "over 30 days"))


def _bucket(age_ms: int) -> str:
    for days, label in AGE_BUCKETS:
        if days is None or age_ms < days * DAY_MS:
            return label
    return AGE_BUCKETS[-1][1]


def ensure_aggregates(db: Any, state: str, today: date) -> dict[str, str]:
    """The aggregates' meta; computed now if they never were (a database from before
    this release, or students written without an import)."""
    meta = reports.meta(db)
    if not meta:
        meta = report_aggregates.recompute(db, today, state)
    return meta


def as_of(meta: dict[str, str]) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(float(meta["computed_at"])))
    return (f"Computed for {meta.get('as_of', '?')} after import run "
            f"{meta.get('import_run', '0')} ({meta.get('students', '0')} students; {when}).")


async def _page(request: web.Request, name: str, heading: str, tables: Sequence[Table], *,
                intro: Sequence[str] = (), rules: Sequence[str] = (),
                as_of: str = "") -> web.StreamResponse:
    if request.query.get("format", "html") == "csv":
        return csv_response(pick_table(tables, request.query.get("table", "")), name)
    if request.query.get("format", "html") != "html":
        raise BadRequest("format: must be html or csv")
    return render(request, "report.html", {
        "heading": heading, "intro": intro, "rules": rules, "tables": tables,
        "charts": {t.id: bars(t) for t in tables}, "as_of": as_of,
        "report_path": request.path}, title=heading)


# ---- child count --------------------------------------------------------------------------

def _child_count(db: Any, state: str, today: date) -> tuple[Table, dict[str, str]]:
    meta = ensure_aggregates(db, state, today)
    cells = {(c["k1"], c["k2"]): c["n"] for c in reports.counts(db, "cc")}
    table = Table("periods", "Child count by performance period",
                  ["Performance period", "Category 1", "Category 2"])
    for start in sorted({k1 for k1, _k2 in cells}, reverse=True):
        label = report_aggregates.period_label(date.fromisoformat(start))
        table.rows.append([f"{label} (from {start})", cells.get((start, "cat1"), 0),
                           cells.get((start, "cat2"), 0)])
    return table, meta


@requires(*REPORT_ROLES)
async def child_count(request: web.Request) -> web.StreamResponse:
    state = request.app[CONFIG].node.id
    table, meta = await run_db(request, _child_count, state, date.today())
    return await _page(
        request, "child-count", "Child count", [table],
        intro=["Migrant children counted for each performance period (September 1 to "
               "August 31), by the two categories of the annual child count. MSIX.md "
               "§1.3 names the Child Count Reconciliation report, which flags records "
               "that make MSIX and state child counts differ; it does not itself spell "
               "out the categories, so the rules below are those of the federal child "
               "count (ESEA §1303(e))."],
        rules=[*report_aggregates.CHILD_COUNT_RULES.values(),
               *report_aggregates.CHILD_COUNT_READING],
        as_of=as_of(meta))


# ---- mobility -----------------------------------------------------------------------------

def _notices_by(db: Any, sql: str) -> dict[tuple[str, str], int]:
    return {(r[0], r[1]): int(r[2]) for r in db.execute(sql).fetchall()}


NOTICES_IN_SQL = ("SELECT strftime('%Y-%m', received_ms / 1000, 'unixepoch'), sender, "
                  "count(*) FROM inbox GROUP BY 1, 2")
NOTICES_OUT_SQL = ("SELECT strftime('%Y-%m', created_ms / 1000, 'unixepoch'), peer, "
                   "count(*) FROM outbox WHERE type = 'move_notice' GROUP BY 1, 2")


def _mobility(db: Any, state: str, today: date) -> tuple[list[Table], dict[str, str]]:
    meta = ensure_aggregates(db, state, today)

    def stored(report: str) -> dict[str, int]:
        return {c["k1"]: int(c["n"]) for c in reports.counts(db, report)}

    arr_m, dep_m = stored("arr_month"), stored("dep_month")
    arr_s, dep_s = stored("arr_from"), stored("dep_to")
    n_in, n_out = _notices_by(db, NOTICES_IN_SQL), _notices_by(db, NOTICES_OUT_SQL)
    in_m: dict[str, int] = {}
    in_s: dict[str, int] = {}
    out_m: dict[str, int] = {}
    out_s: dict[str, int] = {}
    for (month, who), n in n_in.items():
        in_m[month] = in_m.get(month, 0) + n
        in_s[who] = in_s.get(who, 0) + n
    for (month, who), n in n_out.items():
        out_m[month] = out_m.get(month, 0) + n
        out_s[who] = out_s.get(who, 0) + n
    cols = ["Arrivals (qualifying moves)", "Departures (qualifying moves)",
            "Move notices received", "Move notices sent"]
    months = Table("months", "Arrivals and departures by month", ["Month", *cols])
    for m in sorted({*arr_m, *dep_m, *in_m, *out_m}, reverse=True)[:36]:
        months.rows.append([m, arr_m.get(m, 0), dep_m.get(m, 0), in_m.get(m, 0),
                            out_m.get(m, 0)])
    states = Table("states", "Arrivals from and departures to each state",
                   ["State or country", *cols])
    for s in sorted({*arr_s, *dep_s, *in_s, *out_s}):
        states.rows.append([s, arr_s.get(s, 0), dep_s.get(s, 0), in_s.get(s, 0),
                            out_s.get(s, 0)])
    return [months, states], meta


@requires(*REPORT_ROLES)
async def mobility(request: web.Request) -> web.StreamResponse:
    state = request.app[CONFIG].node.id
    tables, meta = await run_db(request, _mobility, state, date.today())
    return await _page(
        request, "mobility", "Mobility", tables,
        intro=[f"Arrivals in {state} are qualifying moves to {state}, by the month of the "
               "qualifying arrival date and the state (or country) moved from; departures "
               f"are qualifying moves recorded here from {state} to another state. Move "
               "notices are those this node received from and sent to other states, by "
               "the month they were received or sent (the latest 36 months)."],
        as_of=as_of(meta))


# ---- move notices pending -----------------------------------------------------------------

def _notices_pending(db: Any, now_ms: int) -> list[Table]:
    inbox = Table("received", "Received move notices not yet handled, by age",
                  ["Age", "New", "Acknowledged", "Total"])
    counts: dict[str, dict[str, int]] = {label: {} for _d, label in AGE_BUCKETS}
    for status, received_ms in db.execute(
            "SELECT status, received_ms FROM inbox WHERE status != 'handled'").fetchall():
        row = counts[_bucket(now_ms - int(received_ms))]
        row[status] = row.get(status, 0) + 1
    for _d, label in AGE_BUCKETS:
        c = counts[label]
        inbox.rows.append([label, c.get("new", 0), c.get("acknowledged", 0),
                           sum(c.values())])
    inbox.chart = 3
    outbox = Table("undelivered", "Move notices sent but not yet delivered, by state",
                   ["State", "Waiting", "Oldest (days)"])
    for peer, n, oldest in db.execute(
            "SELECT peer, count(*), min(created_ms) FROM outbox WHERE delivered_ms IS NULL "
            "AND type = 'move_notice' GROUP BY peer ORDER BY peer").fetchall():
        outbox.rows.append([peer, int(n), (now_ms - int(oldest)) // DAY_MS])
    return [inbox, outbox]


@requires(*REPORT_ROLES)
async def notices_pending(request: web.Request) -> web.StreamResponse:
    tables = await run_db(request, _notices_pending, clock.now_ms())
    return await _page(
        request, "move-notices-pending", "Move notices pending", tables,
        intro=["Notices of children expected here that nobody has marked handled yet "
               "(the arrivals queue), by how long ago they were received; and notices "
               "this node sent that the other state has not yet acknowledged."])


# ---- worklist aging -----------------------------------------------------------------------

def _worklist_aging(db: Any, now_ms: int) -> list[Table]:
    table = Table("open", "Open near-match reviews, by time since they were asked for",
                  ["Age", "Open reviews"])
    counts = dict.fromkeys((label for _d, label in AGE_BUCKETS), 0)
    for (asked,) in db.execute("SELECT coalesce(asked_ms, created_ms) FROM worklist "
                               "WHERE status = 'open'").fetchall():
        counts[_bucket(now_ms - int(asked))] += 1
    table.rows = [[label, n] for label, n in counts.items()]
    by_peer = Table("peers", "Open near-match reviews by state of the candidate",
                    ["State", "Open reviews", "Oldest (days)"])
    for peer, n, oldest in db.execute(
            "SELECT peer, count(*), min(coalesce(asked_ms, created_ms)) FROM worklist "
            "WHERE status = 'open' GROUP BY peer ORDER BY peer").fetchall():
        by_peer.rows.append([peer, int(n), (now_ms - int(oldest)) // DAY_MS])
    return [table, by_peer]


@requires(*REPORT_ROLES)
async def worklist_aging(request: web.Request) -> web.StreamResponse:
    tables = await run_db(request, _worklist_aging, clock.now_ms())
    return await _page(
        request, "worklist-aging", "Worklist aging", tables,
        intro=["Near matches waiting for a data administrator's decision, by how long "
               "ago someone asked for the review."])


# ---- data quality (CSV, chart and drill-down; the page is /data-quality) ------------------

def dq_group_key(kind: str, label: str) -> str:
    return "total" if kind == "total" else f"{kind}:{label}"


def drill_href(kind: str, label: str, element: str) -> str:
    return "/reports/data-quality/children?" + urlencode(
        {"group": dq_group_key(kind, label), "element": element})


def dq_tables(db: Any, state: str, today: date) -> tuple[list[Table], dict[str, str]]:
    """The data-quality cells as tables: per group, children and per element
    "have of applies" (CSV: two columns per element)."""
    meta = ensure_aggregates(db, state, today)
    cells = {(c["k1"], c["k2"]): (int(c["n"]), c["m"]) for c in reports.counts(db, "dq")}
    groups = sorted({k1 for k1, _k2 in cells})
    out = []
    for kind, caption, order in (("age", "Completeness by age band", BAND_ORDER),
                                 ("grade", "Completeness by grade of the latest enrollment",
                                  GRADE_KEYS)):
        cols = ["Group", "Children"]
        for label in LABELS:
            cols += [f"{label}: have", f"{label}: applies"]
        table = Table(kind, caption, cols)
        keys = ["total"] if kind == "age" else []
        keys += sorted((g for g in groups if g.startswith(kind + ":")),
                       key=lambda g: order.index(g.split(":", 1)[1])
                       if g.split(":", 1)[1] in order else len(order))
        for g in keys:
            row: list[Any] = ["All children" if g == "total" else g.split(":", 1)[1],
                              cells.get((g, ""), (0, None))[0]]
            for label in LABELS:
                have, applies = cells.get((g, label), (0, 0))
                row += [have, applies or 0]
            table.rows.append(row)
        out.append(table)
    return out, meta


def dq_report(db: Any, state: str, today: date,
              ) -> tuple[Report, list[Table], dict[str, Any], dict[str, str]]:
    """The data-quality report of `/data-quality` from the stored aggregates: the
    `Report` its template shows, its tables (CSV), the chart of children lacking each
    element (all children) and the aggregates' meta."""
    tables, meta = dq_tables(db, state, today)
    groups: dict[str, Group] = {}
    for c in reports.counts(db, "dq"):
        label = str(c["k1"]).partition(":")[2]
        g = groups.setdefault(c["k1"], Group("All children" if c["k1"] == "total" else label))
        if c["k2"] == "":
            g.children = int(c["n"])
        else:
            g.counts[c["k2"]] = [int(c["n"]), int(c["m"] or 0)]
    total = groups.get("total", Group("All children"))
    missing = Table("missing", "Children lacking each element (all children)",
                    ["Element", "Children without it", "Children it applies to"])
    for label in LABELS:
        have, applies = total.counts[label]
        missing.rows.append([label, applies - have, applies])
        missing.links.append(drill_href("total", "", label))
    report = Report(
        total=total,
        by_age=sort_bands(g for k, g in groups.items() if k.startswith("age:")),
        by_grade=sort_grades(g for k, g in groups.items() if k.startswith("grade:")),
        **import_runs(db))
    return report, [missing, *tables], bars(missing), meta


def _drill(db: Any, state: str, today: date, group: str, element: str,
           ) -> tuple[int, list[dict[str, Any]]]:
    ensure_aggregates(db, state, today)
    bit = 1 << LABELS.index(element)
    band = grade = None
    if group.startswith("age:"):
        band = group[4:]
    elif group.startswith("grade:"):
        grade = group[6:]
    return reports.missing_children(db, bit=bit, band=band, grade=grade)


@requires("data_admin")
async def dq_children(request: web.Request) -> web.StreamResponse:
    group = request.query.get("group", "total")
    element = request.query.get("element", "")
    if element not in LABELS:
        raise BadRequest(f"element: must be one of {', '.join(LABELS)}")
    if not (group == "total" or group.startswith(("age:", "grade:"))):
        raise BadRequest("group: must be total, age:<band> or grade:<grade>")
    total, rows = await run_db(request, _drill, request.app[CONFIG].node.id, date.today(),
                               group, element)
    label = "All children" if group == "total" else group.split(":", 1)[1]
    table = Table("children", f"Children without {element} ({label})",
                  ["Child", "State student id", "Age band", "Grade"], chart=None)
    for r in rows:
        table.rows.append([r["name"] or r["state_student_id"], r["state_student_id"],
                           r["band"], r["grade"]])
        table.links.append(f"/students/{r['state_student_id']}?purpose=data_quality")
    if request.query.get("format", "html") == "csv":
        return csv_response(table, "data-quality-children")
    return render(request, "report_children.html", {
        "table": table, "total": total, "element": element, "group_label": label,
        "shown": len(rows), "report_path": request.path,
        "query": urlencode({"group": group, "element": element})},
        title=f"Children without {element}")


# ---- index --------------------------------------------------------------------------------

REPORTS: tuple[tuple[str, str, str, Callable[..., Any]], ...] = (
    ("/reports/child-count", "Child count", "Category 1 and Category 2 by performance "
     "period, with the counting rules", child_count),
    ("/reports/mobility", "Mobility", "arrivals and departures by month and by state",
     mobility),
    ("/reports/move-notices", "Move notices pending", "received and not handled, sent and "
     "not delivered", notices_pending),
    ("/reports/worklist-aging", "Worklist aging", "open near-match reviews by age",
     worklist_aging),
)


@requires(*REPORT_ROLES)
async def index(request: web.Request) -> web.StreamResponse:
    links = [(href, label, says) for href, label, says, _h in REPORTS]
    session = current_session(request)
    if session is not None and session.user.role == "data_admin":
        links.append(("/data-quality", "Data quality", "completeness of the required "
                      "elements with the children behind each cell"))
    return render(request, "reports.html", {"links": links}, title="Reports")


def setup(app: web.Application) -> None:
    passthrough_gettext(app)
    add_nav(app, "/reports", "Reports", *REPORT_ROLES)
    app.router.add_get("/reports", index, name="reports")
    for href, _label, _says, handler in REPORTS:
        app.router.add_get(href, handler)
    app.router.add_get("/reports/data-quality/children", dq_children,
                       name="dq_children")
