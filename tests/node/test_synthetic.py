"""Tests of the synthetic record generator (node/importing/synthetic.py)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from typing import Any

import pytest

from node.importing.synthetic import (
    _DATE_KINDS,
    _strip_accents,
    derive_overlap,
    derive_overlap_labelled,
    generate_students,
)
from protocol.records import validate_student


@pytest.fixture(scope="module")
def tx() -> list[dict[str, Any]]:
    return generate_students("TX", 2000, seed=7)


def test_deterministic_and_exact_count(tx: list[dict[str, Any]]) -> None:
    assert len(tx) == 2000
    assert generate_students("TX", 2000, seed=7) == tx
    assert generate_students("TX", 50, seed=8)[:5] != tx[:5]
    assert len({s["state_student_id"] for s in tx}) == 2000


def test_every_record_is_valid(tx: list[dict[str, Any]]) -> None:
    for s in tx:
        validate_student(s, owner_state="TX")


def test_realistic_shape(tx: list[dict[str, Any]]) -> None:
    assert all(s["qualifying_moves"] for s in tx)  # MSIX needs a qualifying move
    assert sum(s["last_name_2"] != "" for s in tx) > 1000  # Spanish two-part surnames
    assert any(not s["last_name_2"] for s in tx)  # and English single surnames
    courses = [c for s in tx for e in s["enrollments"] for c in e["courses"]]
    assert any(c.get("course_status") == "in_progress" for c in courses)
    assert any(c.get("credits_granted") == 0.0 for c in courses)
    assert any(s["assessments"] for s in tx)
    assert all(len(e["school_nces_id"]) == 12 and e["school_nces_id"].startswith("48")
               for s in tx for e in s["enrollments"])
    twins = [s for s in tx if s["multiple_birth"]]
    assert 0.01 < len(twins) / len(tx) < 0.08


def test_siblings_share_family_data(tx: list[dict[str, Any]]) -> None:
    families: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for s in tx:
        families[(s["last_name_1"], s["last_name_2"], s["male_parent_first_name"],
                  s["female_parent_first_name"], s["birth_city"])].append(s)
    sizes = [len(v) for v in families.values()]
    assert max(sizes) >= 3 and sum(n > 1 for n in sizes) > 100
    twin_births = defaultdict(int)
    for s in tx:
        if s["multiple_birth"]:
            twin_births[(s["last_name_1"], s["birth_date"])] += 1
    assert any(n >= 2 for n in twin_births.values())


def test_derive_overlap(tx: list[dict[str, Any]]) -> None:
    pairs = derive_overlap(tx, "CA", 0.3, seed=3)
    assert len(pairs) == 600
    assert pairs == derive_overlap(tx, "CA", 0.3, seed=3)
    by_id = {s["state_student_id"]: s for s in tx}
    diffs = defaultdict(int)
    for rec, src_id in pairs:
        validate_student(rec, owner_state="CA")
        src = by_id[src_id]
        assert rec["state_student_id"].startswith("CA") and rec["owner_state"] == "CA"
        if src["enrollments"]:
            assert rec["enrollments"] != src["enrollments"]
        assert all(e["facility_state"] == "CA" for e in rec["enrollments"])
        if rec["last_name_1"] != src["last_name_1"] and \
                _strip_accents(src["last_name_1"]) == rec["last_name_1"]:
            diffs["accents"] += 1
        if src["last_name_2"] and not rec["last_name_2"]:
            diffs["maternal missing or hyphenated"] += 1
        if rec["last_name_1"] == src["last_name_2"] and src["last_name_2"]:
            diffs["swapped"] += 1
        if rec["birth_date"] != src["birth_date"]:
            diffs["day/month"] += 1
        if _strip_accents(rec["first_name"]) != _strip_accents(src["first_name"]):
            diffs["nickname or typo"] += 1
    assert all(diffs[k] > 0 for k in ("accents", "maternal missing or hyphenated", "swapped",
                                      "day/month", "nickname or typo")), diffs
    with pytest.raises(ValueError, match="share"):
        derive_overlap(tx, "CA", 1.5, seed=1)


def test_every_child_has_a_qualifying_move() -> None:
    # CA seed 3: child 396 is born on the day of the family's latest move (it used to get
    # no move at all, a record the import rejects as not a migrant child's)
    ca = generate_students("CA", 400, seed=3)
    assert ca[396]["birth_date"] == ca[396]["qualifying_moves"][0]["qualifying_arrival_date"]
    for s in ca:
        assert s["qualifying_moves"], s["state_student_id"]
        validate_student(s, owner_state="CA")
    for rec, _src in derive_overlap(generate_students("TX", 5000, seed=3), "AZ", 0.3, 3):
        assert rec["qualifying_moves"], rec["state_student_id"]


# ---- the realistic error profile (issue 13 item 1) -----------------------------------

def _plain(text: str) -> str:
    return _strip_accents(text or "").lower()


def _one_digit(a: str, b: str) -> bool:
    x, y = a.replace("-", ""), b.replace("-", "")
    return sum(p != q for p, q in zip(x, y, strict=True)) == 1


def _digit_swap(a: str, b: str) -> bool:
    x, y = a.replace("-", ""), b.replace("-", "")
    diff = [i for i in range(8) if x[i] != y[i]]
    return len(diff) == 2 and diff[1] == diff[0] + 1 and x[diff[0]] == y[diff[1]]


@pytest.fixture(scope="module")
def realistic() -> tuple[dict[str, dict[str, Any]],
                         list[tuple[dict[str, Any], str, tuple[str, ...]]]]:
    source = generate_students("TX", 4000, seed=9, twin_rate=0.05)
    return ({s["state_student_id"]: s for s in source},
            derive_overlap_labelled(source, "CA", 0.5, 10, "realistic"))


def test_realistic_profile_applies_every_error_kind(realistic: Any) -> None:
    _by_id, pairs = realistic
    kinds = Counter(k for _r, _s, ks in pairs for k in ks)
    expected = {"accents", "given_split", "given_shortened", "given_joined", "middle_missing",
                "nickname", "surnames_reordered", "surnames_hyphen_joined",
                "surnames_space_joined", "surname_only_maternal", "surname_maternal_missing",
                "date_day_month_swap", "date_digit", "date_digit_swap", "date_day_off",
                "date_year_off", "father_missing", "mother_missing", "parent_typo",
                "birth_city_missing", "birth_city_typo", "birth_country_missing"}
    expected |= {f"{field}_typo_{kind}" for field in ("given", "surname")
                 for kind in ("insert", "delete", "transpose", "keyboard", "ocr", "phonetic")}
    assert expected <= set(kinds), expected - set(kinds)
    n = len(pairs)
    assert 0.06 < sum(v for k, v in kinds.items() if k.startswith("given_typo")) / n < 0.12
    assert 0.07 < sum(v for k, v in kinds.items() if k.startswith("surname_typo")) / n < 0.13
    assert 0.05 < sum(kinds[k] for k in ("date_day_month_swap", "date_digit", "date_digit_swap",
                                         "date_day_off", "date_year_off")) / n < 0.15
    for rec, _sid, _kinds in pairs:
        validate_student(rec, owner_state="CA")


def test_each_error_kind_does_what_it_says(realistic: Any) -> None:
    by_id, pairs = realistic
    seen: Counter[str] = Counter()
    for rec, sid, kinds in pairs:
        src = by_id[sid]
        ks = set(kinds)
        surname_typo = any(k.startswith("surname_typo") for k in ks)
        l1, l2, s1, s2 = (_plain(rec["last_name_1"]), _plain(rec["last_name_2"]),
                          _plain(src["last_name_1"]), _plain(src["last_name_2"]))
        if not surname_typo:
            if "surnames_reordered" in ks:
                assert (l1, l2) == (s2, s1)
            if "surnames_hyphen_joined" in ks:
                assert (l1, l2) == (f"{s1}-{s2}", "")
            if "surnames_space_joined" in ks:
                assert (l1, l2) == (f"{s1} {s2}", "")
            if "surname_only_maternal" in ks:
                assert (l1, l2) == (s2, "")
            if "surname_maternal_missing" in ks:
                assert (l1, l2) == (s1, "")
        if "given_split" in ks and not ks & {"nickname", *(k for k in ks if "given_typo" in k)}:
            assert _plain(rec["first_name"]) == _plain(src["first_name"]).split()[0]
            assert _plain(rec["middle_name"]) == " ".join(_plain(src["first_name"]).split()[1:])
        if "given_joined" in ks and not any("given_typo" in k for k in ks):
            assert rec["middle_name"] == "" and _plain(rec["first_name"]).endswith(
                _plain(src["middle_name"]))
        b, r = src["birth_date"], rec["birth_date"]
        if "date_digit" in ks:
            assert _one_digit(b, r)
        if "date_digit_swap" in ks:
            assert _digit_swap(b, r)
        if "date_day_off" in ks:
            assert abs((date.fromisoformat(b) - date.fromisoformat(r)).days) == 1
        if "date_year_off" in ks:
            assert abs(int(b[:4]) - int(r[:4])) == 1 and b[4:] == r[4:]
        if "date_day_month_swap" in ks:
            assert (r[5:7], r[8:]) == (b[8:], b[5:7])
        if not ks & {*_DATE_KINDS, "date_day_month_swap"}:
            assert r == b
        if "father_missing" in ks:
            assert rec["male_parent_first_name"] == rec["male_parent_last_name"] == ""
        if "mother_missing" in ks:
            assert rec["female_parent_first_name"] == rec["female_parent_last_name"] == ""
        if "birth_city_missing" in ks:
            assert rec["birth_city"] == ""
        if "birth_country_missing" in ks:
            assert rec["birth_country"] == rec["birth_state"] == ""
        for field, key in (("given", "first_name"), ("surname", None)):
            typo = [k for k in ks if k.startswith(f"{field}_typo_")]
            if not typo or (field == "given" and ks & {"nickname", "given_split",
                                                        "given_shortened", "given_joined"}):
                continue
            kind = typo[0].rsplit("_", 1)[1]
            if key is None:  # a surname: compare the joined letters of both fields
                if ks & {"surnames_hyphen_joined", "surnames_space_joined",
                         "surname_only_maternal", "surname_maternal_missing"}:
                    continue
                new, old = sorted((l1, l2)), sorted((s1, s2))
                changed = [(o, x) for o, x in zip(old, new, strict=True) if o != x]
                if len(changed) != 1:
                    continue
                old_text, new_text = changed[0]
            else:
                old_text, new_text = _plain(src[key]), _plain(rec[key])
            assert new_text != old_text
            if kind == "insert":
                assert len(new_text) == len(old_text) + 1
            elif kind == "delete":
                assert len(new_text) == len(old_text) - 1
            elif kind in ("transpose", "keyboard"):
                assert len(new_text) == len(old_text)
                if kind == "transpose":
                    assert sorted(new_text) == sorted(old_text)
            seen[kind] += 1
    assert len(seen) == 6, seen


def test_gentle_profile_is_the_default_and_reports_no_kinds(tx: list[dict[str, Any]]) -> None:
    assert derive_overlap(tx, "CA", 0.2, seed=3) == derive_overlap(tx, "CA", 0.2, 3, "gentle")
    assert all(k == () for _r, _s, k in derive_overlap_labelled(tx, "CA", 0.2, 3))
    assert derive_overlap(tx, "CA", 0.2, 3, "realistic") != derive_overlap(tx, "CA", 0.2, 3)
    with pytest.raises(ValueError, match="error_profile"):
        derive_overlap(tx, "CA", 0.2, 3, "harsh")


def test_twin_rate() -> None:
    many = generate_students("TX", 3000, seed=4, twin_rate=0.3)
    assert 0.3 < sum(s["multiple_birth"] for s in many) / len(many) < 0.6
