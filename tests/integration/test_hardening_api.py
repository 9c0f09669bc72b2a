"""Issue 12 items 3, 4 and 8 against real node processes (TX and CA).

3. The local control API checks every request body before it does anything: malformed or
   mistyped JSON gets 400 with a one-line JSON reason naming the field, never a 500 and
   never a signed message to a peer.
4. Ids in URLs are ASCII digits bounded to SQLite's integer; anything else is 404.
8. A `find` states a purpose that may search: never `move_notice`, `data_quality` only
   for data administrators. The holder refuses others with a signed error; the requesting
   side (control API, web search, CLI) does not send them.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config import load_config
from node.directory.identity import load_keys
from protocol.envelope import ReplayCache, open_envelope, seal_envelope
from protocol.errors import ErrorCode
from protocol.messages import Demographics, Error, Find, FindCriteria, FindReply, Requester
from tests.integration.harness import GUADALUPE_CA, GUADALUPE_TX, Federation
from tests.integration.web_client import WebClient, add_users

PASSWORD = "correct horse battery staple"
USERS = {"sam": "staff", "dana": "data_admin", "audrey": "auditor"}
ANA = {"first_name": "Ana", "last_name_1": "Ruiz"}


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    root: Path = tmp_path_factory.mktemp("hardening")
    federation = Federation(root, ["TX", "CA"], background=20,
                            extra_records={"TX": [GUADALUPE_TX], "CA": [GUADALUPE_CA]})
    federation.create()
    password_file = root / "password.txt"
    password_file.write_text(PASSWORD + "\n")
    password_file.chmod(0o600)
    add_users(federation.config("TX"), USERS, password_file)
    federation.start()
    yield federation
    federation.stop()


def raw_control(fed: Federation, state: str, path: str, body: bytes | None = None,
                method: str | None = None) -> tuple[int, str]:
    """(status, body text) of one control API request with any body bytes."""
    ctl = json.loads((fed.node_dir(state) / "control.json").read_text())
    req = urllib.request.Request(ctl["url"] + path, data=body, method=method,
                                 headers={"Authorization": f"Bearer {ctl['token']}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def log_entries(fed: Federation, state: str) -> int:
    return int(fed.control(state, "/local/v1/status")["log"]["entries"])


def tracebacks(fed: Federation, state: str) -> int:
    return (fed.node_dir(state) / "node.log").read_text().count("Traceback")


def web(fed: Federation, user: str) -> WebClient:
    return WebClient(fed.nodes["TX"].url).login(user, PASSWORD)


# ---- item 3: the control API validates before acting -------------------------------------

FIND_CASES = [
    (b"[1,2", "body: not valid JSON"),
    (b"[1, 2]", "body: must be a JSON object"),
    (b'"Ana Ruiz"', "body: must be a JSON object"),
    (b"\xff\xfe{}", "body: not UTF-8"),
    (b"[" * 100_000, "body: larger than"),
    (b"[" * 50_000, "body: not valid JSON"),
    (b'{"first_name": "Ana", "last_name_1": NaN}', "body: not valid JSON"),
    (json.dumps({**ANA, "ids": [1]}).encode(), "ids: must be an object"),
    (json.dumps({**ANA, "ids": {"state_student_id": 7}}).encode(), "ids.state_student_id"),
    (json.dumps({**ANA, "role": "god"}).encode(), "role: must be one of"),
    (json.dumps({**ANA, "purpose": "curiosity"}).encode(), "purpose: must be one of"),
    (json.dumps({**ANA, "sex": 5}).encode(), "sex: must be text"),
    (json.dumps({**ANA, "sex": "female"}).encode(), "sex: must be one of"),
    (json.dumps({**ANA, "birth_date": "2009-13-45"}).encode(), "birth_date"),
    (json.dumps({**ANA, "birth_date": "٢٠٠٩-٠٣-٠٤"}).encode(), "birth_date"),
    (json.dumps({**ANA, "first_name": ["Ana"]}).encode(), "first_name: must be text"),
    (json.dumps({**ANA, "first_name": "A" * 101}).encode(), "first_name: longer than"),
    (json.dumps({**ANA, "parent_names": "María López"}).encode(), "parent_names"),
    (json.dumps({**ANA, "parent_names": [1]}).encode(), "parent_names[0]"),
    (json.dumps({**ANA, "multiple_birth": "yes"}).encode(), "multiple_birth"),
    (json.dumps({**ANA, "timeout": "soon"}).encode(), "timeout: must be a number"),
    (json.dumps({**ANA, "timeout": True}).encode(), "timeout: must be a number"),
    (json.dumps({**ANA, "timeout": 1e9}).encode(), "timeout: must be at most"),
    (json.dumps({**ANA, "nickname": "Lupe"}).encode(), "'nickname': unknown field"),
    (json.dumps({"first_name": "Ana"}).encode(), "first surname are needed"),
    (json.dumps({**ANA, "user_id": {"a": 1}}).encode(), "user_id: must be text"),
    (json.dumps({**ANA, "last_name_2": "\ud800"}).encode(), "last_name_2: is not valid"),
]


@pytest.mark.parametrize(("body", "reason"), FIND_CASES,
                         ids=[r for _, r in FIND_CASES])
def test_find_with_a_bad_body_is_refused_before_anything_is_sent(
        fed: Federation, body: bytes, reason: str) -> None:
    before = (log_entries(fed, "TX"), log_entries(fed, "CA"), tracebacks(fed, "TX"))
    status, text = raw_control(fed, "TX", "/local/v1/find", body)
    assert status == 400, (status, text[:300])
    assert "\n" not in text.strip() and reason in json.loads(text)["error"], text
    # nothing signed, nothing sent, nothing logged as a crash
    assert (log_entries(fed, "TX"), log_entries(fed, "CA"), tracebacks(fed, "TX")) == before


OTHER_CASES = [
    ("/local/v1/fetch", b"[1,2", "body: not valid JSON"),
    ("/local/v1/fetch", json.dumps({"state": "CA", "handles": "abcdefgh1"}).encode(),
     "handles: must be a list"),
    ("/local/v1/fetch", json.dumps({"state": 5, "handles": ["abcdefgh1"]}).encode(),
     "state: must be text"),
    ("/local/v1/fetch", json.dumps({"state": "CA", "handles": ["x y"]}).encode(),
     "handles[0]"),
    ("/local/v1/fetch", json.dumps({"state": "CA", "handles": ["abcdefgh1"],
                                    "role": "god"}).encode(), "role: must be one of"),
    ("/local/v1/notify-move", json.dumps({"student": ["TX900001"], "to": "CA"}).encode(),
     "student: must be text"),
    ("/local/v1/notify-move", json.dumps({"student": "TX900001", "to": "CA",
                                          "expected": "soon"}).encode(), "expected"),
    ("/local/v1/notify-move", json.dumps({"student": "TX900001"}).encode(), "to: required"),
    ("/local/v1/jobs/outbox", json.dumps({"now": True}).encode(), "'now': unknown field"),
    ("/local/v1/jobs/outbox", b"[]", "body: must be a JSON object"),
    ("/local/v1/keys/reload", b"{", "body: not valid JSON"),
    ("/local/v1/worklist/1/confirm", json.dumps({"admin": 1, "password": "x"}).encode(),
     "admin: must be text"),
    ("/local/v1/worklist/1/reject", b"[]", "body: must be a JSON object"),
    ("/local/v1/links/1/validate", json.dumps({"admin": "dana"}).encode(),
     "password: required"),
    ("/local/v1/links/1/fetch", json.dumps({"role": "god"}).encode(), "role: must be one of"),
    ("/local/v1/links/1/reject", json.dumps({"admin": "\ud800", "password": "x"}).encode(),
     "admin: is not valid Unicode"),
    ("/local/v1/notify-move", json.dumps({"student": "\udfff", "to": "CA"}).encode(),
     "student: is not valid Unicode"),
]


@pytest.mark.parametrize(("path", "body", "reason"), OTHER_CASES,
                         ids=[f"{p}:{r}" for p, _, r in OTHER_CASES])
def test_other_control_routes_refuse_bad_bodies_naming_the_field(
        fed: Federation, path: str, body: bytes, reason: str) -> None:
    before = (log_entries(fed, "TX"), len(fed.control("TX", "/local/v1/outbox")),
              tracebacks(fed, "TX"))
    status, text = raw_control(fed, "TX", path, body)
    assert status == 400, (status, text[:300])
    assert "\n" not in text.strip() and reason in json.loads(text)["error"], text
    assert (log_entries(fed, "TX"), len(fed.control("TX", "/local/v1/outbox")),
            tracebacks(fed, "TX")) == before


def test_good_control_requests_still_work(fed: Federation) -> None:
    answers, summary = fed.find("TX", first_name="Lupe", last_name_1="Hernandez",
                                birth_date="2009-03-04", ids={}, parent_names=[],
                                timeout=5, role="staff", user_id="t1", school="")
    assert summary["answered"] == ["CA"], summary
    handle = answers["CA"]["candidates"][0]["handle"]
    got = fed.control("TX", "/local/v1/fetch", {"state": "ca", "handles": [handle],
                                                "purpose": None})
    assert [s["owner"] for s in got["snapshots"]] == ["CA"]
    assert fed.run_job("TX", "outbox")["ok"]


# ---- item 4: ids in URLs --------------------------------------------------------------------

BAD_IDS = ["99999999999999999999999", "%C2%B2", "-1", "1e3", "%EF%BC%91"]  # ², -1, 1e3, fullwidth 1


@pytest.mark.parametrize("raw", BAD_IDS)
def test_bad_ids_in_control_urls_are_404(fed: Federation, raw: str) -> None:
    before = tracebacks(fed, "TX")
    admin = json.dumps({"admin": "dana", "password": PASSWORD}).encode()
    for method, path, body in [
            ("GET", f"/local/v1/worklist/{raw}", None),
            ("GET", f"/local/v1/links/{raw}", None),
            ("POST", f"/local/v1/worklist/{raw}/confirm", admin),
            ("POST", f"/local/v1/worklist/{raw}/reject", admin),
            ("POST", f"/local/v1/links/{raw}/validate", admin),
            ("POST", f"/local/v1/links/{raw}/fetch", b"{}")]:
        status, text = raw_control(fed, "TX", path, body, method)
        assert status == 404, (path, status, text[:300])
        assert json.loads(text)["error"], text
    assert tracebacks(fed, "TX") == before


@pytest.mark.parametrize("raw", BAD_IDS)
def test_bad_ids_in_web_urls_are_404(fed: Federation, raw: str) -> None:
    before = tracebacks(fed, "TX")
    dana = web(fed, "dana")
    status, _ = dana.request("GET", f"/worklist/{raw}")
    assert status == 404, raw
    for path in (f"/worklist/{raw}/confirm", f"/worklist/{raw}/reject",
                 f"/links/{raw}/validate", f"/links/{raw}/revoke"):
        status, text = dana.post(path, {"comment": "x", "reason": "x"})
        assert status == 404, (path, status, text[:300])
    assert tracebacks(fed, "TX") == before


def test_numbers_in_query_strings_never_give_500(fed: Federation) -> None:
    before = tracebacks(fed, "TX")
    sam, audrey = web(fed, "sam"), web(fed, "audrey")
    for raw in BAD_IDS:
        assert sam.request("GET", f"/moves/outbox?sent={raw}")[0] == 200
        assert audrey.request("GET", f"/audit/v1/proof?index={raw}")[0] == 400
        assert audrey.request("GET", f"/audit/log?page={raw}")[0] == 200
    assert tracebacks(fed, "TX") == before


# ---- item 8: the purpose of a find ---------------------------------------------------------

def _find_envelope(fed: Federation, purpose: str, role: str) -> tuple[bytes, Any, Any]:
    """A find from CA to TX, sealed with CA's keys from disk the way this release seals to
    a node of this release (MLKEM768-X25519, envelope version 2), and the keys to open
    the reply."""
    from crypto.seal import HYBRID
    from protocol.envelope import VERSION

    ca = load_keys(load_config(fed.config("CA")))
    tx = load_keys(load_config(fed.config("TX")))
    now = int(time.time() * 1000)
    entry = tx.published_hybrid(now / 1000)[0]
    find = Find(FindCriteria(Demographics("Guadalupe", "Hernandez", birth_date="2009-03-04")),
                Requester("tester", role, "CA MEP"), purpose)
    wire = seal_envelope(signing_key=ca.signing, sender="CA", recipient="TX",
                         recipient_key=tx.hybrid[entry.key_id].public,
                         recipient_key_id=entry.key_id, message=find, now_ms=now,
                         ttl_ms=60_000, purpose=purpose, suite=HYBRID, version=VERSION).wire
    return wire, ca, tx


def _holder_answer(fed: Federation, purpose: str, role: str) -> tuple[int, Any]:
    wire, ca, tx = _find_envelope(fed, purpose, role)
    status, body, _kind = fed.post_raw("TX", wire)
    opened = open_envelope(body, my_id="CA", my_keys=ca.opening,
                           sender_key_lookup=lambda _s: tx.signing.public,
                           now_ms=int(time.time() * 1000), seen=ReplayCache())
    return status, opened.message


@pytest.mark.parametrize(("purpose", "role"), [("move_notice", "staff"),
                                               ("move_notice", "data_admin"),
                                               ("data_quality", "staff")])
def test_holder_refuses_a_find_for_that_purpose_with_a_signed_error(
        fed: Federation, purpose: str, role: str) -> None:
    status, reply = _holder_answer(fed, purpose, role)
    assert status == 403 and isinstance(reply, Error), (status, reply)
    assert reply.code == ErrorCode.FORBIDDEN and "purpose" in reply.message, reply


@pytest.mark.parametrize(("purpose", "role"), [("data_quality", "data_admin"),
                                               ("enrollment", "staff"),
                                               ("mep_services", "staff")])
def test_holder_answers_a_find_for_an_allowed_purpose(
        fed: Federation, purpose: str, role: str) -> None:
    status, reply = _holder_answer(fed, purpose, role)
    assert status == 200 and isinstance(reply, FindReply), (status, reply)
    assert reply.candidates


@pytest.mark.parametrize(("purpose", "role"), [("move_notice", None),
                                               ("move_notice", "staff"),
                                               ("data_quality", "staff"),
                                               ("enrollment", "auditor")])
def test_control_api_does_not_send_a_find_for_that_purpose(
        fed: Federation, purpose: str, role: str | None) -> None:
    before = (log_entries(fed, "TX"), log_entries(fed, "CA"))
    body = {**ANA, "purpose": purpose, **({"role": role} if role else {})}
    status, text = raw_control(fed, "TX", "/local/v1/find", json.dumps(body).encode())
    assert status == 400, (status, text[:300])
    error = json.loads(text)["error"]
    assert error.startswith("purpose:" if role != "auditor" else "role:"), error
    assert (log_entries(fed, "TX"), log_entries(fed, "CA")) == before


def test_web_search_offers_and_sends_only_allowed_purposes(fed: Federation) -> None:
    sam, dana = web(fed, "sam"), web(fed, "dana")
    _, staff_form = sam.request("GET", "/search")
    _, admin_form = dana.request("GET", "/search")
    assert 'value="enrollment"' in staff_form and 'value="move_notice"' not in staff_form
    assert 'value="data_quality"' not in staff_form
    assert 'value="data_quality"' in admin_form and 'value="move_notice"' not in admin_form
    before = (log_entries(fed, "TX"), log_entries(fed, "CA"))
    for client, purpose in ((sam, "move_notice"), (sam, "data_quality"),
                            (dana, "move_notice")):
        for accept in ("text/html", "application/x-ndjson"):
            status, text = client.post("/search/results", {**ANA, "purpose": purpose},
                                       {"Accept": accept})
            assert status == 400, (purpose, accept, status, text[:300])
    assert (log_entries(fed, "TX"), log_entries(fed, "CA")) == before
    status, text = dana.post("/search/results", {**ANA, "purpose": "data_quality"},
                             {"Accept": "application/x-ndjson"})
    assert status == 200 and '"type": "summary"' in text, text[:300]


def test_cli_find_does_not_offer_move_notice(fed: Federation) -> None:
    done = fed.cli("find", "-c", str(fed.config("TX")), "--first-name", "Ana",
                   "--last-name-1", "Ruiz", "--purpose", "move_notice", check=False)
    assert done.returncode == 2 and "move_notice" in done.stderr, done.stderr


# ---- found by bench/fuzz_exchange.py --target web ------------------------------------------

def test_a_request_line_too_long_is_refused_without_a_traceback(fed: Federation) -> None:
    before = tracebacks(fed, "TX")
    sam = web(fed, "sam")
    status, _ = sam.request("GET", "/students?q=" + "Guadalupe" * 1000)
    assert status == 400
    log = (fed.node_dir("TX") / "node.log").read_text()
    assert tracebacks(fed, "TX") == before
    assert "GuadalupeGuadalupe" not in log  # the request's bytes are not logged
    assert "bad HTTP request from 127.0.0.1 refused: LineTooLong (400)" in log


@pytest.mark.parametrize("extra", [{"d_birth_date": "garbage"}, {"d_birth_date": "2009-02-30"},
                                   {"d_suffix": "x" * 50}, {"expected": "20250901"}],
                         ids=lambda e: next(iter(e)))
def test_a_move_notice_peers_would_refuse_is_not_queued(
        fed: Federation, extra: dict[str, str]) -> None:
    sam = web(fed, "sam")
    form = {"to": "CA", "d_first_name": "Ana", "d_last_name_1": "Ruiz",
            "destination": "Fresno", **extra}
    before = len(fed.control("TX", "/local/v1/outbox"))
    status, text = sam.post("/moves", form)
    assert status == 400, (status, text[:300])
    assert len(fed.control("TX", "/local/v1/outbox")) == before
    # and the outbox keeps delivering what is in it
    status, _ = sam.post("/moves", {**form, **{k: "" for k in extra}})
    assert status == 303
    assert fed.run_job("TX", "outbox")["ok"]
    assert all(item["delivered_ms"] for item in fed.control("TX", "/local/v1/outbox"))


def test_a_malformed_item_left_by_an_older_release_never_jams_the_outbox(
        fed: Federation) -> None:
    """An item queued before the checks existed (a notice its peer must refuse) is set
    aside with the reason; the good items behind it are still delivered."""
    import os
    import sqlite3

    from protocol.codec import pack
    from protocol.messages import MoveNotice, to_body

    notice = MoveNotice(Demographics("Ana", "Ruiz", birth_date="2009-03-04"),
                        Requester("sam", "staff", "TX MEP"), "Fresno", "TX MEP", None, None,
                        None)
    body = to_body(notice)
    body["student"]["birth_date"] = "garbage"  # what an older release let through
    with sqlite3.connect(fed.node_dir("TX") / "node.db", timeout=10) as db:
        db.execute("INSERT INTO outbox (peer, type, purpose, message_id, body, summary, "
                   "created_ms, next_attempt_ms) VALUES ('CA', 'move_notice', 'move_notice', "
                   "?, ?, '{}', 0, 0)", [os.urandom(16), pack(body)])
    sam = web(fed, "sam")
    status, _ = sam.post("/moves", {"to": "CA", "d_first_name": "Ana", "d_last_name_1": "Ruiz",
                                    "destination": "Fresno"})
    assert status == 303
    job = fed.run_job("TX", "outbox")
    assert job["ok"], job
    items = fed.control("TX", "/local/v1/outbox")
    bad = [i for i in items if "undeliverable" in i["last_error"]]
    assert len(bad) == 1 and not bad[0]["delivered_ms"] and "birth_date" in bad[0]["last_error"]
    assert all(i["delivered_ms"] for i in items if i not in bad)
