"""Issue 12 item 3, against real node processes: the local control API validates every
request strictly before acting, answers 400 with a one-line reason naming the field, and
never signs and sends a mistyped or refused criterion to peers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.harness import Federation, count_rows

pytestmark = pytest.mark.integration

ANA = {"first_name": "Ana", "last_name_1": "Ruiz", "birth_date": "2011-05-06"}


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    federation = Federation(tmp_path_factory.mktemp("control"), ["TX", "CA"],
                            background=5).create().start()
    try:
        yield federation
    finally:
        federation.stop()


def post(fed: Federation, path: str, body: bytes) -> tuple[int, Any]:
    ctl = json.loads((fed.node_dir("TX") / "control.json").read_text())
    req = urllib.request.Request(ctl["url"] + path, data=body, headers={
        "Authorization": f"Bearer {ctl['token']}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def log_size(fed: Federation, state: str) -> int:
    return count_rows(fed.node_dir(state) / "exchange-log.db", "leaves")


BAD = [
    ("/local/v1/find", b"[1,2", "not valid JSON"),
    ("/local/v1/find", b"[1, 2]", "must be a JSON object"),
    ("/local/v1/find", b'"Ana Ruiz"', "must be a JSON object"),
    ("/local/v1/find", json.dumps({**ANA, "ids": [1]}).encode(), "ids: must be an object"),
    ("/local/v1/find", json.dumps({**ANA, "ids": {"msix": 7}}).encode(), "ids.msix: must be text"),
    ("/local/v1/find", json.dumps({**ANA, "role": "god"}).encode(), "role: must be one of"),
    ("/local/v1/find", json.dumps({**ANA, "first_name": 123}).encode(),
     "first_name: must be text"),
    ("/local/v1/find", json.dumps({**ANA, "parent_names": "Rosa"}).encode(),
     "parent_names: must be a list"),
    ("/local/v1/find", json.dumps({**ANA, "timeout": "soon"}).encode(),
     "timeout: must be a number"),
    ("/local/v1/find", json.dumps({**ANA, "shoe": "9"}).encode(), "'shoe': unknown field"),
    ("/local/v1/find", json.dumps({**ANA, "purpose": "move_notice"}).encode(),
     "purpose: must be one of"),
    ("/local/v1/find", json.dumps({**ANA, "purpose": "data_quality", "role": "staff"}).encode(),
     "only a data administrator"),
    ("/local/v1/find", json.dumps({"first_name": "Ana"}).encode(), "first surname"),
    ("/local/v1/fetch", json.dumps({"state": "CA", "handles": "abc"}).encode(),
     "handles: must be a list"),
    ("/local/v1/fetch", json.dumps({"handles": ["abcdefgh"]}).encode(), "state: required"),
    ("/local/v1/notify-move", json.dumps({"to": "CA", "student": 5}).encode(),
     "student: must be text"),
    ("/local/v1/notify-move", json.dumps({"to": "CA", "student": "X",
                                          "expected": "soon"}).encode(),
     "expected: must be a date"),
    ("/local/v1/worklist/1/confirm", b"{", "not valid JSON"),
    ("/local/v1/worklist/1/confirm", json.dumps({"admin": ["x"], "password": "p"}).encode(),
     "admin: must be text"),
    ("/local/v1/links/1/validate", b"[]", "must be a JSON object"),
    ("/local/v1/jobs/outbox", b'{"now": true}', "'now': unknown field"),
]


@pytest.mark.parametrize(("path", "body", "reason"), BAD, ids=[f"{p}:{b[:20]!r}"
                                                                for p, b, _ in BAD])
def test_bad_control_requests_get_400_naming_the_field(fed: Federation, path: str,
                                                       body: bytes, reason: str) -> None:
    before = {s: log_size(fed, s) for s in ("TX", "CA")}
    status, text = post(fed, path, body)
    assert status == 400, (status, text)
    assert "\n" not in text.strip() and reason in json.loads(text)["error"], text
    # nothing was signed and sent: neither log grew
    assert {s: log_size(fed, s) for s in ("TX", "CA")} == before


def test_no_traceback_reaches_the_log(fed: Federation) -> None:
    for path, body, _ in BAD:
        post(fed, path, body)
    log = (fed.node_dir("TX") / "node.log").read_text()
    assert "Traceback" not in log and "Error handling request" not in log


def test_a_good_find_still_answers(fed: Federation) -> None:
    answers, summary = fed.find("TX", **ANA, timeout=10)
    assert summary["answered"] == ["CA"] and answers["CA"]["status"] == "answered"


def test_ids_in_control_urls_are_parsed_strictly(fed: Federation) -> None:
    for raw in ("99999999999999999999999", "%C2%B2", "-1", "1e3"):
        status, text = post(fed, f"/local/v1/worklist/{raw}/confirm",
                            json.dumps({"admin": "a", "password": "p"}).encode())
        assert status == 404, (raw, status, text)
    ctl = json.loads((fed.node_dir("TX") / "control.json").read_text())
    req = urllib.request.Request(ctl["url"] + "/local/v1/links/99999999999999999999999",
                                 headers={"Authorization": f"Bearer {ctl['token']}"})
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req, timeout=10)
    assert exc.value.code == 404


