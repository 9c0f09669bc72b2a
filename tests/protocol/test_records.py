"""Tests of the student record model and its validation (protocol/records.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from protocol.errors import InvalidRecord
from protocol.records import InvalidStudent, Student, next_version, validate_student


def good() -> dict[str, Any]:
    return {
        "state_student_id": "TX123", "first_name": "José", "last_name_1": "García",
        "last_name_2": "López", "sex": "M", "birth_date": "2012-10-03",
        "multiple_birth": False, "birth_state": "tx", "birth_country": "mex",
        "qualifying_moves": [{"qualifying_arrival_date": "2023-01-10",
                              "eligibility_expiration_date": "2026-01-10",
                              "move_to_state": "TX"}],
        "enrollments": [{"enrollment_id": "E1", "enrollment_date": "2023-01-12",
                         "grade_level": "09", "medical_alert": "chronic",
                         "school_nces_id": "480000012345",
                         "courses": [{"course_title": "Algebra I", "credits_attempted": 1.0,
                                      "credits_granted": 0.5, "begin_academic_year": 2023,
                                      "end_academic_year": 2024}]}],
        "assessments": [{"assessment_title": "STAAR Reading", "administration_month": "2024-04",
                         "assessment_type": "01"}],
    }


def errors_of(data: dict[str, Any], **kw: Any) -> list[tuple[str, str]]:
    with pytest.raises(InvalidStudent) as info:
        validate_student(data, where="f.jsonl line 7", **kw)
    assert isinstance(info.value, InvalidRecord)
    return info.value.errors


def test_valid_student_is_normalized() -> None:
    s = validate_student(good(), where="x")
    assert isinstance(s, Student) and s.state_student_id == "TX123"
    assert s.data["multiple_birth"] is False
    assert s.data["birth_state"] == "TX" and s.data["birth_country"] == "MEX"
    course = s.data["enrollments"][0]["courses"][0]
    assert course["credits_attempted"] == 1.0 and course["begin_academic_year"] == 2023
    assert s.to_dict()["enrollments"][0]["courses"][0]["course_title"] == "Algebra I"


def test_empty_values_are_absent_so_csv_and_json_agree() -> None:
    a = good()
    b = copy.deepcopy(a)
    b["middle_name"] = ""
    b["suffix"] = None
    assert validate_student(a).to_dict() == validate_student(b).to_dict()
    assert validate_student(a).content_hash() == validate_student(b).content_hash()


def test_message_names_field_and_reason_and_collects_all() -> None:
    data = good()
    data.update(birth_date="2012-13-10", sex="Q", favourite_color="red")
    del data["first_name"]
    errs = dict(errors_of(data))
    assert errs["birth_date"] == "not a date (2012-13-10)"
    assert errs["sex"].startswith("not one of F, M, X")
    assert errs["favourite_color"] == "unknown field"
    assert errs["first_name"] == "required"
    with pytest.raises(InvalidStudent, match=r"^f.jsonl line 7: .*birth_date: not a date"):
        validate_student(data, where="f.jsonl line 7")


@pytest.mark.parametrize(("path", "value", "field", "reason"), [
    (("first_name",), "x" * 51, "first_name", "longer than 50"),
    (("birth_date",), "2099-01-01", "birth_date", "in the future"),
    (("birth_date",), "1900-01-01", "birth_date", "implausible"),
    (("birth_state",), "ZZ", "birth_state", "USPS"),
    (("state_student_id",), "TX-12", "state_student_id", "letters and digits"),
    (("enrollments", 0, "grade_level"), "14", "enrollments[0].grade_level", "not one of"),
    (("enrollments", 0, "medical_alert"), "asthma", "enrollments[0].medical_alert", "not one of"),
    (("enrollments", 0, "school_nces_id"), "123", "enrollments[0].school_nces_id", "12 digits"),
    (("enrollments", 0, "courses", 0, "credits_attempted"), -1,
     "enrollments[0].courses[0].credits_attempted", "out of range"),
    (("enrollments", 0, "courses", 0, "credits_granted"), "abc",
     "enrollments[0].courses[0].credits_granted", "expected a number, got text"),
    (("enrollments", 0, "courses", 0, "credits_granted"), 2,
     "enrollments[0].courses[0].credits_granted", "more than credits attempted"),
    (("qualifying_moves", 0, "eligibility_expiration_date"), "2022-01-01",
     "qualifying_moves[0].eligibility_expiration_date", "before the qualifying"),
    (("qualifying_moves", 0, "qualifying_arrival_date"), "2010-01-01",
     "qualifying_moves[0].qualifying_arrival_date", "before birth"),
    (("assessments", 0, "administration_month"), "04/2024",
     "assessments[0].administration_month", "YYYY-MM"),
    (("multiple_birth",), "maybe", "multiple_birth", "expected true or false, got text"),
])
def test_field_checks(path: tuple[Any, ...], value: Any, field: str, reason: str) -> None:
    data = good()
    target: Any = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    errs = errors_of(data)
    assert any(f == field and reason in r for f, r in errs), errs


def test_child_lists_must_be_lists_of_objects() -> None:
    data = good()
    data["enrollments"] = "E1"
    assert ("enrollments", "not a list of objects") in errors_of(data)
    with pytest.raises(InvalidStudent, match="not an object"):
        validate_student(["x"])  # type: ignore[arg-type]


def test_duplicate_enrollment_id() -> None:
    data = good()
    data["enrollments"].append(copy.deepcopy(data["enrollments"][0]))
    assert any(f == "enrollments[1].enrollment_id" for f, _ in errors_of(data))


def test_owner_state_is_filled_or_checked() -> None:
    assert validate_student(good(), owner_state="TX").owner_state == "TX"
    data = good()
    data["owner_state"] = "CA"
    assert any(f == "owner_state" for f, _ in errors_of(data, owner_state="TX"))


def test_next_version() -> None:
    assert next_version(None, True) == 1
    assert next_version(4, False) == 4
    assert next_version(4, True) == 5


def text_of(value: Any) -> Any:
    """`value` as a CSV folder gives it: every scalar as text."""
    if isinstance(value, dict):
        return {k: text_of(v) for k, v in value.items()}
    if isinstance(value, list):
        return [text_of(v) for v in value]
    if isinstance(value, bool):
        return "Y" if value else "N"
    return str(value)


def test_text_input_is_converted_by_kind_and_gives_the_same_record() -> None:
    typed = validate_student(good())
    from_csv = validate_student(text_of(good()), from_text=True)
    assert from_csv.to_dict() == typed.to_dict()
    assert from_csv.content_hash() == typed.content_hash()
    data = text_of(good())
    data["multiple_birth"] = "maybe"
    assert ("multiple_birth", "not a yes/no value ('maybe')") in errors_of(data, from_text=True)


@pytest.mark.parametrize(("path", "value", "reason"), [
    (("first_name",), 123, "expected text, got a number"),
    (("last_name_1",), ["García"], "expected text, got a list"),
    (("middle_name",), {"x": 1}, "expected text, got an object"),
    (("suffix",), True, "expected text, got true/false"),
    (("state_student_id",), 12345, "expected text, got a number"),
    (("parent1_phone",), 5551234567, "expected text, got a number"),
    (("birth_date",), 20121003, "expected text, got a number"),
    (("sex",), 1, "expected text, got a number"),
    (("multiple_birth",), "N", "expected true or false, got text"),
    (("multiple_birth",), 0, "expected true or false, got a number"),
    (("enrollments", 0, "english_learner"), "yes", "expected true or false, got text"),
    (("enrollments", 0, "enrollment_id"), 1, "expected text, got a number"),
    (("enrollments", 0, "school_nces_id"), 480000012345, "expected text, got a number"),
    (("enrollments", 0, "courses", 0, "begin_academic_year"), "2023",
     "expected a number, got text"),
    (("enrollments", 0, "courses", 0, "credits_attempted"), True,
     "expected a number, got true/false"),
    (("assessments", 0, "score_result"), 1544, "expected text, got a number"),
])
def test_typed_input_must_have_the_field_type(path: tuple[Any, ...], value: Any,
                                              reason: str) -> None:
    data = good()
    target: Any = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    parts: list[str] = []
    for step in path:
        if isinstance(step, int):
            parts[-1] += f"[{step}]"
        else:
            parts.append(step)
    assert errors_of(data) == [(".".join(parts), reason)]


def test_a_record_without_a_qualifying_move_is_not_a_migrant_childs() -> None:
    for moves in ([], None):
        data = good()
        data["qualifying_moves"] = moves
        [(field, reason)] = errors_of(data)
        assert field == "qualifying_moves" and reason.startswith("required")
    data = good()
    del data["qualifying_moves"]
    assert [f for f, _ in errors_of(data)] == ["qualifying_moves"]


def test_last_qualifying_move_stands_in_only_for_missing_moves() -> None:
    explicit = good()
    explicit["qualifying_moves"] = [{"qualifying_arrival_date": "2023-01-10"}]
    data = good()
    del data["qualifying_moves"]
    data["last_qualifying_move"] = "2023-01-10"
    s = validate_student(data)
    assert s.data["qualifying_moves"] == [{"qualifying_arrival_date": "2023-01-10"}]
    assert "last_qualifying_move" not in s.data
    assert s.content_hash() == validate_student(explicit).content_hash()
    data = good()  # moves given: they win, the date is only checked
    data["last_qualifying_move"] = "2020-05-05"
    assert validate_student(data).data["qualifying_moves"] == good()["qualifying_moves"]
    for value, reason in (("2023-02-30", "not a date"), (20230110, "expected text"),
                          ("2010-01-01", "before birth")):
        data = good()
        del data["qualifying_moves"]
        data["last_qualifying_move"] = value
        [(field, why)] = errors_of(data)
        assert field == "last_qualifying_move" and reason in why, why


def test_a_released_part_of_a_record_may_leave_the_moves_out() -> None:
    data = good()
    del data["qualifying_moves"]
    assert validate_student(data, require_move=False).data["qualifying_moves"] == []
    data["first_name"] = 123  # still typed
    with pytest.raises(InvalidStudent, match="first_name: expected text"):
        validate_student(data, require_move=False)
