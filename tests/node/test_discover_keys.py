"""Issue 14: the discover keys (node/matching/discover_keys.py) — every key composite and
never a birth date alone, the query side inside what the record side holds, the padded
count, names-only searches, and a hit for each typical error kind."""

from __future__ import annotations

import re
from typing import Any

import pytest

from node.importing.synthetic import derive_overlap, generate_students
from node.matching.discover_keys import (
    DISCOVER_ELEMENTS,
    has_selective_key,
    name_code,
    query_discover_keys,
    record_discover_keys,
)

KINDS = ("mf", "mm", "u", "y", "b", "ym", "pf", "nn", "di")
DIGITS = re.compile(r"^\d+$")

CHILD: dict[str, Any] = {
    "first_name": "Eduardo", "middle_name": "José", "last_name_1": "Hernández",
    "last_name_2": "López", "sex": "M", "birth_date": "2012-03-10",
    "birth_city": "Morelia", "birth_country": "MEX", "male_parent_first_name": "Ramón",
    "male_parent_last_name": "Hernández", "female_parent_first_name": "Rosa",
    "female_parent_last_name": "López", "state_student_id": "TX123",
}
#: what a search form often has: the child's own fields, no parents, no id
CHILD_ONLY = {k: CHILD[k] for k in ("first_name", "last_name_1", "last_name_2",
                                    "birth_date")}


@pytest.fixture(scope="module")
def crowd() -> list[dict[str, Any]]:
    return generate_students("AZ", 2000, seed=23, twin_rate=0.05)


def hits(query: dict[str, Any], record: dict[str, Any]) -> set[str]:
    return set(query_discover_keys(query)) & set(record_discover_keys(record))


def test_every_key_is_composite_and_none_is_a_date_alone(
        crowd: list[dict[str, Any]]) -> None:
    for record in [CHILD, *crowd]:
        keys = record_discover_keys(record)
        assert keys and len(keys) <= 11
        for key in keys:
            kind, *parts = key.split(":")
            assert kind in KINDS, key
            names = [p for p in parts if not DIGITS.match(p)]
            if kind == "di":  # the state student id: selective on its own
                assert len(parts) == 1
                continue
            # at least two name codes (never one field alone, never a date alone) and,
            # but for the names-only key, a third field: a date part or a third name
            assert len(names) >= 2, key
            assert kind == "nn" or len(parts) >= 3, key
            assert kind != "nn" or len(parts) == 2, key
    assert record_discover_keys({"birth_date": "2012-03-10"}) == []
    assert record_discover_keys({"birth_date": "2012-03-10", "sex": "F",
                                 "birth_city": "Yuma"}) == []
    assert record_discover_keys({"birth_date": "2012-03-10",
                                 "state_student_id": "X1"}) == ["di:X1"]
    assert record_discover_keys({"last_name_1": "García", "birth_date": "2012-03-10"}) == []


def test_query_keys_are_among_the_record_keys_of_the_same_child(
        crowd: list[dict[str, Any]]) -> None:
    """The query side adds nothing the filter could never hold: a search with the very
    fields of a record sends only keys that record has (the tolerance is in the choice
    of fields, not in query-only variants)."""
    for record in [CHILD, CHILD_ONLY, *crowd]:
        query = query_discover_keys(record)
        assert query and set(query) <= set(record_discover_keys(record)), record


def test_never_more_than_the_padded_count(crowd: list[dict[str, Any]]) -> None:
    queries = [CHILD, *crowd, *(r for r, _sid in derive_overlap(
        crowd, "CA", 0.5, 24, error_profile="realistic"))]
    counts = [len(query_discover_keys(q)) for q in queries]
    assert max(counts) == DISCOVER_ELEMENTS  # full records fill it, never more


def test_names_only_searches_send_only_the_names_key() -> None:
    names_only = {"first_name": "Eduardo", "last_name_1": "Hernández",
                  "last_name_2": "López"}
    keys = query_discover_keys(names_only)
    assert keys and all(k.startswith("nn:") for k in keys)
    assert set(keys) <= set(record_discover_keys(CHILD))  # the holder's filter has them
    assert not has_selective_key(names_only)
    assert has_selective_key(CHILD_ONLY)
    # a query with a birth date or an id never sends the names-only key
    assert not [k for k in query_discover_keys(CHILD_ONLY) if k.startswith("nn:")]
    with_id = {**names_only, "state_student_id": "TX123"}
    assert query_discover_keys(with_id) == ["di:TX123"]
    assert has_selective_key(with_id)
    assert query_discover_keys({"birth_date": "2012-03-10"}) == []
    assert query_discover_keys({}) == []


ERRORS: dict[str, dict[str, Any]] = {
    "phonetic spelling of the surname": {"last_name_1": "Ernandes"},
    "typo in the given name": {"first_name": "Edaurdo"},
    "day and month swapped": {"birth_date": "2012-10-03"},
    "birth year off by one": {"birth_date": "2011-03-10"},
    "given name and surname swapped": {"first_name": "Hernández",
                                       "last_name_1": "Eduardo", "last_name_2": ""},
    "second surname only": {"last_name_1": "López", "last_name_2": ""},
    "surnames in one field": {"last_name_1": "Hernández-López", "last_name_2": ""},
    "surnames reordered": {"last_name_1": "López", "last_name_2": "Hernández"},
    "nickname": {"first_name": "Lalo"},
    "no birth date (names only)": {"birth_date": None},
}


@pytest.mark.parametrize("change", list(ERRORS), ids=list(ERRORS))
def test_a_search_with_a_typical_error_hits_the_childs_keys(change: str) -> None:
    """With the child's own fields only (no parents, no id): each typical error kind
    still leaves a key in common with the holder's record."""
    query = {**CHILD_ONLY, **ERRORS[change]}
    assert hits(query, CHILD), (change, query_discover_keys(query))


def test_parents_carry_a_search_whose_child_fields_have_two_errors() -> None:
    query = {**CHILD, "first_name": "Edaurdo", "last_name_2": "",
             "birth_date": "2012-03-11", "state_student_id": "CA9"}
    assert {k.split(":")[0] for k in hits(query, CHILD)} <= {"mm", "mf", "pf"}
    assert hits(query, CHILD)


def test_a_nickname_group_has_one_code() -> None:
    assert name_code("lalo") == name_code("eduardo") == name_code("edward")
    assert name_code("chuy") == name_code("jesus")
    assert name_code("") == ""
    assert name_code("zzyzx") != name_code("eduardo")


def test_a_different_child_of_the_same_family_is_no_hit() -> None:
    """A sibling shares surnames and parents but not the given name and birth date."""
    sibling = {**CHILD, "first_name": "Mariana", "middle_name": "", "sex": "F",
               "birth_date": "2014-07-21", "state_student_id": "TX124"}
    assert not hits({**sibling, "state_student_id": ""}, CHILD)


def test_most_realistic_queries_hit(crowd: list[dict[str, Any]]) -> None:
    """A regression guard on the generator's realistic errors (not the bench's seeds):
    bench/discover_bench.py measures the figure on the labelled set."""
    position = {r["state_student_id"]: r for r in crowd}
    pairs = derive_overlap(crowd, "CA", 0.5, 25, error_profile="realistic")
    found = sum(bool(hits(q, position[sid])) for q, sid in pairs)
    assert found / len(pairs) >= 0.97


def test_no_record_gives_more_keys_than_a_filter_may_declare(
        crowd: list[dict[str, Any]]) -> None:
    """A requester refuses a filter with more members than MAX_KEYS_PER_RECORD a declared
    record (protocol.discover_signed): every holder's own filter must stay within it."""
    from protocol.discover_signed import MAX_KEYS_PER_RECORD

    assert max(len(record_discover_keys(r)) for r in crowd) <= MAX_KEYS_PER_RECORD
