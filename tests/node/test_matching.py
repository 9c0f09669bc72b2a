"""MatchIndex / score_candidates: ranking, siblings and twins, decisions, parameters."""

from __future__ import annotations

import json
from typing import Any

import pytest

from node.matching.index import Hit, MatchIndex, TermFrequencies, score_candidates
from node.matching.scoring import PARAMS_FILE, Params, load_params

FAMILY: dict[str, Any] = {
    "last_name_1": "Hernández", "last_name_2": "López", "birth_city": "Morelia",
    "birth_state": "", "birth_country": "MEX", "male_parent_first_name": "Ramón",
    "male_parent_last_name": "Hernández", "female_parent_first_name": "Rosa",
    "female_parent_last_name": "López",
}


def child(**fields: Any) -> dict[str, Any]:
    return {**FAMILY, **fields}


GUADALUPE = child(first_name="María Guadalupe", sex="F", birth_date="2012-03-10",
                  state_student_id="TX1")
TWIN = child(first_name="María Fernanda", sex="F", birth_date="2012-03-10",
             state_student_id="TX2")
BROTHER = child(first_name="Jesús", sex="M", birth_date="2014-07-21", state_student_id="TX3")
OTHERS = [
    {"first_name": "Ana", "last_name_1": "García", "sex": "F", "birth_date": "2012-03-10",
     "birth_city": "Fresno", "state_student_id": "TX4"},
    {"first_name": "José", "last_name_1": "Pérez", "last_name_2": "Ruiz", "sex": "M",
     "birth_date": "2011-05-02", "state_student_id": "TX5"},
]


def test_finds_child_despite_differences() -> None:
    index = MatchIndex([GUADALUPE, TWIN, BROTHER, *OTHERS])
    query = {"first_name": "Lupe", "last_name_1": "Hernandez-Lopez", "sex": "F",
             "birth_date": "2012-10-03", "male_parent_first_name": "Ramon",
             "male_parent_last_name": "Hernandez", "female_parent_first_name": "Rosa",
             "female_parent_last_name": "Lopez", "birth_city": "Morelia"}
    hits = index.search(query, limit=5)
    assert isinstance(hits[0], Hit)
    assert hits[0].position == 0
    assert hits[0].outcome == "match"
    assert hits[0].agreements["given"] == "alias"
    assert hits[0].agreements["birth_date"] == "swap"
    assert hits[0].agreements["surnames"] == "exact"
    assert hits[0].score > hits[1].score
    assert all(h.outcome != "match" for h in hits[1:])
    assert 0.0 <= hits[-1].probability <= hits[0].probability <= 1.0


def test_twin_is_never_a_match_when_alone() -> None:
    index = MatchIndex([TWIN, BROTHER, *OTHERS])
    hits = index.search(GUADALUPE)
    assert hits[0].position == 0  # the twin ranks first: everything but the name agrees
    assert hits[0].outcome != "match"
    assert hits[0].agreements["given"] == "conflict"


def test_twin_with_compatible_name_is_not_auto_matched() -> None:
    jose = child(first_name="José", middle_name="Luis", sex="M", birth_date="2013-01-05")
    twin = child(first_name="José", middle_name="Ángel", sex="M", birth_date="2013-01-05")
    hits = MatchIndex([jose, twin]).search(child(first_name="Pepe", sex="M",
                                                  birth_date="2013-01-05"))
    assert {h.position for h in hits} == {0, 1}
    assert all(h.outcome != "match" for h in hits)
    assert hits[0].outcome == "near_match"


def test_sibling_scores_far_below_the_child() -> None:
    hits = score_candidates(GUADALUPE, [BROTHER, GUADALUPE])
    assert hits[0].position == 1
    assert hits[1].position == 0 and hits[1].outcome != "match"
    assert hits[0].score - hits[1].score > 20


def test_absent_child_is_no_match() -> None:
    index = MatchIndex([GUADALUPE, TWIN, BROTHER, *OTHERS])
    query = {"first_name": "Pedro", "last_name_1": "Salinas", "last_name_2": "Ortega",
             "sex": "M", "birth_date": "2012-03-10", "birth_city": "Tijuana"}
    hits = index.search(query)
    assert all(h.outcome == "no_match" for h in hits)


def test_malformed_and_partial_queries_do_not_crash() -> None:
    index = MatchIndex([GUADALUPE, {"first_name": None, "birth_date": "2012-13-10"}, {}])
    assert index.search({}) == []
    hits = index.search({"birth_date": "2012-10-13"})
    assert [h.position for h in hits] == [1]
    assert hits[0].agreements["birth_date"] == "swap"
    assert hits[0].agreements["given"] == "missing"
    name_only = index.search({"first_name": "Guadalupe", "last_name_1": "Hernandez"})
    assert name_only[0].position == 0 and name_only[0].outcome != "match"


def test_state_student_id_finds_record() -> None:
    index = MatchIndex([GUADALUPE, TWIN])
    hits = index.search({"state_student_id": "tx-2"})
    assert hits[0].position == 1
    assert hits[0].agreements["state_student_id"] == "agree"


def test_limit_and_positions_follow_input_order() -> None:
    names = ["Ana", "Beatriz", "Carla", "Diana", "Elena", "Flor", "Gloria", "Hilda"]
    records = [child(first_name=name, birth_date="2012-03-10") for name in names]
    hits = MatchIndex(records).search(child(first_name="Diana", birth_date="2012-03-10"),
                                      limit=3)
    assert len(hits) == 3 and hits[0].position == 3
    assert score_candidates(GUADALUPE, [], limit=3) == []


def test_term_frequency_adjustment() -> None:
    common = [child(first_name="María", birth_date=f"2010-01-{d:02d}") for d in range(1, 20)]
    rare = child(first_name="Xóchitl", birth_date="2010-02-01")
    tf = TermFrequencies(total=100_000, given={"maria": 5_000, "xochitl": 3},
                         surname={"hernandez": 1_000, "lopez": 900})
    q_common, q_rare = common[0], rare
    s_common = score_candidates(q_common, [common[0]], tf=tf)[0].score
    s_rare = score_candidates(q_rare, [rare], tf=tf)[0].score
    plain = score_candidates(q_common, [common[0]])[0].score
    assert s_common < plain  # a very common name agrees by chance more often
    assert s_rare > s_common
    assert TermFrequencies.from_dict(json.loads(json.dumps(tf.to_dict()))) == tf
    counted = TermFrequencies.from_records([*common, rare])
    assert counted.total == 20 and counted.given["maria"] == 19
    assert counted.surname["hernandez"] == 20


def test_params_are_frozen_and_checked() -> None:
    params = load_params()
    assert 0 < params.prior < 1 and params.sibling_penalty < 0
    data = json.loads(PARAMS_FILE.read_text(encoding="utf-8"))
    assert Params.from_dict(data) == params
    data["levels"]["given"] = ["exact", "differ"]
    with pytest.raises(ValueError, match="given"):
        Params.from_dict(data)


def test_custom_params_change_decisions() -> None:
    strict = Params.from_dict({**load_params().to_dict(), "match_probability": 1.1})
    hits = score_candidates(GUADALUPE, [GUADALUPE], params=strict)
    assert hits[0].outcome == "near_match"
    assert score_candidates(GUADALUPE, [GUADALUPE])[0].outcome == "match"
