"""node.federation.federated_find: the one query builder and the one federated find path."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from node.errors import BadRequest
from node.federation.federated_find import build_criteria
from protocol.codec import Reader
from protocol.messages import NO_NAME, Find, Requester

ROOT = Path(__file__).resolve().parents[2]


def test_builds_criteria_from_what_a_person_typed() -> None:
    c = build_criteria({"first_name": " Ana ", "last_name_1": "López", "birth_date": "",
                        "sex": "F"}, parents=["female: Rosa Díaz", " "],
                       ids=[("state_student_id", "TX123"), ("msix_id", "")])
    assert c.person.first_name == "Ana" and c.person.last_name_1 == "López"
    assert c.person.birth_date is None and c.person.sex == "F"
    assert c.parent_names == ("female: Rosa Díaz",)
    assert c.ids == (("state_student_id", "TX123"),)


def test_an_id_alone_is_a_search() -> None:
    c = build_criteria({"first_name": "", "birth_date": "2009-03-04"},
                       ids=[("state_student_id", " tx-9000 01 ")])
    assert c.ids == (("state_student_id", "TX900001"),)
    # every release's decoder needs text in the names: the placeholder folds to nothing
    assert (c.person.first_name, c.person.last_name_1) == (NO_NAME, NO_NAME)
    assert c.person.birth_date == "2009-03-04"
    assert Find.read(Reader(Find(c, Requester("u", "staff", "s"), "enrollment").to_body(),
                            "find")).criteria == c
    named = build_criteria({"first_name": "Ana", "last_name_1": "Ruiz"},
                           ids=[("state_student_id", "CA1")])
    assert named.person.first_name == "Ana" and named.ids == (("state_student_id", "CA1"),)


@pytest.mark.parametrize(("ids", "message"), [
    ([("state_student_id", "TX 12;DROP")], "Student id must be letters and digits"),
    ([("state_student_id", "-")], "Student id must be letters and digits"),
    ([("state_student_id", "X" * 40)], "Student id must be letters and digits"),
    ([("msix_id", "123")], "or a student id"),  # another kind of id is no id search
])
def test_refuses_a_bad_student_id(ids: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        build_criteria({"birth_date": "2009-03-04"}, ids=ids)


@pytest.mark.parametrize(("person", "message"), [
    ({"first_name": "Ana"}, "Given name and first surname are needed"),
    ({"last_name_1": "López"}, "Given name and first surname are needed"),
    ({}, "or a student id from any state"),
    ({"first_name": "Ana", "last_name_1": "López", "birth_date": "31/05/2012"},
     "Birth date must be a date like 2012-05-31"),
    ({"first_name": "Ana", "last_name_1": "López", "birth_date": "２０１２-05-31"},
     "Birth date must be a date"),
    ({"first_name": "Ana", "last_name_1": "López", "sex": "female"}, "Sex must be F, M or X"),
    ({"first_name": 123, "last_name_1": "López"}, "first_name: must be text"),
    ({"first_name": "Ana", "last_name_1": "López", "shoe_size": "9"},
     "shoe_size: not a search field"),
])
def test_refuses_a_bad_field_by_name(person: dict[str, object], message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        build_criteria(person)


def _calls(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            f = node.func
            names.add(f.id if isinstance(f, ast.Name) else getattr(f, "attr", ""))
    return names


@pytest.mark.parametrize("module", ["node/web/search_pages.py", "node/control/api.py"])
def test_web_and_control_api_share_the_one_find_path(module: str) -> None:
    calls = _calls(ROOT / module)
    assert "federated_find" in calls and "build_criteria" in calls
    assert not calls & {"find_all", "Find", "FindCriteria", "Demographics"}, (
        f"{module} builds or sends a find itself instead of node.federation.federated_find")
