"""Local pages of the staff web UI: dashboard, student lookup and record, data quality, users.

Every page declares its roles with `@requires` (DESIGN.md "Web UI", MSIX.md §1.3): school
staff and data administrators look up this node's students and read their records (the
purpose of use is asked first, and every student shown is recorded with
`node.store.accounts.record_view`); data administrators read the data-quality report;
operators manage users. `summarize_record` turns one state's nested record into what
the reusable `record.html` macro shows, so the consolidated record can render each
state's part with the same macro.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from aiohttp import web

from crypto.passwords import hash_password_async
from node import clock
from node.appkeys import CONFIG, STARTED
from node.errors import BadRequest, Conflict, NotFound
from node.store import accounts
from node.store.accounts import PURPOSES, ROLES
from node.web.i18n import N_
from node.web.site import add_nav, current_session, render, requires, run_db

RECORD_ROLES = ("staff", "data_admin")
PURPOSE_LABELS = {
    "enrollment": "Enrollment", "placement": "Grade or course placement",
    "credit_accrual": "Credit accrual", "mep_services": "Migrant education services",
    "move_notice": "Move notice", "data_quality": "Data quality",
}
MAX_RESULTS = 50
#: an error with a variable: raised in English, translated where shown (i18n.message)
NO_STUDENT = N_("no student with state student id %(sid)s on this node")


def _name(rec: dict[str, Any]) -> str:
    parts = (rec.get(k) for k in ("first_name", "middle_name", "last_name_1", "last_name_2",
                                  "suffix"))
    return " ".join(p for p in parts if p)


def _credit(value: Any) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


#: the alert chips an enrollment can raise, most urgent first: (level, text, raised by)
ENROLLMENT_ALERTS: tuple[tuple[str, str, Any], ...] = (
    ("danger", "Medical alert: chronic", lambda e: e.get("medical_alert") == "chronic"),
    ("danger", "Medical alert: acute", lambda e: e.get("medical_alert") == "acute"),
    ("warn", "IDEA: has an individualized education program",
     lambda e: bool(e.get("idea_indicator"))),
    ("warn", "Priority for services", lambda e: bool(e.get("priority_for_services"))),
    ("info", "English learner", lambda e: bool(e.get("english_learner"))),
    ("ok", "Immunization record on file", lambda e: bool(e.get("immunization_record_flag"))),
)


def _alert(level: str, text: str, where: list[dict[str, str]] | None = None,
           ) -> dict[str, Any]:
    places = "; ".join(", ".join(p for p in (w["state"], w["year"]) if p) for w in where or ())
    return {"level": level, "text": text, "where": where or [],
            "label": f"{text} — {places}" if places else text}


def enrollment_alerts(enrollments: Iterable[tuple[str, Mapping[str, Any]]],
                      ) -> list[dict[str, Any]]:
    """Alert chips from every enrollment (of every state), each with the states that
    recorded it and the last date each did: "English learner — CA, 2023; TX, 2021"
    (issue 13 item 7: an English learner in 2023 is one still, whatever the latest
    enrollment says). `enrollments` are (state, enrollment) pairs; the last date of an
    enrollment is its withdrawal date, or its enrollment date while it is open."""
    found: dict[int, dict[str, str]] = {}
    for state, e in enrollments:
        last = str(e.get("withdrawal_date") or e.get("enrollment_date") or "")
        for i, (_level, _text, raised) in enumerate(ENROLLMENT_ALERTS):
            if raised(e):
                seen = found.setdefault(i, {})
                seen[state] = max(seen.get(state, ""), last)
    out = []
    for i in sorted(found):
        level, text, _raised = ENROLLMENT_ALERTS[i]
        where = sorted(found[i].items(), key=lambda sd: (sd[1], sd[0]), reverse=True)
        out.append(_alert(level, text, [{"state": s, "last": d, "year": d[:4]}
                                        for s, d in where]))
    return out


def summarize_record(rec: dict[str, Any], today: date) -> dict[str, Any]:
    """What the record macro shows: identity, alerts, timeline, moves, courses, tests."""
    enrollments = sorted(rec.get("enrollments", []),
                         key=lambda e: e.get("enrollment_date") or "", reverse=True)
    latest = enrollments[0] if enrollments else {}
    moves = sorted((dict(m) for m in rec.get("qualifying_moves", [])),
                   key=lambda m: m.get("qualifying_arrival_date") or "", reverse=True)
    for m in moves:
        expires = m.get("eligibility_expiration_date") or ""
        m["expired"] = bool(expires) and expires < today.isoformat()
    state = str(rec.get("owner_state") or "")
    alerts = enrollment_alerts((state, e) for e in enrollments)
    if rec.get("multiple_birth"):
        alerts.append(_alert("info", "Multiple birth (twin or more)"))
    if moves and moves[0].get("eligibility_expiration_date"):
        when = moves[0]["eligibility_expiration_date"]
        alerts.append(_alert("muted", f"MEP eligibility expired {when}") if moves[0]["expired"]
                      else _alert("ok", f"MEP eligible until {when}"))
    completed: list[dict[str, Any]] = []
    in_progress: list[dict[str, Any]] = []
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for e in enrollments:
        for c in e.get("courses", []):
            course = {**c, "school": e.get("school_or_project_name", "")}
            if c.get("course_status") == "in_progress":
                in_progress.append(course)
                continue
            completed.append(course)
            subject = c.get("subject_area") or "Other"
            totals[subject][0] += _credit(c.get("credits_attempted"))
            totals[subject][1] += _credit(c.get("credits_granted"))
    completed.sort(key=lambda c: (c.get("end_academic_year") or 0, c.get("course_title") or ""),
                   reverse=True)
    subject_totals = sorted((k, v[0], v[1]) for k, v in totals.items())
    assessments = sorted(rec.get("assessments", []),
                         key=lambda a: a.get("administration_month") or "", reverse=True)
    birth = rec.get("birth_date") or ""
    age = None
    if birth:
        b = date.fromisoformat(birth)
        age = today.year - b.year - ((today.month, today.day) < (b.month, b.day))
    return {
        "id": rec.get("state_student_id", ""), "name": _name(rec), "student": rec,
        "age": age, "latest": latest, "alerts": alerts, "enrollments": enrollments,
        "moves": moves, "completed": completed, "in_progress": in_progress,
        "subject_totals": subject_totals,
        "total_attempted": sum(t[1] for t in subject_totals),
        "total_granted": sum(t[2] for t in subject_totals),
        "assessments": assessments,
        "owner": rec.get("owner_state", ""), "version": rec.get("record_version"),
    }


# ---- queries (run on the store's thread) --------------------------------------------------

def _like(token: str) -> str:
    escaped = token.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_local(db: Any, q: str, birth_date: str) -> list[dict[str, Any]]:
    """Students whose id or names contain every word of `q` (and born on `birth_date`)."""
    where: list[str] = []
    args: list[Any] = []
    for token in q.split()[:6]:
        where.append("(state_student_id LIKE ? ESCAPE '\\' OR first_name LIKE ? ESCAPE '\\' "
                     "OR middle_name LIKE ? ESCAPE '\\' OR last_name_1 LIKE ? ESCAPE '\\' "
                     "OR last_name_2 LIKE ? ESCAPE '\\')")
        args.extend([_like(token)] * 5)
    if birth_date:
        where.append("birth_date = ?")
        args.append(birth_date)
    if not where:
        return []
    # Only the fixed clauses above are joined; every value is a bound parameter.
    sql = ("SELECT s.*, (SELECT e.school_or_project_name FROM enrollments e "  # noqa: S608
           "WHERE e.student_id = s.id ORDER BY e.enrollment_date DESC LIMIT 1) AS school "
           f"FROM students s WHERE {' AND '.join(where)} "
           "ORDER BY last_name_1, first_name LIMIT ?")
    rows = list(db.query(sql, [*args, MAX_RESULTS]))
    for r in rows:
        r["name"] = _name(r)
    return rows


def _counts(db: Any) -> dict[str, int]:
    out = {}
    for table in ("students", "users", "sessions", "import_runs", "import_rejects",
                  "student_views"):
        out[table] = int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608
    return out


def _recent_views(db: Any) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM student_views ORDER BY at DESC, id DESC LIMIT 20"))


# ---- pages -------------------------------------------------------------------------------

@requires()
async def home(request: web.Request) -> web.StreamResponse:
    session = current_session(request)
    assert session is not None
    counts = await run_db(request, _counts)
    ctx: dict[str, Any] = {"counts": counts, "purposes": PURPOSE_LABELS}
    if request.app[CONFIG].web.demo_examples and session.user.role in RECORD_ROLES:
        ctx["examples"] = demo_examples()
    if session.user.role == "auditor":
        from node.web.people_names import name_people

        ctx["views"] = await run_db(request, _recent_views)
        await name_people(request, ctx["views"], "username")
    if session.user.role == "operator":
        ctx["uptime"] = round(clock.now() - request.app[STARTED])
    return render(request, "home.html", ctx, title="Home")


def demo_examples() -> list[dict[str, Any]]:
    """The demo's example searches (`node.importing.demo_children`), as links to the
    search form filled in (purpose enrollment)."""
    from urllib.parse import urlencode

    from node.importing.demo_children import EXAMPLES

    return [{"title": e["title"], "says": e["says"],
             "href": "/search?" + urlencode({**e["fields"], "purpose": "enrollment"}),
             "name": " ".join(str(e["fields"][k]) for k in ("first_name", "last_name_1",
                                                            "last_name_2"))}
            for e in EXAMPLES]


def _purpose(request: web.Request) -> str:
    purpose = request.query.get("purpose", "")
    if purpose and purpose not in PURPOSES:
        raise BadRequest(f"unknown purpose of use {purpose!r}")
    return purpose


@requires(*RECORD_ROLES)
async def students(request: web.Request) -> web.StreamResponse:
    q = request.query.get("q", "").strip()[:200]
    birth_date = request.query.get("birth_date", "").strip()[:10]
    purpose = _purpose(request)
    results: list[dict[str, Any]] | None = None
    error = ""
    if q or birth_date:
        if birth_date:
            try:
                date.fromisoformat(birth_date)
            except ValueError:
                error = "Birth date must be a date like 2012-05-31."
        if not purpose:
            error = error or "Choose the purpose of this search."
        if not error:
            results = await run_db(request, search_local, q, birth_date)
            session = current_session(request)
            assert session is not None
            await run_db(request, accounts.record_view, session.user.username,
                         session.user.role, purpose, [r["state_student_id"] for r in results],
                         request.app[CONFIG].node.id, what="search")
    return render(request, "students.html",
                  {"q": q, "birth_date": birth_date, "purpose": purpose, "results": results,
                   "error": error, "purposes": PURPOSE_LABELS},
                  status=400 if error else 200, title="Find a student")


@requires(*RECORD_ROLES)
async def student(request: web.Request) -> web.StreamResponse:
    from node.store.record_reads import read_student

    sid = request.match_info["sid"]
    purpose = _purpose(request)
    if not purpose:
        return render(request, "purpose.html", {"sid": sid, "purposes": PURPOSE_LABELS},
                      title="Purpose of use")
    try:
        rec = await run_db(request, read_student, sid)
    except NotFound:
        raise NotFound(NO_STUDENT.replace("%(sid)s", sid)) from None
    session = current_session(request)
    assert session is not None
    state = request.app[CONFIG].node.id
    await run_db(request, accounts.record_view, session.user.username, session.user.role,
                 purpose, [sid], state)
    summary = summarize_record(rec, date.today())
    return render(request, "record_page.html",
                  {"r": summary, "source_state": state, "purpose": purpose,
                   "purpose_label": PURPOSE_LABELS[purpose]},
                  title=f"Record of {summary['name']}")


#: the words of the data-quality report that come from node.importing.data_quality, so the
#: catalogue has them (the page translates them where it shows them)
DATA_QUALITY_WORDS = (
    N_("Name"), N_("Sex"), N_("Birth date"), N_("Birth place"), N_("Parent name"),
    N_("Arrival date (QAD)"), N_("Eligibility expiry"), N_("Enrollment"), N_("Grade level"),
    N_("School NCES id"), N_("Course history"), N_("Credits or grade"), N_("Assessment"),
    N_("All children"), N_("22 and over"), N_("unknown"),
)


@requires("data_admin")
async def data_quality(request: web.Request) -> web.StreamResponse:
    from node.web import report_output, report_pages

    report, tables, chart, meta = await run_db(
        request, report_pages.dq_report, request.app[CONFIG].node.id, date.today())
    if request.query.get("format", "html") == "csv":
        return report_output.csv_response(
            report_output.pick_table(tables, request.query.get("table", "")), "data-quality")
    return render(request, "data_quality.html",
                  {"report": report, "chart": chart, "chart_table": tables[0],
                   "as_of": report_pages.as_of(meta), "drill": report_pages.drill_href,
                   "tables": tables},
                  title="Data quality")


@requires("operator")
async def users(request: web.Request) -> web.StreamResponse:
    return await _users_page(request)


async def _users_page(request: web.Request, *, status: int = 200, error: str = "",
                      message: str = "", form: dict[str, str] | None = None,
                      temporary: str = "") -> web.Response:
    rows = await run_db(request, accounts.list_users)
    return render(request, "users.html",
                  {"users": rows, "roles": ROLES, "role_labels": accounts.ROLE_LABELS,
                   "error": error, "message": message, "form": form or {},
                   "temporary": temporary, "min_length": accounts.MIN_PASSWORD_LENGTH},
                  status=status, title="Users")


@requires("operator")
async def users_add(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", "")).strip()
    role = str(form.get("role", ""))
    password = str(form.get("password", ""))
    profile_fields = ("full_name", "school", "email", "phone")
    keep = {"username": username, "role": role,
            **{k: str(form.get(k, ""))[:300] for k in profile_fields}}
    try:
        accounts.check_username(username)
        accounts.check_role(role)
        profile = accounts.check_profile(**{k: keep[k] for k in profile_fields})
        if password != str(form.get("password2", "")):
            raise BadRequest("the two passwords differ")
        accounts.check_password(password, username)
    except BadRequest as exc:
        return await _users_page(request, status=400, error=str(exc).capitalize() + ".",
                                 form=keep)
    phc = await hash_password_async(password)
    try:
        await run_db(request, accounts.add_user, username, role, phc, **profile)
    except Conflict as exc:
        return await _users_page(request, status=409, error=str(exc).capitalize() + ".",
                                 form=keep)
    return await _users_page(request, message=f"User {username} added as "
                                              f"{accounts.ROLE_LABELS[role]}.")


@requires("operator")
async def users_status(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", ""))
    action = str(form.get("action", ""))
    statuses = {"disable": "disabled", "enable": "active", "deactivate": "deactivated"}
    session = current_session(request)
    assert session is not None
    if action not in statuses:
        return await _users_page(request, status=400, error=f"Unknown action {action!r}.")
    if username.lower() == session.user.username.lower() and action != "enable":
        return await _users_page(request, status=400,
                                 error="You cannot disable or deactivate your own account.")
    if action == "deactivate" and form.get("confirm") != "yes":
        return await _users_page(request, status=400,
                                 error="Tick the box to confirm a permanent deactivation.")
    user = await run_db(request, accounts.set_status, username, statuses[action])
    return await _users_page(request, message=f"User {user.username} is now {user.status}.")


def setup(app: web.Application) -> None:
    add_nav(app, "/", "Home", *ROLES)
    add_nav(app, "/students", "Find a student", *RECORD_ROLES)
    add_nav(app, "/data-quality", "Data quality", "data_admin")
    add_nav(app, "/users", "Users", "operator")
    app.router.add_get("/", home, name="home")
    app.router.add_get("/students", students, name="students")
    app.router.add_get("/students/{sid}", student, name="student")
    app.router.add_get("/data-quality", data_quality, name="data_quality")
    app.router.add_get("/users", users, name="users")
    app.router.add_post("/users", users_add, name="users_add")
    app.router.add_post("/users/status", users_status, name="users_status")
