"""Issue 13 items 2 and 3: typo-tolerant candidate keys apart from discover keys, decisions
from the calibrated probability and the lead, and the twin guard."""

from __future__ import annotations

import re
from typing import Any

import pytest

from node.importing.synthetic import derive_overlap, generate_students
from node.matching.discover_keys import record_discover_keys as discover_keys
from node.matching.index import (
    MatchIndex,
    blocking_keys,
    candidate_keys,
    lookup_keys,
    score_candidates,
)
from node.matching.normalize import norm_from_text, norm_to_text, normalize
from node.matching.scoring import load_params

FAMILY: dict[str, Any] = {
    "last_name_1": "Hernández", "last_name_2": "López", "birth_city": "Morelia",
    "birth_country": "MEX", "male_parent_first_name": "Ramón",
    "male_parent_last_name": "Hernández", "female_parent_first_name": "Rosa",
    "female_parent_last_name": "López",
}


def child(**fields: Any) -> dict[str, Any]:
    return {**FAMILY, **fields}


@pytest.fixture(scope="module")
def crowd() -> list[dict[str, Any]]:
    """Decoys: a synthetic state's children, among whom the crafted ones are put."""
    keep = ("first_name", "middle_name", "last_name_1", "last_name_2", "sex", "birth_date",
            "birth_city", "birth_state", "birth_country", "male_parent_first_name",
            "male_parent_last_name", "female_parent_first_name", "female_parent_last_name",
            "multiple_birth", "state_student_id")
    return [{k: r.get(k) for k in keep} for r in generate_students("TX", 3000, seed=21)]


# ---- candidate keys and discover keys -----------------------------------------------

def test_typo_in_birth_date_and_surname_is_still_a_candidate(
        crowd: list[dict[str, Any]]) -> None:
    target = {"first_name": "Brenda", "last_name_1": "Villarreal", "last_name_2": "",
              "sex": "F", "birth_date": "2013-06-14", "state_student_id": "TX9"}
    query = {"first_name": "Brenda", "last_name_1": "Vilalrreal", "sex": "F",
             "birth_date": "2013-06-17"}
    qn, tn = normalize(query), normalize(target)
    assert qn.p1 != tn.p1  # the phonetic surname key differs, and so does the date:
    old_style = {k for k in candidate_keys(target) if k[:2] in ("d:", "s:", "g:", "n:")}
    assert not old_style & set(lookup_keys(query))  # no first-release key finds it
    index = MatchIndex([*crowd, target])
    hits = index.search(query)
    assert hits[0].position == len(crowd)
    assert hits[0].agreements["surnames"] == "fuzzy"
    assert hits[0].agreements["birth_date"] == "near"


def test_swapped_given_and_surname_and_year_off_are_candidates() -> None:
    target = child(first_name="Talia", last_name_1="Hilton", last_name_2="",
                   birth_date="2012-12-31")
    swapped = {"first_name": "Hilton", "last_name_1": "Talia", "birth_date": "2012-12-13"}
    assert set(lookup_keys(swapped)) & set(candidate_keys(target))
    year_off = {"first_name": "Tallia", "last_name_1": "Hiltton", "birth_date": "2011-12-31"}
    assert set(lookup_keys(year_off)) & set(candidate_keys(target))


def test_candidate_keys_are_the_stored_blocking_keys() -> None:
    record = child(first_name="Jesús", birth_date="2012-03-10")
    assert blocking_keys(record) == candidate_keys(record)
    assert set(candidate_keys(record)) <= set(lookup_keys(record))


def test_discover_keys_are_composite_and_never_a_birth_date_alone(
        crowd: list[dict[str, Any]]) -> None:
    date = re.compile(r"^\d{8}$|^\d{4}-\d{2}-\d{2}$")
    for record in crowd[:500]:
        keys = discover_keys(record)
        assert keys, record
        for key in keys:
            kind, *parts = key.split(":")
            assert kind in ("mf", "mm", "u", "y", "b", "ym", "pf", "nn", "di"), key
            if kind != "di":  # every other key has a name part beside any date part
                assert len(parts) >= 2 and any(not date.match(p) and not p.isdigit()
                                               for p in parts), key
            assert not (len(parts) == 1 and date.match(parts[0])), key
        assert not set(keys) & set(candidate_keys(record))
    assert discover_keys({"birth_date": "2012-03-10"}) == []  # a date alone gives none
    only_date_and_id = discover_keys({"birth_date": "2012-03-10", "state_student_id": "X1"})
    assert only_date_and_id == ["di:X1"]


def test_stored_normalized_form_round_trips() -> None:
    for record in (child(first_name="María José", sex="F", birth_date="2012-03-10",
                         multiple_birth=True, state_student_id="tx-1"), {}, {"sex": "M"}):
        norm = normalize(record)
        assert norm_from_text(norm_to_text(norm)) == norm
    with pytest.raises(ValueError, match="version"):
        norm_from_text("1" + norm_to_text(normalize({}))[1:])


# ---- decisions ----------------------------------------------------------------------

def test_clear_child_with_a_typo_is_a_match(crowd: list[dict[str, Any]]) -> None:
    params = load_params()
    record = child(first_name="Guadalupe", sex="F", birth_date="2011-04-09",
                   state_student_id="TX1")
    index = MatchIndex([*crowd, record])
    for query in (record, {**record, "first_name": "Guadalpue"},
                  {**record, "birth_date": "2011-04-19", "last_name_2": ""}):
        top = index.search(query)[0]
        assert top.position == len(crowd) and top.outcome == "match", (query, top)
        assert top.probability >= params.match_probability
        assert top.lead is not None and top.lead >= params.margin_bits


def test_duplicate_records_tie_and_are_not_matched() -> None:
    record = child(first_name="Guadalupe", sex="F", birth_date="2011-04-09")
    hits = score_candidates(record, [record, dict(record)])
    assert hits[0].lead == 0 and all(h.outcome != "match" for h in hits)
    assert hits[0].outcome == "near_match"


def test_sibling_and_stranger_are_never_matched(crowd: list[dict[str, Any]]) -> None:
    sister = child(first_name="Rosa", sex="F", birth_date="2009-01-30")
    query = child(first_name="Guadalupe", sex="F", birth_date="2011-04-09")
    hits = MatchIndex([*crowd, sister]).search(query)
    assert all(h.outcome != "match" for h in hits)
    stranger = {"first_name": "Pedro", "last_name_1": "Salinas", "sex": "M",
                "birth_date": "2011-04-09"}
    assert all(h.outcome == "no_match" for h in MatchIndex([*crowd, sister]).search(stranger))


def test_probability_rises_with_the_evidence() -> None:
    record = child(first_name="Guadalupe", sex="F", birth_date="2011-04-09")
    weaker = {"first_name": "Guadalupe", "last_name_1": "Hernández", "birth_date": "2011-04-09"}
    full, partial = score_candidates(record, [record])[0], score_candidates(weaker, [record])[0]
    assert full.score > partial.score and full.probability >= partial.probability
    assert 0.0 <= partial.probability <= full.probability <= 1.0


# ---- the twin guard -----------------------------------------------------------------

TWIN_A = child(first_name="Jayden", sex="M", birth_date="2014-05-02", multiple_birth=True,
               state_student_id="TXA")
TWIN_B = child(first_name="Jaiden", sex="M", birth_date="2014-05-02", multiple_birth=True,
               state_student_id="TXB")
TWIN_C = child(first_name="Sofía", sex="F", birth_date="2014-05-02", multiple_birth=True,
               state_student_id="TXC")


@pytest.mark.parametrize("query", [
    TWIN_A,  # the twin's exact record: only the co-twins are in the index
    {**TWIN_A, "multiple_birth": False},  # the query lost its flag
    {**TWIN_A, "first_name": ""},  # no given name: could be any of them
    {**TWIN_C, "first_name": "Jaiden", "sex": ""},  # a co-twin's name on Sofía's record
])
def test_a_twin_is_never_matched_to_a_co_twin(crowd: list[dict[str, Any]],
                                              query: dict[str, Any]) -> None:
    index = MatchIndex([*crowd, TWIN_B, TWIN_C])
    hits = index.search(query)
    co_twins = {len(crowd), len(crowd) + 1}
    if query["first_name"] == "Jaiden":  # the exact name of B: B is the child here
        assert hits[0].position == len(crowd)
        return
    assert all(h.outcome != "match" for h in hits if h.position in co_twins), hits


def test_twin_present_with_co_twins_is_matched(crowd: list[dict[str, Any]]) -> None:
    index = MatchIndex([*crowd, TWIN_A, TWIN_B, TWIN_C])
    top = index.search({**TWIN_A, "last_name_2": ""})[0]
    assert top.position == len(crowd) and top.outcome == "match"
    near = index.search({**TWIN_A, "first_name": "Jaydenn"})  # a typo, between two twins
    assert all(h.outcome != "match" for h in near)


def test_twins_of_a_harder_labelled_set_are_never_confused() -> None:
    source = generate_students("TX", 1500, seed=5, twin_rate=0.4)
    position = {r["state_student_id"]: i for i, r in enumerate(source)}
    twins = [(r, position[sid]) for r, sid in
             derive_overlap(source, "CA", 0.6, 6, "realistic") if r["multiple_birth"]]
    assert len(twins) > 200
    index = MatchIndex(source)
    matched = 0
    for query, truth in twins:
        top = index.search(query)[0]
        if top.outcome == "match":
            matched += 1
            assert top.position == truth, (query, source[top.position])
    assert matched > len(twins) * 0.8
    # Now without the queried children: their co-twins (and siblings) remain, and no
    # co-twin may be matched (nor, but for a rare sibling of the same name, anyone).
    gone = {truth for _query, truth in twins}
    kept = [r for i, r in enumerate(source) if i not in gone]
    alone = MatchIndex(kept)
    co_twins_found = wrong = 0
    for query, truth in twins:
        hits = alone.search(query)
        for hit in hits:
            co_twin = kept[hit.position]["birth_date"] == source[truth]["birth_date"]
            co_twins_found += co_twin
            assert not (co_twin and hit.outcome == "match"), (query, kept[hit.position])
        wrong += bool(hits) and hits[0].outcome == "match"
    assert co_twins_found > 50  # the co-twins were there to be confused with
    assert wrong <= len(twins) * 0.01


def test_batch_scoring_equals_the_levels_and_weights(crowd: list[dict[str, Any]]) -> None:
    index = MatchIndex(crowd)
    scorer = index.scorer
    queries = [normalize(r) for r, _s in derive_overlap(crowd[:600], "CA", 0.5, 3,
                                                        "realistic")]
    from node.matching.scoring import compare

    checked = 0
    for q in queries[:150]:
        tf_given = index.tf.given_share(q.given[0]) if q.given else None
        tf_surname = index.tf.surname_share(q.l1)
        for value, pos in scorer.batch(q, index.norms, index.candidates(q), tf_given,
                                       tf_surname):
            expected = scorer.score(compare(q, index.norms[pos]), tf_given, tf_surname)
            assert value == pytest.approx(expected, abs=1e-9)
            checked += 1
    assert checked > 5000
