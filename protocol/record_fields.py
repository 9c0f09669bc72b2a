"""The MSIX record tables, field by field: specs, value checks and flat-row validation.

Follows the MSIX Minimum Data Elements as laid out in MSIX.md §4 (student, qualifying
move, enrollment, course history, assessment) and DESIGN.md "Student records". Owns the
field spec of each table (`TABLE_SPECS`: field name to (kind, limit or allowed values)),
the required fields, the stored column order (`COLUMNS`, the CSV headers), the check of
each value kind, and `check_row`, which validates one flat row of a table. Empty strings
and None mean "absent" and are dropped. Typed input (JSON) must give each field its JSON
type; text input (CSV) is converted by the field's kind. The nested student built from
these rows is in protocol/records.py. Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

USPS_CODES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV "
    "NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR GU VI AS MP".split()
)
GRADE_LEVELS = frozenset(
    ["IT", "PR", "PK", "TK", "KG", *(f"{n:02d}" for n in range(1, 14)), "UG", "OS"]
)
SEXES = frozenset({"F", "M", "X"})
MEDICAL_ALERTS = frozenset({"none", "acute", "chronic"})
ENROLLMENT_TYPES = frozenset(
    {"basic_school", "summer_mep", "year_round_mep", "residency_only", "other_project"}
)
GRADUATION_HSE = frozenset({"none", "graduated", "hse"})
COURSE_TYPES = frozenset(
    {"regular", "honors", "ap", "ib", "dual_credit", "remedial", "vocational", "special_ed"}
)
COURSE_SECTIONS = frozenset({"full_year", "section_a", "section_b", "section_c"})
TERM_TYPES = frozenset({"full_year", "semester", "trimester", "quarter", "summer", "other"})
COURSE_STATUSES = frozenset({"in_progress", "completed", "withdrawn"})
REPORTING_METHODS = frozenset(
    {"letter_grade", "percent", "percentile", "scale_score", "pass_fail",
     "proficiency_level", "other"}
)
ASSESSMENT_TYPES = frozenset(f"{n:02d}" for n in range(1, 13))
RECORD_STATUSES = frozenset({"active", "merged", "split", "retired"})
EARLIEST = date(1980, 1, 1)
MAX_CREDITS = 9.99  # decimal(3,2)

Spec = dict[str, tuple[str, Any]]

STUDENT: Spec = {
    "state_student_id": ("id", 15), "state_student_id_type": ("enum", frozenset({"01", "02"})),
    "owner_state": ("state", None), "record_version": ("int", (1, 2**31)),
    "record_status": ("enum", RECORD_STATUSES), "national_link_id": ("text", 40),
    "first_name": ("text", 50), "middle_name": ("text", 50), "last_name_1": ("text", 50),
    "last_name_2": ("text", 50), "suffix": ("text", 10), "sex": ("enum", SEXES),
    "birth_date": ("birth_date", None), "birth_date_verification": ("text", 10),
    "multiple_birth": ("bool", None), "birth_city": ("text", 30), "birth_state": ("state", None),
    "birth_country": ("country", None),
    "male_parent_first_name": ("text", 50), "male_parent_last_name": ("text", 50),
    "female_parent_first_name": ("text", 50), "female_parent_last_name": ("text", 50),
    "parent1_email": ("email", 50), "parent1_phone": ("digits", (7, 15)),
    "parent2_email": ("email", 50), "parent2_phone": ("digits", (7, 15)),
}
QUALIFYING_MOVE: Spec = {
    "qualifying_arrival_date": ("date", None), "move_from_city": ("text", 100),
    "move_from_state": ("state", None), "move_from_country": ("country", None),
    "move_to_city": ("text", 100), "move_to_state": ("state", None),
    "eligibility_expiration_date": ("date", None),
}
ENROLLMENT: Spec = {
    "enrollment_id": ("id", 20), "enrollment_date": ("date", None),
    "withdrawal_date": ("date", None), "enrollment_type": ("enum", ENROLLMENT_TYPES),
    "school_or_project_name": ("text", 100), "mep_project_type": ("text", 30),
    "school_nces_id": ("digits", (12, 12)), "district_nces_id": ("digits", (7, 7)),
    "district_name": ("text", 60), "facility_name": ("text", 100),
    "facility_address": ("text", 105), "facility_city": ("text", 30),
    "facility_state": ("state", None), "facility_zip": ("zip", None),
    "facility_phone": ("digits", (10, 10)), "grade_level": ("enum", GRADE_LEVELS),
    "english_learner": ("bool", None), "idea_indicator": ("bool", None),
    "medical_alert": ("enum", MEDICAL_ALERTS), "priority_for_services": ("bool", None),
    "immunization_record_flag": ("bool", None), "district_of_residence": ("digits", (7, 7)),
    "residency_date": ("date", None), "residency_verification_date": ("date", None),
    "designated_graduation_school": ("digits", (12, 12)),
    "graduation_hse_indicator": ("enum", GRADUATION_HSE), "graduation_hse_date": ("date", None),
    "out_of_state_transcript": ("bool", None),
    "continuation_of_services_reason": ("enum", frozenset({"01", "02", "03"})),
    "algebra1_or_equivalent": ("bool", None), "enrollment_comment": ("text", 1000),
}
COURSE: Spec = {
    "course_title": ("text", 50), "subject_area": ("text", 50),
    "course_type": ("enum", COURSE_TYPES), "state_course_code": ("text", 30),
    "begin_academic_year": ("int", (1980, 2100)), "end_academic_year": ("int", (1980, 2100)),
    "course_section": ("enum", COURSE_SECTIONS), "term_type": ("enum", TERM_TYPES),
    "clock_hours": ("int", (0, 2000)), "grade_to_date": ("text", 3),
    "credits_attempted": ("credits", None), "credits_granted": ("credits", None),
    "final_grade": ("text", 10), "course_status": ("enum", COURSE_STATUSES),
}
ASSESSMENT: Spec = {
    "assessment_title": ("text", 55), "assessment_content": ("text", 35),
    "assessment_type": ("enum", ASSESSMENT_TYPES), "administration_month": ("month", None),
    "reporting_method": ("enum", REPORTING_METHODS), "score_result": ("text", 40),
    "interpretation": ("text", 100), "interpretation_raw": ("text", 100),
}
REQUIRED = {
    "students": ("state_student_id", "first_name", "last_name_1", "sex", "birth_date"),
    "qualifying_moves": ("qualifying_arrival_date",),
    "enrollments": ("enrollment_id", "enrollment_date"),
    "courses": ("course_title",),
    "assessments": ("assessment_title",),
}
TABLE_SPECS: dict[str, Spec] = {
    "students": STUDENT, "qualifying_moves": QUALIFYING_MOVE, "enrollments": ENROLLMENT,
    "courses": COURSE, "assessments": ASSESSMENT,
}
# The stored columns of each table, in a fixed order (the CSV headers, minus the keys).
COLUMNS: dict[str, tuple[str, ...]] = {name: tuple(spec) for name, spec in TABLE_SPECS.items()}

_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {_kind_of(value)}")
    text: str = value.strip()
    if len(text) > limit:
        raise ValueError(f"longer than {limit} characters ({len(text)})")
    if not text.isprintable():
        raise ValueError("contains control characters")
    return text


def _ident(value: Any, limit: int) -> str:
    text = _text(value, limit)
    if not text.isascii() or not text.isalnum():
        raise ValueError(f"not letters and digits ({text!r})")
    return text


def _enum(value: Any, allowed: frozenset[str]) -> str:
    if not isinstance(value, str):
        raise ValueError(f"not one of {', '.join(sorted(allowed))} (a {type(value).__name__})")
    text = value.strip()
    if text not in allowed:
        raise ValueError(f"not one of {', '.join(sorted(allowed))} ({value!r})")
    return str(text)


def _date(value: Any, _: Any = None) -> str:
    if not isinstance(value, str):
        raise ValueError(f"not a date ({value!r})")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a date ({value})") from None
    if len(value) != 10:
        raise ValueError(f"not a YYYY-MM-DD date ({value})")
    if day < EARLIEST or day.year > 2100:
        raise ValueError(f"implausible date ({value})")
    return value


def _birth_date(value: Any, _: Any = None) -> str:
    text = _date(value)
    if text > _today().isoformat():
        raise ValueError(f"in the future ({text})")
    return text


def _month(value: Any, _: Any = None) -> str:
    text = _text(value, 7)
    try:
        _date(f"{text}-01")
    except ValueError:
        raise ValueError(f"not a YYYY-MM month ({text})") from None
    return text


def _bool(value: Any, _: Any = None) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"not a yes/no value ({value!r})")


def _int(value: Any, bounds: tuple[int, int]) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"not a whole number ({value!r})")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"not a whole number ({value!r})") from None
    if not bounds[0] <= number <= bounds[1]:
        raise ValueError(f"out of range {bounds[0]}..{bounds[1]} ({number})")
    return number


def _credits(value: Any, _: Any = None) -> float:
    if isinstance(value, bool):
        raise ValueError(f"not a number ({value!r})")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"not a number ({value!r})") from None
    if not 0.0 <= number <= MAX_CREDITS:
        raise ValueError(f"out of range 0..{MAX_CREDITS} ({value})")
    if round(number, 2) != number:
        raise ValueError(f"more than two decimals ({value})")
    return number


def _state(value: Any, _: Any = None) -> str:
    if not isinstance(value, str):
        raise ValueError(f"not a USPS state code (a {type(value).__name__})")
    text = value.strip().upper()
    if text not in USPS_CODES:
        raise ValueError(f"not a USPS state code ({value!r})")
    return str(text)


def _country(value: Any, _: Any = None) -> str:
    text = value.strip().upper() if isinstance(value, str) else ""
    if len(text) != 3 or not text.isascii() or not text.isalpha():
        raise ValueError(f"not an ISO 3166 alpha-3 code ({value!r})")
    return text


def _digits(value: Any, bounds: tuple[int, int]) -> str:
    text = _text(value, 40).replace("-", "").replace(" ", "")
    if not (text.isascii() and text.isdigit() and bounds[0] <= len(text) <= bounds[1]):
        size = str(bounds[0]) if bounds[0] == bounds[1] else f"{bounds[0]} to {bounds[1]}"
        raise ValueError(f"not {size} digits ({value!r})")
    return text


def _zip(value: Any, _: Any = None) -> str:
    text = _text(value, 10)
    head, _sep, tail = text.partition("-")
    tail_ok = not tail or (len(tail) == 4 and tail.isdigit())
    if not (len(head) == 5 and head.isdigit() and tail_ok):
        raise ValueError(f"not a ZIP code ({text!r})")
    return text


def _email(value: Any, limit: int) -> str:
    text = _text(value, limit)
    local, at, domain = text.partition("@")
    if not (local and at and "." in domain):
        raise ValueError(f"not an email address ({text!r})")
    return text


CHECKS: dict[str, Callable[[Any, Any], Any]] = {
    "text": _text, "id": _ident, "enum": _enum, "date": _date, "birth_date": _birth_date,
    "month": _month, "bool": _bool, "int": _int, "credits": _credits, "state": _state,
    "country": _country, "digits": _digits, "zip": _zip, "email": _email,
}
# The JSON types each kind accepts from typed input (JSON Lines, a peer's snapshot): text
# where the schema has text, true/false for a flag, a number for a number. Text input
# (CSV) is converted by kind instead ("yes" is true, "0.5" is a number).
_NUMBER = (int, float)
TYPED: dict[str, tuple[type, ...]] = {
    kind: (bool,) if kind == "bool" else _NUMBER if kind in ("int", "credits") else (str,)
    for kind in CHECKS
}
_WANTED = {(str,): "text", (bool,): "true or false", _NUMBER: "a number"}
_COMPILED: dict[str, dict[str, tuple[Callable[[Any, Any], Any], Any, tuple[type, ...]]]] = {
    table: {name: (CHECKS[kind], arg, TYPED[kind]) for name, (kind, arg) in spec.items()}
    for table, spec in TABLE_SPECS.items()
}


def _kind_of(value: Any) -> str:
    """The JSON name of a value's type, for a reason (never the value itself)."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return f"a {type(value).__name__}"
_today: Callable[[], date] = date.today


def check_row(row: Mapping[str, Any], table: str, errors: list[tuple[str, str]],
              prefix: str = "", skip: frozenset[str] = frozenset(),
              from_text: bool = False) -> dict[str, Any]:
    """Validate one flat row of `table` (keys in `skip` are left out); append (field,
    reason) to `errors`. Typed input must give each field its JSON type (`TYPED`: a
    number where the schema has text is an error, not '123'); `from_text`: every value
    is text (a CSV cell) and is converted by the field's kind."""
    spec = _COMPILED[table]
    out: dict[str, Any] = {}
    for key, value in row.items():
        if value is None or value == "" or key in skip:
            continue
        entry = spec.get(key)
        if entry is None:
            shown = key if key.isprintable() and len(key) <= 64 else repr(key[:64])
            errors.append((prefix + shown, "unknown field"))
            continue
        check, arg, typed = entry
        # Fast paths, same results: plain printable text within its limit, exact enums.
        if check is _text and type(value) is str:
            text = value.strip()
            if len(text) <= arg and text.isprintable():
                out[key] = text
                continue
        elif check is _enum and type(value) is str and value in arg:
            out[key] = value
            continue
        if not from_text and type(value) not in typed:
            errors.append((prefix + key, f"expected {_WANTED[typed]}, got {_kind_of(value)}"))
            continue
        try:
            out[key] = check(value, arg)
        except ValueError as exc:
            errors.append((prefix + key, str(exc)))
    for key in REQUIRED[table]:
        if key not in out and row.get(key) in (None, ""):
            errors.append((prefix + key, "required"))
    return out
