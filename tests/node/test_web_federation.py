"""The federated pages in process: roles, CSRF on their POST routes, bad input, merging.

Uses the single-node app of test_web_security (no directory, so no peers): what needs
real peers is covered by tests/browser/test_federated_pages.py.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from node.store import accounts
from node.store.database import Store
from node.web.record_pages import consolidate, order_parts, parse_refs
from node.web.worklist_pages import comparison
from tests.node.test_web_security import Web, token_of, web  # noqa: F401

PAGES = {
    "/search": {"staff", "data_admin"},
    "/moves/inbox": {"staff", "data_admin"},
    "/moves/outbox": {"staff", "data_admin"},
    "/worklist": {"data_admin"},
    "/links": {"data_admin"},
    "/audit": {"auditor"},
    "/audit/log": {"auditor"},
    "/audit/student?student=TX1": {"auditor"},
    "/audit/v1/alerts": {"auditor"},
    "/status": {"operator"},
}
USERS = {"sam": "staff", "dana": "data_admin", "audrey": "auditor", "otto": "operator"}
POSTS = ["/search/results", "/moves", "/worklist/1/confirm", "/worklist/1/reject",
         "/links/1/validate", "/links/1/revoke", "/audit/verify", "/audit/v1/verify",
         "/review"]


async def test_pages_by_role(web: Web) -> None:  # noqa: F811
    for username, role in USERS.items():
        client = await web.login(username)
        for page, allowed in PAGES.items():
            resp = await client.get(page, allow_redirects=False)
            assert resp.status == (200 if role in allowed else 403), (username, page)
    anon = await web.new_client()
    for page in PAGES:
        resp = await anon.get(page, allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"].startswith("/login?next=")


async def test_posts_refused_without_csrf(web: Web) -> None:  # noqa: F811
    for username in ("sam", "dana", "audrey"):
        client = await web.login(username)
        for action in POSTS:
            resp = await client.post(action, data={"x": "1"}, allow_redirects=False)
            assert resp.status == 403, (action, resp.status)
            assert "not sent by this site" in await resp.text()
            resp = await client.post(action, data={"csrf_token": "0" * 64},
                                     allow_redirects=False)
            assert resp.status == 403
            resp = await client.post(action, headers={"X-CSRF-Token": "0" * 64},
                                     allow_redirects=False)
            assert resp.status == 403


async def test_search_stream_refuses_bad_input(web: Web) -> None:  # noqa: F811
    client = await web.login("sam")
    token = token_of(await (await client.get("/search")).text())
    cases = [({"first_name": "Ana", "purpose": "enrollment"}, "first surname"),
             ({"birth_date": "2012-05-31", "purpose": "enrollment"}, "or a student id"),
             ({"student_id": "TX 1;--", "purpose": "enrollment"}, "Student id must be"),
             ({"first_name": "Ana", "last_name_1": "Ruiz"}, "purpose"),
             ({"first_name": "Ana", "last_name_1": "Ruiz", "purpose": "curiosity"},
              "Unknown purpose"),
             ({"first_name": "Ana", "last_name_1": "Ruiz", "purpose": "placement",
               "birth_date": "31/05/2012"}, "Birth date"),
             ({"first_name": "Ana", "last_name_1": "Ruiz", "purpose": "placement",
               "sex": "Q"}, "Sex")]
    for data, words in cases:
        resp = await client.post("/search/results", data=data,
                                 headers={"X-CSRF-Token": token})
        assert resp.status == 400, data
        assert words in (await resp.json())["error"]
    # valid, but this node has no directory: refused before streaming, with the reason
    resp = await client.post("/search/results", headers={"X-CSRF-Token": token}, data={
        "first_name": "Ana", "last_name_1": "Ruiz", "purpose": "placement"})
    assert resp.status >= 500 and "directory" in (await resp.json())["error"]
    resp = await client.post("/search/results", headers={"X-CSRF-Token": token}, data={
        "student_id": "TX0143790108", "purpose": "placement"})  # an id alone is a search
    assert resp.status >= 500 and "directory" in (await resp.json())["error"]


async def test_review_requests_refuse_bad_input(web: Web) -> None:  # noqa: F811
    client = await web.login("sam")
    token = token_of(await (await client.get("/search")).text())
    as_json = {"X-CSRF-Token": token, "Accept": "application/json"}
    for data, status, words in (({}, 400, "item: which near match"),
                                ({"item": "x1"}, 400, "item: which near match"),
                                ({"item": "4" * 30}, 400, "item: which near match"),
                                ({"item": "12345"}, 404, "no worklist item 12345")):
        resp = await client.post("/review", data=data, headers=as_json)
        assert resp.status == status and words in (await resp.json())["error"], data
    resp = await client.post("/review", data={"item": "77", "csrf_token": token})
    assert resp.status == 404 and "no worklist item 77" in await resp.text()
    auditor = await web.login("audrey")
    resp = await auditor.post("/review", data={"item": "1"}, headers={
        "X-CSRF-Token": token_of(await (await auditor.get("/")).text())})
    assert resp.status == 403
    admin = await web.login("dana")
    assert (await admin.get("/links/4242")).status == 404


async def test_local_record_page_is_recorded(web: Web) -> None:  # noqa: F811
    client = await web.login("sam")
    resp = await client.get("/record", params={"local": web.sid})
    assert resp.status == 200 and "Why are you opening this record?" in await resp.text()
    resp = await client.get("/record", params={"local": web.sid, "purpose": "placement"})
    html = await resp.text()
    assert resp.status == 200 and "Consolidated from 1 state" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img" not in html
    with Store(web.store_path) as store:
        views = store.call(accounts.views_of, web.sid)
    assert [(v["username"], v["purpose"], v["what"]) for v in views] == [
        ("sam", "placement", "record")]
    assert (await client.get("/record", params={"local": "nobody", "purpose": "placement"})
            ).status == 404
    assert (await client.get("/record", params={"r": "tx:../x", "purpose": "placement"})
            ).status == 400
    assert (await client.get("/record", params={"purpose": "placement"})).status == 400


async def test_move_notice_needs_a_known_state(web: Web) -> None:  # noqa: F811
    client = await web.login("sam")
    token = token_of(await (await client.get("/moves/outbox")).text())
    resp = await client.post("/moves", allow_redirects=False, data={
        "csrf_token": token, "to": "CA", "d_first_name": "Ana", "d_last_name_1": "Ruiz",
        "destination": "Fresno"})
    assert resp.status == 400 and "Choose the state" in await resp.text()


async def test_audit_and_status_pages(web: Web) -> None:  # noqa: F811
    auditor = await web.login("audrey")
    page = await (await auditor.get("/audit")).text()
    resp = await auditor.post("/audit/verify", data={"csrf_token": token_of(page)})
    html = await resp.text()
    # this lone node has no authority key: the verification says so rather than pass
    assert resp.status == 200 and "1 problem found in 0 entries" in html
    assert "no authority key given" in html
    resp = await auditor.get("/audit/v1/history", params={"student": "TX1"})
    assert json.loads(await resp.text())["disclosures"] == []
    assert (await auditor.get("/audit/log", params={"page": "99999"})).status == 200
    operator = await web.login("otto")
    html = await (await operator.get("/status")).text()
    assert "Scheduled jobs" in html and "Directory" in html
    admin = await web.login("dana")
    assert (await admin.get("/worklist/12345")).status == 404


def _part(state: str, courses: list[tuple[str, str, float, float | None]],
          **extra: Any) -> dict[str, Any]:
    rec = {"state_student_id": f"{state}1", "first_name": "Lupe", "last_name_1": "Ruiz",
           "birth_date": "2009-03-04", **extra,
           "enrollments": [{"enrollment_date": f"2024-0{len(state)}-01",
                            "immunization_record_flag": state == "CA",
                            "medical_alert": "acute", "courses": [
                                {"course_title": t, "subject_area": s, "credits_attempted": a,
                                 "credits_granted": g,
                                 "course_status": "in_progress" if g is None else "completed"}
                                for t, s, a, g in courses]}],
           "qualifying_moves": [{"qualifying_arrival_date": "2024-01-01",
                                 "eligibility_expiration_date": f"20{len(state)}7-01-01"}]}
    return {"state": state, "record": rec, "local": False, "verified": True, "version": 1,
            "issued_ms": 0, "ref": "h"}


def test_consolidate_merges_states() -> None:
    tx = _part("TX", [("Algebra I", "Mathematics", 1.0, 1.0), ("Biology", "Science", 1.0, None)])
    ca = _part("CA", [("Geometry", "Mathematics", 1.0, 0.5)], last_name_2="Soto")
    parts = order_parts([tx, ca])
    assert [p["state"] for p in parts] == ["CA", "TX"]  # the more complete identity first
    view = consolidate(parts, date(2025, 1, 1))
    assert view["name"] == "Lupe Ruiz Soto" and view["names"] == ["Lupe Ruiz"]
    assert view["subject_totals"] == [("Mathematics", 2.0, 1.5)]
    assert (view["total_attempted"], view["total_granted"]) == (2.0, 1.5)
    assert [c["course_title"] for c in view["in_progress"]] == ["Biology"]
    labels = [a["label"] for a in view["alerts"]]
    assert labels == ["Medical alert: acute — TX, 2024; CA, 2024",
                      "Immunization record on file — CA, 2024"]
    assert view["eligible"]["state"] == "CA"  # the latest expiration of all states
    assert consolidate([], date(2025, 1, 1)) == {}


def test_alerts_come_from_every_enrollment_in_every_state() -> None:
    """Issue 13 item 7: an English learner in an older enrollment still shows, with the
    state and the last year that recorded it; before, only each state's latest counted."""
    ca = _part("CA", [])
    ca["record"]["enrollments"] = [
        {"enrollment_date": "2024-08-20", "english_learner": False, "idea_indicator": False},
        {"enrollment_date": "2022-08-20", "withdrawal_date": "2023-05-30",
         "english_learner": True, "idea_indicator": True, "priority_for_services": True},
        {"enrollment_date": "2021-08-20", "withdrawal_date": "2022-05-30",
         "english_learner": True, "medical_alert": "chronic"}]
    tx = _part("TX", [])
    tx["record"]["enrollments"] = [{"enrollment_date": "2019-01-07", "english_learner": True,
                                    "immunization_record_flag": True}]
    view = consolidate(order_parts([tx, ca]), date(2025, 1, 1))
    assert [a["label"] for a in view["alerts"]] == [
        "Medical alert: chronic — CA, 2022",
        "IDEA: has an individualized education program — CA, 2023",
        "Priority for services — CA, 2023",
        "English learner — CA, 2023; TX, 2019",
        "Immunization record on file — TX, 2019"]
    assert consolidate(order_parts([_part("CA", [])]), date(2025, 1, 1))["alerts"][0][
        "where"] == [{"state": "CA", "last": "2024-02-01", "year": "2024"}]


def test_refs_and_comparison() -> None:
    assert parse_refs(["TX:abc", "TX:abc", "CA:x_y-z"]) == {"TX": ["abc"], "CA": ["x_y-z"]}
    rows = comparison({"query": {"first_name": "Jesus", "parent_names": ["female: Rosa Soto"]},
                       "candidate": {"first_name": "Chuy"},
                       "agreements": {"given": "alias", "mother": "missing"}})
    assert rows[0] == {"label": "Given names", "query": "Jesus", "candidate": "Chuy",
                       "values": ["Jesus", "Chuy"], "level": "alias",
                       "level_text": "nickname", "tone": "mid"}
    assert any(r["label"] == "Mother" and r["query"] == "Rosa Soto" for r in rows)
