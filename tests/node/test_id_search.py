"""Search by any state's student id (issue 13 item 4) and outcomes said in words (item 9):
the holder's side of a `find` (`node.federation.answers.find_hits`, the rule of
`node.matching.id_rule`) on a real store, and `node.matching.outcome_words`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from node.federation.answers import _find, find_hits, term_frequencies
from node.federation.federated_find import build_criteria, local_candidates, with_words
from node.importing.synthetic import generate_students
from node.matching.id_rule import id_outcome, id_outcomes, id_search, normalize_id
from node.matching.outcome_words import (
    agreement_text,
    candidate_words,
    id_only,
    outcome_words,
    percent,
    probability_of,
)
from node.store import federation_tables as fed
from node.store.database import Store
from protocol.messages import Find, Requester
from protocol.records import validate_student
from tests.integration.harness import child

GUADALUPE = child("TX900001", "Guadalupe", "Hernández", "López", "2009-03-04")
#: born the same day, a different child: never answered to an id search for Guadalupe
SAME_DAY = child("TX900002", "Rosa", "Soto", "", "2009-03-04")
STAFF = Requester("sam", "staff", "Lincoln High")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    records = [*generate_students("TX", 60, seed=5), GUADALUPE, SAME_DAY]
    with Store(tmp_path_factory.mktemp("ids") / "node.db") as s:
        s.call(fed.apply_migrations)
        s.upsert_students([validate_student(dict(r, owner_state="TX")) for r in records])
        yield s


def _find_in(store: Store, person: dict[str, str], sid: str = "") -> list[dict[str, Any]]:
    ids = [("state_student_id", sid)] if sid else []
    find = Find(build_criteria(person, ids=ids), STAFF, "enrollment")
    tf = store.call(term_frequencies)
    return with_words(store.call(lambda db: local_candidates(db, find, tf)))


def test_an_id_alone_finds_only_the_child_holding_it(store: Store) -> None:
    (hit,) = _find_in(store, {}, "tx900001")  # any case, as typed
    assert hit["record"] == "TX900001"
    # the id alone is one element: the record is shown, but opens only with one more
    assert hit["outcome"] == "near_match" and id_only(hit)
    assert hit["agreements"]["state_student_id"] == "agree"
    assert hit["words"] == "possibly this child"
    # an id this state does not hold: no answer at all, not children sharing a birth date
    assert _find_in(store, {"birth_date": "2009-03-04"}, "TX999999") == []
    assert _find_in(store, {}, "CA700001") == []


def test_the_id_and_one_more_element_open_the_record(store: Store) -> None:
    (hit,) = _find_in(store, {"birth_date": "2009-03-04"}, "TX900001")
    assert hit["outcome"] == "match" and hit["record"] == "TX900001"
    # an exact id with a partly wrong name (other surname) is a match, not a near match
    hits = _find_in(store, {"first_name": "Guadalupe", "last_name_1": "Gómez"}, "TX900001")
    assert hits[0]["record"] == "TX900001" and hits[0]["outcome"] == "match"
    assert hits[0]["agreements"]["surnames"] == "differ"
    assert hits[0]["words"].startswith("almost certainly this child")
    # a nickname counts as the given name agreeing
    hits = _find_in(store, {"first_name": "Lupe", "last_name_1": "Hernandez"}, "TX900001")
    assert hits[0]["outcome"] == "match"


def test_an_id_with_nothing_else_agreeing_stays_a_near_match(store: Store) -> None:
    hits = _find_in(store, {"first_name": "Pedro", "last_name_1": "Gómez",
                            "birth_date": "2001-01-01"}, "TX900001")
    (held,) = [h for h in hits if h["record"] == "TX900001"]
    assert held["outcome"] == "near_match"  # a typo in the id may land on another child
    assert not any(h["outcome"] == "match" for h in hits)


def test_a_peers_answer_follows_the_rule_and_hands_out_a_fetchable_handle(
        store: Store) -> None:
    find = Find(build_criteria({"birth_date": "2009-03-04"},
                               ids=[("state_student_id", "TX900001")]), STAFF, "enrollment")
    answer = store.call(lambda db: _find(db, "FL", find, 10, None))
    (cand,) = answer.reply.candidates  # type: ignore[union-attr]
    assert cand.outcome == "match" and answer.student_ids == ("TX900001",)
    assert dict(cand.agreements)["state_student_id"] == "agree"
    # given as a match: staff may fetch it (matched handle)
    found = store.call(lambda db: fed.resolve_handle_matched(db, "FL", cand.handle))
    assert found == ("TX900001", True)


def test_names_without_an_id_still_search_by_names(store: Store) -> None:
    hits = store.call(lambda db: find_hits(db, Find(build_criteria(
        {"first_name": "Guadalupe", "last_name_1": "Hernandez", "last_name_2": "Lopez",
         "birth_date": "2009-03-04"}), STAFF, "enrollment"), 10, None))
    assert hits[0].row["state_student_id"] == "TX900001" and hits[0].outcome == "match"


def test_the_rule_itself() -> None:
    assert normalize_id(" tx-900 001 ") == "TX900001"
    assert id_search({"first_name": "-", "last_name_1": "-"}) and id_search({})
    assert not id_search({"first_name": "Ana"})
    assert id_outcome({"given": "alias", "state_student_id": "agree"}) == "match"
    assert id_outcome({"birth_date": "exact"}) == "match"
    assert id_outcome({"birth_date": "near", "given": "jw_mid"}) == "near_match"
    # a match holding the id makes another match of the same answer a near match
    assert id_outcomes(["match", "near_match"], [{}, {"birth_date": "exact"}],
                       [False, True]) == ["near_match", "match"]
    assert id_outcomes(["match", "no_match"], [{}, {}], [False, True]) == [
        "match", "near_match"]


def test_outcomes_in_words() -> None:
    assert percent(0.99996) == "99.9%" and percent(0.9876) == "98.7%"
    assert outcome_words("match", probability=0.9999) == "almost certainly this child (99.9%)"
    assert outcome_words("match", probability=0.4, same_id=True) == (
        "almost certainly this child (same student id)")
    assert outcome_words("near_match", probability=0.8) == "possibly this child"
    assert outcome_words("near_match", linked=True).startswith("this child: linked")
    # a peer's candidate has only its score: the probability comes from the frozen params
    high = {"outcome": "match", "score": 30000, "agreements": {}}
    assert probability_of(high) is not None and probability_of(high) > 0.999
    assert candidate_words(high) == "almost certainly this child (99.9%)"
    # its own probability (a calibrated Hit.probability) wins over the score
    assert probability_of({"score": 30000, "probability": 0.5}) == 0.5
    assert probability_of(object()) is None
    assert agreement_text({"given": "alias", "birth_date": "exact", "sex": "missing"}) == (
        "given name: nickname · birth date: same")

