"""The private find (issue 14), "curious node" test: real node processes on loopback,
each recording every body it opens (the STATENODE_RECORD_BODIES test hook of
node/federation/endpoint.py), and a search through TX's control API.

- TX searches Xóchitl (names, both surnames, birth date, parents' names), whom CA holds:
  NM and AZ (no candidate) and CO (a child of that name, another birth date and other
  parents) receive only `discover` messages of 7 32-byte elements, none of the query's
  values in any form; CA receives the `find` with the criteria; the summary's disclosure
  names CA in find_sent and NM, AZ, CO in no_hit, all in answered;
- a names-only search reaches only the states where that name is found (CA, CO) and the
  peer without discover; an id search only the id's holder (and that peer);
- OK has `[discover] enabled = false`: it receives the plain find (route plain), answers
  with its candidates, and TX's /status and doctor name it; OK's own finds are plain to all;
- after a move notice from TX to NM about TX's Xóchitl, TX's find for her sends NM the
  find with route `connected`, although NM's filter has no hit; after AZ receives a move
  notice from NM, AZ's find for that child sends NM the find with route `connected`;
- TX's search page says that a names-only search reaches every state with that name, and
  its results page how many states received the search's details (English and Spanish).
"""

from __future__ import annotations

import html
import json
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from node.federation.endpoint import RECORD_BODIES_ENV
from node.matching.discover_keys import DISCOVER_ELEMENTS
from tests.integration.harness import Federation, child
from tests.integration.web_client import WebClient, add_users

PASSWORD = "correct horse battery staple"

STATES = ["TX", "CA", "NM", "AZ", "CO", "OK"]
DISCOVER_STATES = ["TX", "CA", "NM", "AZ", "CO"]
MOTHER, FATHER = ("Citlali", "Mázatl"), ("Tonatiuh", "Tlacuilo")
#: the searched child: in TX and CA (CA's record spelled without accents, upper case)
XOCHITL_TX = child("TX9100001", "Xóchitl", "Tlacuilo", "Mázatl", "2010-07-19",
                   mother=MOTHER, father=FATHER)
XOCHITL_CA = child("CA7100001", "XOCHITL", "TLACUILO", "MAZATL", "2010-07-19",
                   mother=MOTHER, father=FATHER)
#: in OK (discover off): the same child, so the plain find has a candidate there
XOCHITL_OK = child("OK5100001", "Xochitl", "Tlacuilo", "Mazatl", "2010-07-19",
                   mother=MOTHER, father=FATHER)
#: in CO: another child of the same name (another birth date, other parents)
NAMESAKE_CO = child("CO3100001", "Xóchitl", "Tlacuilo", "Ramírez", "2013-02-25",
                    mother=("Guadalupe", "Ramírez"), father=("Pedro", "Tlacuilo"))
OTHERS = {"NM": [child("NM8100001", "Rosa", "Quintero", "Vega", "2011-01-12")],
          "AZ": [child("AZ6100001", "Mateo", "Salgado", "Ortiz", "2009-09-30", sex="M")]}

QUERY: dict[str, Any] = {
    "first_name": "Xóchitl", "last_name_1": "Tlacuilo", "last_name_2": "Mázatl",
    "birth_date": "2010-07-19", "parent_names": ["Citlali Mázatl", "Tonatiuh Tlacuilo"]}
#: every value of QUERY in the forms a body could carry it (compared folded, below)
NAME_TOKENS = ["Xóchitl", "Tlacuilo", "Mázatl", "Citlali", "Tonatiuh"]
DATE_FORMS = ["2010-07-19", "20100719", "07/19/2010", "19/07/2010", "2010"]


def _fold(text: str) -> str:
    """Case- and accent-free: what 'in any case/accents form' compares."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


FORBIDDEN = [_fold(v) for v in NAME_TOKENS + DATE_FORMS]


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    root: Path = tmp_path_factory.mktemp("private-find")
    federation = Federation(
        root, STATES, background=20,
        extra_records={"TX": [XOCHITL_TX], "CA": [XOCHITL_CA], "OK": [XOCHITL_OK],
                       "CO": [NAMESAKE_CO], **OTHERS},
        extra_config={"OK": "[discover]\nenabled = false\n"},
        extra_env={s: {RECORD_BODIES_ENV: str(root / f"bodies-{s}.jsonl")} for s in STATES})
    federation.create()
    password_file = root / "password.txt"
    password_file.write_text(PASSWORD + "\n")
    password_file.chmod(0o600)
    add_users(federation.config("TX"), {"sam": "staff"}, password_file)
    federation.start()
    try:
        _wait_filters(federation)
        yield federation
    finally:
        federation.stop()


def _bodies_file(fed: Federation, state: str) -> Path:
    return fed.root / f"bodies-{state}.jsonl"


def _clear_bodies(fed: Federation) -> None:
    for state in STATES:
        path = _bodies_file(fed, state)
        if path.exists():
            path.write_text("")


def _bodies(fed: Federation, state: str) -> list[dict[str, Any]]:
    path = _bodies_file(fed, state)
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]


def _strings(value: Any) -> Iterator[str]:
    """Every text in a recorded body (bytes are {"hex": ...}, not text)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        if set(value) == {"hex"}:
            return
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _leaks(body: dict[str, Any]) -> list[str]:
    texts = [_fold(t) for t in _strings(body)]
    return [f for f in FORBIDDEN if any(f in t for t in texts)]


def _wait_filters(fed: Federation) -> None:
    """Every discover node has published its filter in its key document."""
    import urllib.request

    deadline = time.monotonic() + 90
    waiting = set(DISCOVER_STATES)
    while waiting and time.monotonic() < deadline:
        for state in sorted(waiting):
            url = fed.nodes[state].url + "/federation/v1/discover-filter"
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    if resp.status == 200:
                        waiting.discard(state)
            except OSError:
                pass
        time.sleep(0.5)
    assert not waiting, f"no discover filter from {sorted(waiting)}"


def _search(fed: Federation, state: str, criteria: dict[str, Any]
            ) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    _clear_bodies(fed)
    return fed.find(state, **criteria, timeout=10)


def _routes(answers: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {s: a["route"] for s, a in answers.items()}


def test_curious_nodes_without_the_child_see_no_value_of_the_query(fed: Federation) -> None:
    answers, summary = _search(fed, "TX", QUERY)
    disclosure = summary["disclosure"]
    assert _routes(answers) == {"CA": "hit", "NM": "no_hit", "AZ": "no_hit",
                                "CO": "no_hit", "OK": "plain"}, answers
    assert disclosure["find_sent"] == ["CA", "OK"], disclosure
    assert disclosure["hit"] == ["CA"] and disclosure["plain"] == ["OK"]
    assert disclosure["no_hit"] == ["AZ", "CO", "NM"] and disclosure["not_sent"] == []
    assert set(summary["answered"]) == {"CA", "NM", "AZ", "CO", "OK"}, summary
    for state in ("NM", "AZ", "CO"):
        assert answers[state]["status"] == "answered"
        assert answers[state]["candidates"] == []
        received = _bodies(fed, state)
        assert received, f"{state} recorded nothing: the hook or the round is broken"
        assert [b["type"] for b in received] == ["discover"], received
        for b in received:
            assert b["sender"] == "TX"
            elements = b["body"]["elements"]
            assert len(elements) == DISCOVER_ELEMENTS
            assert all(len(bytes.fromhex(e["hex"])) == 32 for e in elements)
            assert _leaks(b) == [], f"{state} saw {_leaks(b)} in {b}"
    for state in ("CA", "NM", "AZ", "CO", "OK"):  # the hook's files hold student data
        assert _bodies_file(fed, state).stat().st_mode & 0o777 == 0o600
    # the holder got the discover, then the find with the criteria
    ca = _bodies(fed, "CA")
    assert [b["type"] for b in ca] == ["discover", "find"], ca
    criteria = ca[1]["body"]["criteria"]
    assert criteria["person"]["first_name"] == "Xóchitl"
    assert criteria["person"]["last_name_2"] == "Mázatl"
    assert criteria["person"]["birth_date"] == "2010-07-19"
    assert criteria["parent_names"] == ["Citlali Mázatl", "Tonatiuh Tlacuilo"]
    assert set(_leaks(ca[1])) >= {_fold(v) for v in [*NAME_TOKENS, "2010-07-19"]}
    assert answers["CA"]["candidates"], answers["CA"]


def test_a_names_only_search_reaches_only_states_with_that_name(fed: Federation) -> None:
    answers, summary = _search(fed, "TX", {"first_name": "xochitl",
                                           "last_name_1": "TLACUILO"})
    disclosure = summary["disclosure"]
    assert disclosure["find_sent"] == ["CA", "CO", "OK"], disclosure
    assert disclosure["no_hit"] == ["AZ", "NM"], disclosure
    for state in ("NM", "AZ"):
        received = _bodies(fed, state)
        assert [b["type"] for b in received] == ["discover"], received
        assert _leaks(received[0]) == []
    for state in ("CA", "CO"):
        assert [b["type"] for b in _bodies(fed, state)] == ["discover", "find"]
        assert answers[state]["route"] == "hit"
    assert answers["CO"]["candidates"], "CO holds a Xóchitl Tlacuilo"


def test_an_id_search_reaches_only_the_ids_holder(fed: Federation) -> None:
    answers, summary = _search(fed, "TX", {"ids": {"state_student_id": "CA7100001"}})
    disclosure = summary["disclosure"]
    assert disclosure["hit"] == ["CA"], disclosure
    assert disclosure["find_sent"] == ["CA", "OK"], disclosure
    assert disclosure["no_hit"] == ["AZ", "CO", "NM"], disclosure
    for state in ("NM", "AZ", "CO"):
        received = _bodies(fed, state)
        assert [b["type"] for b in received] == ["discover"], received
        assert not any("CA7100001" in t for t in _strings(received[0]))
    assert [b["type"] for b in _bodies(fed, "CA")] == ["discover", "find"]
    assert len(answers["CA"]["candidates"]) == 1, answers["CA"]


def test_a_node_with_discover_off_gets_the_plain_find(fed: Federation,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    answers, summary = _search(fed, "TX", QUERY)
    assert answers["OK"]["route"] == "plain"
    assert "OK" in summary["disclosure"]["plain"] and "OK" in summary["disclosure"]["find_sent"]
    assert "OK" in summary["answered"] and answers["OK"]["candidates"], answers["OK"]
    ok = _bodies(fed, "OK")
    assert [b["type"] for b in ok] == ["find"], ok  # no discover: it does not speak it
    assert ok[0]["body"]["criteria"]["person"]["first_name"] == "Xóchitl"
    status = fed.control("TX", "/local/v1/status")["discover"]
    assert status["plain_find"] == ["OK"], status
    assert {p["peer"]: p["speaks_discover"] for p in status["peers"]} == {
        "CA": True, "NM": True, "AZ": True, "CO": True, "OK": False}
    monkeypatch.delenv(RECORD_BODIES_ENV, raising=False)
    doctor = fed.cli("doctor", "-c", str(fed.config("TX")), check=False)
    assert "OK do(es) not speak discover" in doctor.stdout, doctor.stdout
    assert RECORD_BODIES_ENV not in doctor.stdout
    monkeypatch.setenv(RECORD_BODIES_ENV, str(fed.root / "doctor-bodies.jsonl"))
    doctor = fed.cli("doctor", "-c", str(fed.config("TX")), check=False)
    assert f"{RECORD_BODIES_ENV} is set" in doctor.stdout, doctor.stdout


def test_a_requester_with_discover_off_sends_the_plain_find_to_everyone(
        fed: Federation) -> None:
    answers, summary = _search(fed, "OK", QUERY)
    disclosure = summary["disclosure"]
    assert disclosure["plain"] == ["AZ", "CA", "CO", "NM", "TX"], disclosure
    assert disclosure["find_sent"] == disclosure["plain"]
    assert set(_routes(answers).values()) == {"plain"}
    for state in ("TX", "CA", "NM", "AZ", "CO"):
        assert [(b["sender"], b["type"]) for b in _bodies(fed, state)] == [("OK", "find")]
    assert answers["CA"]["candidates"] and answers["TX"]["candidates"]


def test_the_search_page_says_who_received_the_details(fed: Federation) -> None:
    sam = WebClient(fed.nodes["TX"].url).login("sam", PASSWORD)
    _code, form = sam.request("GET", "/search")
    assert 'id="search-names-only"' in form and "reaches every state where a child" in form
    fields = {"first_name": "Xóchitl", "last_name_1": "Tlacuilo", "last_name_2": "Mázatl",
              "birth_date": "2010-07-19", "mother_first": "Citlali", "mother_last": "Mázatl",
              "father_first": "Tonatiuh", "father_last": "Tlacuilo", "purpose": "enrollment"}
    _clear_bodies(fed)
    code, page = sam.post("/search/results", fields, {"Accept": "text/html"})
    assert code == 200, page[:500]
    line = html.unescape(page.split('id="search-disclosure">', 1)[1].split("</p>", 1)[0])
    assert line == ("Your search's details went to 2 of 5 states; 3 found no record and "
                    "saw none of them."), line
    code, page = sam.post("/search/results", fields,
                          {"Accept": "text/html", "Accept-Language": "es"})
    line = html.unescape(page.split('id="search-disclosure">', 1)[1].split("</p>", 1)[0])
    assert line.startswith("Los datos de su búsqueda llegaron a 2 de 5 estados; 3 "), line
    for state in ("NM", "AZ"):
        assert all(b["type"] == "discover" and not _leaks(b) for b in _bodies(fed, state))


def test_a_state_a_move_notice_connects_gets_the_find(fed: Federation) -> None:
    queued = fed.control("TX", "/local/v1/notify-move",
                         {"student": "TX9100001", "to": "NM", "expected": "2026-12-01"})
    assert queued, queued
    answers, summary = _search(fed, "TX", QUERY)
    assert answers["NM"]["route"] == "connected", answers["NM"]
    assert answers["NM"]["status"] == "answered"
    disclosure = summary["disclosure"]
    assert disclosure["connected"] == ["NM"], disclosure
    assert "NM" in disclosure["find_sent"] and "NM" not in disclosure["no_hit"]
    assert disclosure["no_hit"] == ["AZ", "CO"]
    nm = [b for b in _bodies(fed, "NM") if b["sender"] == "TX"]
    assert [b["type"] for b in nm if b["type"] != "move_notice"] == ["find"], nm
    # AZ still sees nothing of the child
    assert all(_leaks(b) == [] for b in _bodies(fed, "AZ"))


def test_the_sender_of_a_received_move_notice_gets_the_find(fed: Federation) -> None:
    fed.control("NM", "/local/v1/notify-move",
                {"student": "NM8100001", "to": "AZ", "expected": "2026-12-01"})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        fed.run_job("NM", "outbox")
        if all(row["delivered_ms"] for row in fed.control("NM", "/local/v1/outbox")):
            break
        time.sleep(1)
    inbox = json.loads(fed.cli("inbox", "-c", str(fed.config("AZ")), "--json").stdout)
    assert [row["sender"] for row in inbox] == ["NM"], inbox
    answers, summary = _search(fed, "AZ", {"first_name": "Rosa", "last_name_1": "Quintero",
                                           "last_name_2": "Vega",
                                           "birth_date": "2011-01-12"})
    assert answers["NM"]["route"] == "connected", answers["NM"]
    assert answers["NM"]["candidates"], answers["NM"]
    assert summary["disclosure"]["connected"] == ["NM"], summary["disclosure"]
    assert [b["type"] for b in _bodies(fed, "NM")] == ["find"]
