"""Normalization, nickname mapping, phonetic keys and date handling of identity matching."""

from __future__ import annotations

import datetime as dt

import pytest

from node.matching.index import blocking_keys
from node.matching.normalize import (
    canonical_names,
    fold,
    given_tokens,
    name_tokens,
    nickname_equivalent,
    normalize,
    normalize_record,
    parse_date,
    split_surnames,
)
from node.matching.phonetic import phonetic_key


@pytest.mark.parametrize(("raw", "folded"), [
    ("María José", "maria jose"),
    ("  PEÑA-NIETO ", "pena nieto"),
    ("O'Brien", "o brien"),
    ("Ma. de la Luz", "ma de la luz"),
    (None, ""),
    (12, ""),
])
def test_fold(raw: object, folded: str) -> None:
    assert fold(raw) == folded


def test_particles_are_dropped() -> None:
    assert name_tokens("de la Cruz") == ["cruz"]
    assert name_tokens("Del Río") == ["rio"]
    assert name_tokens("García y López") == ["garcia", "lopez"]
    assert name_tokens("De") == ["de"]  # a name that is only a particle is kept


@pytest.mark.parametrize(("l1", "l2", "expected"), [
    ("Hernández López", None, ("hernandez", "lopez")),
    ("Hernández-López", "", ("hernandez", "lopez")),
    ("García", "Pérez", ("garcia", "perez")),
    ("", "Pérez", ("perez", "")),
    ("de la Cruz", "Ramos", ("cruz", "ramos")),
    (None, None, ("", "")),
])
def test_split_surnames(l1: str | None, l2: str | None, expected: tuple[str, str]) -> None:
    assert split_surnames(l1, l2) == expected


@pytest.mark.parametrize(("nick", "name"), [
    ("lupe", "guadalupe"), ("chuy", "jesus"), ("pepe", "jose"), ("paco", "francisco"),
    ("memo", "guillermo"), ("lalo", "eduardo"), ("nacho", "ignacio"), ("bill", "william"),
    ("bob", "robert"), ("beto", "roberto"), ("beto", "alberto"), ("concha", "concepcion"),
    ("william", "guillermo"),
])
def test_nicknames(nick: str, name: str) -> None:
    assert nickname_equivalent(nick, name)
    assert name in canonical_names(nick)


def test_nicknames_do_not_join_distinct_names() -> None:
    assert not nickname_equivalent("roberto", "alberto")
    assert not nickname_equivalent("cristina", "cristian")
    assert not nickname_equivalent("maria", "juana")


def test_compound_given_names() -> None:
    assert given_tokens("María Guadalupe", None) == ("maria", "guadalupe")
    assert given_tokens("Juan", "Carlos") == ("juan", "carlos")
    assert given_tokens("Ma. de la Luz", "") == ("maria", "luz")


@pytest.mark.parametrize(("a", "b"), [
    ("hernandez", "ernandez"), ("vasquez", "vazquez"), ("vasquez", "basquez"),
    ("jimenez", "ximenez"), ("jimenez", "gimenez"), ("cervantes", "servantes"),
    ("yanez", "llanez"), ("ybarra", "ibarra"), ("chavez", "chabes"), ("godoy", "godoi"),
    ("rodriguez", "rodrigues"), ("gonzalez", "gonsales"),
])
def test_phonetic_key_merges_spanish_confusions(a: str, b: str) -> None:
    assert phonetic_key(a) == phonetic_key(b)


@pytest.mark.parametrize(("a", "b"), [
    ("garcia", "gomez"), ("hernandez", "fernandez"), ("guerrero", "herrera"),
    ("lopez", "ortiz"), ("chavez", "sanchez"),
])
def test_phonetic_key_separates_distinct_surnames(a: str, b: str) -> None:
    assert phonetic_key(a) != phonetic_key(b)


def test_phonetic_key_of_empty_and_junk() -> None:
    assert phonetic_key("") == ""
    assert phonetic_key("h") == ""


@pytest.mark.parametrize(("raw", "parsed"), [
    ("2012-03-10", (2012, 3, 10)),
    ("2012-13-10", (2012, 13, 10)),  # impossible date is data, not a crash
    ("03/10/2012", (2012, 3, 10)),
    (dt.date(2010, 1, 2), (2010, 1, 2)),
    ("yesterday", (0, 0, 0)),
    ("", (0, 0, 0)),
    (None, (0, 0, 0)),
])
def test_parse_date(raw: object, parsed: tuple[int, int, int]) -> None:
    assert parse_date(raw) == parsed


def test_normalize_record_fields() -> None:
    out = normalize_record({"first_name": "Lupe", "last_name_1": "Hernández López",
                            "sex": "female", "birth_date": "2012-03-10",
                            "birth_country": "México", "state_student_id": "tx-00123",
                            "female_parent_last_name": "López de García"})
    assert out["given"] == ("lupe",)
    assert (out["l1"], out["l2"]) == ("hernandez", "lopez")
    assert out["sex"] == "F"
    assert (out["by"], out["bm"], out["bd"]) == (2012, 3, 10)
    assert out["region"] == "|MEX"
    assert out["ssid"] == "TX00123"
    assert out["mother_last"] == "lopez"


def test_normalize_tolerates_empty_and_malformed() -> None:
    empty = normalize({})
    assert empty.given == () and empty.by == 0 and empty.l1 == ""
    odd = normalize({"first_name": 42, "birth_date": "2012-99-99", "sex": "?"})
    assert odd.sex == "" and odd.bm == 99


def test_blocking_keys() -> None:
    keys = blocking_keys({"first_name": "Chuy", "last_name_1": "Hernández",
                          "last_name_2": "Vázquez", "birth_date": "2012-03-10",
                          "female_parent_last_name": "Vasquez", "state_student_id": "X1"})
    assert "d:2012-03-10" in keys and "d:2012-10-03" in keys
    assert f"s:{phonetic_key('ernandes')}:2012" in keys
    assert f"g:{phonetic_key('jesus')}:0310" in keys  # nickname mapped before the key
    assert f"m:{phonetic_key('basques')}:2012" in keys
    assert "i:X1" in keys
    assert len(keys) == len(set(keys))
    assert blocking_keys({}) == []


def test_blocking_keys_swapped_date_meet() -> None:
    a = blocking_keys({"birth_date": "2012-03-10"})
    b = blocking_keys({"birth_date": "2012-10-03"})
    assert set(a) & set(b)
    assert blocking_keys({"birth_date": "2012-13-10"}) == ["d:2012-13-10", "d:2012-10-13"]
