"""The demo's planted children and ready searches (issue 13 item 11); finding them with
real processes is tests/integration/test_first_search.py."""

from __future__ import annotations

from pathlib import Path

from config import load_config
from node.importing.demo_children import EXAMPLES, example_command, holders, planted, searcher
from node.ops.demo import _demo_settings, example_lines
from node.ops.node_folder import write_node
from protocol.records import validate_student


def test_the_children_are_always_the_same_and_import_cleanly() -> None:
    three = planted(["TX", "CA", "FL"])
    assert three == planted(["TX", "CA", "FL"])
    assert [len(three[s]) for s in ("TX", "CA", "FL")] == [3, 1, 0]
    for state, records in three.items():
        for rec in records:
            validate_student(rec, owner_state=state)  # the demo imports them: no reject
    assert {r["middle_name"] for r in three["TX"]} == {"", "Sofía", "Lucía"}
    assert three["CA"][0]["last_name_1"] == "Lopez"  # surnames swapped, accents dropped
    # two states: the second searches, the first holds every child
    two = planted(["TX", "CA"])
    assert (searcher(["TX", "CA"]), holders(["TX", "CA"])) == ("CA", ("TX",))
    assert [len(two["TX"]), len(two["CA"])] == [3, 0]


def test_the_demo_prints_two_ready_commands() -> None:
    lines = example_lines("demo", ["TX", "CA", "FL"])
    assert len(EXAMPLES) == 2 and len(lines) == 1 + 2 * len(EXAMPLES)
    assert lines[2] == ("    statenode find -c demo/FL/node.toml --first-name Guadalupe "
                        "--last-name-1 Hernandez --last-name-2 Lopez --birth-date 2009-03-04")
    spaced = {**EXAMPLES[1], "fields": {**EXAMPLES[1]["fields"], "first_name": "Ana Sofia"}}
    assert "--first-name 'Ana Sofia'" in example_command("demo", ["TX", "CA", "FL"], spaced)


def test_a_demo_node_shows_the_examples_and_has_a_contact(tmp_path: Path) -> None:
    path = write_node(tmp_path / "FL", state="FL", name="FL migrant education",
                      endpoint="http://127.0.0.1:0")
    _demo_settings(path, "FL")
    cfg = load_config(path)
    assert cfg.web.demo_examples is True
    assert (cfg.node.contact_phone, cfg.node.contact_email) == (
        "+1 555 0100", "migrant.records@fl.example")
