"""The children every demo federation holds, planted beside the synthetic ones (issue 13
item 11: a first search that finds someone).

`statenode demo` plants them deterministically (whatever `--seed` and `--students`) and
prints, after the logins, one ready `statenode find` per example; the staff home page of
a demo node (`web.demo_examples = true`) shows the same examples as links to the search
form; the README's example search is the first one. The examples:

- **Guadalupe Hernández López**, born 2009-03-04: held by the first state exactly and by
  the second with the usual differences (accents dropped, surnames swapped, an older
  enrollment as an English learner), searched for from the last state;
- **the twins Ana Sofía and Ana Lucía Ramírez Torres**, born 2012-05-31: held by the first
  state; a search for one meets both, and neither is taken for the other.

With two states, the second state searches and only the first holds the children.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

#: the ready searches: what a person types, and what they should see
EXAMPLES: tuple[Mapping[str, Any], ...] = (
    {"key": "guadalupe",
     "title": "A child held in two other states",
     "says": "Guadalupe Hernández López, born 2009-03-04: found in both states, one record "
             "with the accents dropped and the surnames swapped.",
     "fields": {"first_name": "Guadalupe", "last_name_1": "Hernandez",
                "last_name_2": "Lopez", "birth_date": "2009-03-04"}},
    {"key": "twins",
     "title": "Twins",
     "says": "Ana Ramírez Torres, born 2012-05-31: the twin sisters Ana Sofía and Ana "
             "Lucía both come up, and neither is taken for the other.",
     "fields": {"first_name": "Ana", "last_name_1": "Ramirez", "last_name_2": "Torres",
                "birth_date": "2012-05-31"}},
)


def searcher(states: Sequence[str]) -> str:
    """The state the examples are searched from (it holds none of the children)."""
    return states[-1]


def holders(states: Sequence[str]) -> tuple[str, ...]:
    """The states holding the children: the first two, but never the searcher."""
    return tuple(s for s in states[:2] if s != searcher(states))


def _enrollment(state: str, eid: str, start: str, end: str, grade: str,
                **flags: Any) -> dict[str, Any]:
    return {"enrollment_id": eid, "enrollment_date": start, "withdrawal_date": end,
            "enrollment_type": "basic_school",
            "school_or_project_name": f"{state} Demo {'High' if grade >= '09' else 'Middle'} "
                                      "School",
            "facility_state": state, "grade_level": grade, "english_learner": False,
            "idea_indicator": False, "medical_alert": "none", "priority_for_services": False,
            "immunization_record_flag": True, "courses": [], **flags}


def _child(state: str, sid: str, first: str, middle: str, last1: str, last2: str, sex: str,
           birth: str, *, twin: bool = False, mother: tuple[str, str],
           father: tuple[str, str], enrollments: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "state_student_id": sid, "state_student_id_type": "02", "first_name": first,
        "middle_name": middle, "last_name_1": last1, "last_name_2": last2, "sex": sex,
        "birth_date": birth, "multiple_birth": twin, "birth_city": "Oaxaca",
        "birth_country": "MEX",
        "female_parent_first_name": mother[0], "female_parent_last_name": mother[1],
        "male_parent_first_name": father[0], "male_parent_last_name": father[1],
        "qualifying_moves": [{"qualifying_arrival_date": "2024-08-01", "move_from_city": "Oaxaca",
                              "move_from_country": "MEX", "move_to_state": state,
                              "eligibility_expiration_date": "2027-08-01"}],
        "enrollments": enrollments, "assessments": [],
    }


def planted(states: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """The demo children per state (JSON Lines records), always the same."""
    out: dict[str, list[dict[str, Any]]] = {s: [] for s in states}
    held = holders(states)
    if not held:
        return out
    first = held[0]
    out[first].append(_child(
        first, f"{first}DEMO0001", "Guadalupe", "", "Hernández", "López", "F", "2009-03-04",
        mother=("María", "López"), father=("José", "Hernández"),
        enrollments=[_enrollment(first, "E1", "2024-08-20", "", "10",
                                 medical_alert="chronic")]))
    for n, (given, grade) in enumerate((("Ana Sofía", "07"), ("Ana Lucía", "07")), start=2):
        first_name, middle = given.split(" ")
        out[first].append(_child(
            first, f"{first}DEMO000{n}", first_name, middle, "Ramírez", "Torres", "F",
            "2012-05-31", twin=True, mother=("Rosa", "Torres"), father=("Juan", "Ramírez"),
            enrollments=[_enrollment(first, "E1", "2024-08-20", "", grade)]))
    if len(held) > 1:
        second = held[1]
        out[second].append(_child(
            second, f"{second}DEMO0001", "Guadalupe", "", "Lopez", "Hernandez", "F",
            "2009-03-04", mother=("Maria", "Lopez"), father=("Jose", "Hernandez"),
            enrollments=[
                _enrollment(second, "E2", "2023-01-09", "2024-06-07", "09"),
                _enrollment(second, "E1", "2021-08-16", "2022-12-16", "08",
                            english_learner=True)]))
    return out


def example_command(folder: str, states: Sequence[str], example: Mapping[str, Any]) -> str:
    """The ready `statenode find` of one example, searched from `searcher(states)`."""
    options = {"first_name": "--first-name", "last_name_1": "--last-name-1",
               "last_name_2": "--last-name-2", "birth_date": "--birth-date"}
    parts = ["statenode", "find", "-c", f"{folder}/{searcher(states)}/node.toml"]
    for key, value in example["fields"].items():
        parts += [options[key], str(value)]
    return " ".join(shlex.quote(p) for p in parts)
