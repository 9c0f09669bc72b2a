"""node.federation.federated_find: the one query builder and the one federated find path."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from node.errors import BadRequest
from node.federation.federated_find import build_criteria

ROOT = Path(__file__).resolve().parents[2]


def test_builds_criteria_from_what_a_person_typed() -> None:
    c = build_criteria({"first_name": " Ana ", "last_name_1": "López", "birth_date": "",
                        "sex": "F"}, parents=["female: Rosa Díaz", " "],
                       ids=[("state_student_id", "TX123"), ("msix_id", "")])
    assert c.person.first_name == "Ana" and c.person.last_name_1 == "López"
    assert c.person.birth_date is None and c.person.sex == "F"
    assert c.parent_names == ("female: Rosa Díaz",)
    assert c.ids == (("state_student_id", "TX123"),)


@pytest.mark.parametrize(("person", "message"), [
    ({"first_name": "Ana"}, "Given name and first surname are needed"),
    ({"last_name_1": "López"}, "Given name and first surname are needed"),
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
