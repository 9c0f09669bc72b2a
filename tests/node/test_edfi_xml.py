"""Importing Ed-Fi interchange XML (node/importing/edfi_xml.py and its mapping).

The shared sample (the Ed-Fi Alliance's Grand Bend district plus the project's migrant
enrollment supplement) is imported by real `statenode import` processes; what must be
stored is counted here independently, with ElementTree. Assessments, health flags,
transcripts with partial credits and the statenode extension are tested on the small
files of the same shape in tests/node/data/edfi/ (no migrant student of the sample has
them).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from node.importing.batch import ProgressMeter
from node.importing.edfi_xml import read_edfi_files
from node.importing.importer import import_files
from node.store.database import Store
from tests.node.edfi_helpers import sample_dir, sample_files

NS = {"e": "http://ed-fi.org/5.2.0"}
SMALL = Path(__file__).resolve().parent / "data" / "edfi"
ORDINALS = ["First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth",
            "Ninth", "Tenth", "Eleventh", "Twelfth"]


def run_import(node_dir: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "node", "import", "-c",
                           str(node_dir / "node.toml"), "--no-progress", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def expected_from_sample() -> dict[str, dict[str, Any]]:
    """What the sample says about each migrant student, read with ElementTree."""
    xml = sample_dir() / "xml"
    out: dict[str, dict[str, Any]] = {}
    for el in ET.parse(xml / "StudentProgram.xml").getroot().iterfind(
            "e:StudentMigrantEducationProgramAssociation", NS):
        sid = el.findtext("e:StudentReference/e:StudentIdentity/e:StudentUniqueId", "", NS)
        out[sid] = {"arrival": el.findtext("e:LastQualifyingMove", "", NS),
                    "priority": el.findtext("e:PriorityForServices", "", NS) in ("1", "true")}
    for el in ET.parse(xml / "Student.xml").getroot().iterfind("e:Student", NS):
        sid = el.findtext("e:StudentUniqueId", "", NS)
        if sid in out:
            out[sid]["first_name"] = el.findtext("e:Name/e:FirstName", "", NS)
            out[sid]["birth_date"] = el.findtext("e:BirthData/e:BirthDate", "", NS)
    supplement = ET.parse(xml / "StudentEnrollment-migrant-supplement.xml").getroot()
    for el in supplement.iterfind("e:StudentSchoolAssociation", NS):
        sid = el.findtext("e:StudentReference/e:StudentIdentity/e:StudentUniqueId", "", NS)
        grade = el.findtext("e:EntryGradeLevel", "", NS).split("#")[1]
        out[sid]["grade"] = ("KG" if grade == "Kindergarten"
                             else f"{ORDINALS.index(grade.split()[0]) + 1:02d}")
        out[sid]["entry"] = el.findtext("e:EntryDate", "", NS)
    for el in supplement.iterfind("e:StudentEducationOrganizationAssociation", NS):
        sid = el.findtext("e:StudentReference/e:StudentIdentity/e:StudentUniqueId", "", NS)
        out[sid]["sex"] = el.findtext("e:Sex", "", NS).split("#")[1][0]
        out[sid]["english_learner"] = el.find("e:LimitedEnglishProficiency", NS) is not None
    contacts = ET.parse(xml / "Contact.xml").getroot()
    names = {c.get("id"): c.findtext("e:Name/e:FirstName", "", NS)
             for c in contacts.iterfind("e:Contact", NS)}
    parents: dict[tuple[str, str], list[tuple[bool, int, str]]] = {}
    for order, el in enumerate(contacts.iterfind("e:StudentContactAssociation", NS)):
        sid = el.findtext("e:StudentReference/e:StudentIdentity/e:StudentUniqueId", "", NS)
        relation = el.findtext("e:Relation", "", NS).split("#")[1]
        if sid in out and relation in ("Mother", "Father"):
            ref = el.find("e:ContactReference", NS)
            assert ref is not None
            primary = el.findtext("e:PrimaryContactStatus", "", NS) == "true"
            parents.setdefault((sid, relation), []).append(
                (not primary, order, names[ref.get("ref")]))
    for (sid, relation), found in parents.items():  # the primary contact first
        out[sid][relation] = min(found)[2]
    return out


def test_sample_stores_exactly_its_migrant_students(node_dir: Path) -> None:
    expected = expected_from_sample()
    assert len(expected) == 275
    db = node_dir / "node.db"
    done = run_import(node_dir, *sample_files())
    assert done.returncode == 0, done.stderr
    assert "275 valid students (275 new, 0 changed, 0 unchanged), 0 rows rejected" in done.stdout
    students_in_sample = len(ET.parse(sample_dir() / "xml" / "Student.xml").getroot().findall(
        "e:Student", NS))
    assert f"skipped {students_in_sample - 275} Ed-Fi students without a migrant" in done.stdout
    stored = {r[0]: r for r in rows(db, "SELECT state_student_id, first_name, birth_date, sex, "
                                        "female_parent_first_name, male_parent_first_name "
                                        "FROM students")}
    assert set(stored) == set(expected)
    moves = dict(rows(db, "SELECT s.state_student_id, m.qualifying_arrival_date FROM "
                          "qualifying_moves m JOIN students s ON s.id = m.student_id"))
    enrollments = {r[0]: r[1:] for r in rows(
        db, "SELECT s.state_student_id, e.enrollment_date, e.grade_level, e.english_learner, "
            "e.priority_for_services FROM enrollments e JOIN students s ON s.id = e.student_id")}
    assert len(moves) == len(enrollments) == 275
    for sid, want in expected.items():
        _sid, first, birth, sex, mother, father = stored[sid]
        assert (first, birth, sex) == (want["first_name"], want["birth_date"], want["sex"]), sid
        assert (mother, father) == (want.get("Mother"), want.get("Father")), sid
        assert moves[sid] == want["arrival"], sid
        entry, grade, learner, priority = enrollments[sid]
        assert (entry, grade) == (want["entry"], want["grade"]), sid
        assert bool(learner) is want["english_learner"], sid
        assert bool(priority) is want["priority"], sid
    assert sum(1 for w in expected.values() if w["english_learner"]) == sum(
        1 for e in enrollments.values() if e[2])

    again = run_import(node_dir, *sample_files())
    assert again.returncode == 0, again.stderr
    assert "275 valid students (0 new, 0 changed, 275 unchanged)" in again.stdout
    assert rows(db, "SELECT DISTINCT record_version FROM students") == [(1,)]


def test_small_files_assessments_health_transcripts_extension(tmp_path: Path) -> None:
    with Store(tmp_path / "node.db") as store:
        report = import_files(store, sorted(SMALL.glob("*.xml")), owner_state="TX")
        assert (report.students, report.rejects) == (2, ())
        assert dict(report.skipped)[
            "Ed-Fi students without a migrant education program association "
            "(not migrant children)"] == 1
        maria, jose = store.get_student("TX900001"), store.get_student("TX900002")
        assert (maria["last_name_2"], maria["birth_country"], maria["sex"]) == (
            "Barreto", "MEX", "F")
        assert (maria["female_parent_first_name"], maria["male_parent_last_name"],
                maria["parent1_phone"], maria["parent1_email"]) == (
            "Judith", "Hernández", "9565550100", "judith@example.org")
        assert maria["qualifying_moves"] == [{
            "qualifying_arrival_date": "2023-07-15", "eligibility_expiration_date": "2026-07-14",
            "move_from_city": "Dover", "move_from_state": "FL", "move_to_city": "Harlingen",
            "move_to_state": "TX"}]
        (enr,) = maria["enrollments"]
        assert (enr["priority_for_services"], enr["continuation_of_services_reason"],
                enr["english_learner"], enr["immunization_record_flag"],
                enr["medical_alert"]) == (True, "01", True, True, "chronic")
        (course,) = enr["courses"]
        assert (course["credits_granted"], course["clock_hours"], course["course_status"],
                course["begin_academic_year"], course["term_type"]) == (
            1.0, 120, "completed", 2023, "full_year")
        (test,) = maria["assessments"]
        assert (test["reporting_method"], test["score_result"], test["interpretation"],
                test["administration_month"]) == ("scale_score", "1544", "Meets Standard",
                                                  "2024-04")
        # José: sex from BirthSex; his program ended before his enrollment, so it is a
        # residency-only enrollment of its own; a partial-credit course in progress
        assert jose["sex"] == "M" and jose["qualifying_moves"] == [
            {"qualifying_arrival_date": "2022-08-01"}]
        program, school = jose["enrollments"]
        assert (program["enrollment_type"], program["priority_for_services"]) == (
            "residency_only", False)
        assert school["immunization_record_flag"] is False  # an exemption, no date
        (english,) = school["courses"]
        assert (english["credits_granted"], english["grade_to_date"],
                english["course_status"]) == (0.5, "B", "in_progress")


def test_worker_processes_read_the_same(tmp_path: Path) -> None:
    """Large runs read each file in a worker process; the records are the same."""
    results = []
    for name, options in (("alone", {"workers": 0}), ("pool", {"workers": 2,
                                                               "parallel_min": 1})):
        with Store(tmp_path / f"{name}.db") as store:
            report = import_files(store, sample_files(), owner_state="TX",
                                  write_rejects_files=False, **options)  # type: ignore[arg-type]
            results.append((report.students, report.skipped, store.call(lambda db: db.execute(
                "SELECT state_student_id, row_hash FROM students ORDER BY 1").fetchall())))
    assert results[0] == results[1] and results[0][0] == 275


def test_rule_in_node_toml_keeps_a_flagged_student_who_is_then_rejected(
        tmp_path: Path, node_dir: Path) -> None:
    toml = node_dir / "node.toml"
    toml.write_text(toml.read_text() + '\n[edfi]\nmigrant_characteristics = ["Migratory"]\n')
    folder = tmp_path / "in"
    shutil.copytree(SMALL, folder)
    done = run_import(node_dir, *sorted(folder.glob("*.xml")))
    assert done.returncode == 3, done.stderr
    assert "2 valid students" in done.stdout
    assert (f"{folder / 'Student.xml'} line 32: StudentMigrantEducationProgramAssociation/"
            "QualifyingArrivalDate (qualifying_moves): required: a migrant child's record has "
            "at least one qualifying move") in done.stderr


def test_bad_record_rejected_at_its_file_line_and_element(tmp_path: Path,
                                                          node_dir: Path) -> None:
    folder = tmp_path / "in"
    shutil.copytree(SMALL, folder)
    enrollment = folder / "StudentEnrollment.xml"
    enrollment.write_text(enrollment.read_text().replace("#Tenth grade", "#Grade 14"))
    done = run_import(node_dir, *sorted(folder.glob("*.xml")))
    assert done.returncode == 3
    assert "1 valid students" in done.stdout
    line = next(i for i, text in enumerate(enrollment.read_text().splitlines(), 1)
                if "TX900002" in text) - 1  # the <StudentSchoolAssociation> start tag
    assert (f"{enrollment} line {line}: StudentSchoolAssociation/EntryGradeLevel: no MSIX "
            "code for GradeLevelDescriptor 'Grade 14'") in done.stderr
    assert rows(node_dir / "node.db", "SELECT state_student_id FROM students") == [
        ("TX900001",)]
    rejects = (folder / "StudentEnrollment.xml.rejects.csv").read_text().splitlines()
    assert rejects[0] == "line,field,reason" and rejects[1].startswith(f"{line},")


def test_malformed_file_refuses_the_whole_run_naming_the_line(tmp_path: Path,
                                                              node_dir: Path) -> None:
    folder = tmp_path / "in"
    shutil.copytree(SMALL, folder)
    contact = folder / "Contact.xml"
    lines = contact.read_text().splitlines()
    lines[9] = lines[9].replace("</Contact>", "</Contac>")
    contact.write_text("\n".join(lines) + "\n")
    done = run_import(node_dir, *sorted(folder.glob("*.xml")))
    assert done.returncode == 1
    assert f"{contact} line 10: not well-formed XML" in done.stderr
    assert rows(node_dir / "node.db", "SELECT count(*) FROM students") == [(0,)]


@pytest.mark.parametrize("doctype", [
    '<!DOCTYPE InterchangeStudent [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;'
    '&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>',
    '<!DOCTYPE InterchangeStudent [<!ENTITY secret SYSTEM "file:///etc/passwd">]>',
    '<!DOCTYPE InterchangeStudent SYSTEM "http://127.0.0.1:9/evil.dtd">',
])
def test_entities_and_document_types_are_refused(tmp_path: Path, node_dir: Path,
                                                 doctype: str) -> None:
    text = (SMALL / "Student.xml").read_text()
    name = "&c;" if "&b;" in doctype else "&secret;" if "secret" in doctype else "Ana"
    text = text.replace('<?xml version="1.0" encoding="UTF-8"?>',
                        f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}', 1)
    text = text.replace("<FirstName>María</FirstName>", f"<FirstName>{name}</FirstName>")
    bomb = tmp_path / "Student.xml"
    bomb.write_text(text)
    program = tmp_path / "StudentProgram.xml"
    shutil.copy(SMALL / "StudentProgram.xml", program)
    done = run_import(node_dir, program, bomb, "--format", "edfi-xml")
    assert done.returncode == 1
    assert f"{bomb} line 1: a document type declaration (<!DOCTYPE>) is not accepted" in (
        done.stderr)
    assert "root:" not in done.stdout + done.stderr and "aaaa" not in done.stderr
    assert rows(node_dir / "node.db", "SELECT count(*) FROM students") == [(0,)]


def test_auto_detection_and_other_xml(tmp_path: Path, node_dir: Path) -> None:
    other = tmp_path / "other.xml"
    other.write_text('<?xml version="1.0"?>\n<students><student/></students>\n')
    done = run_import(node_dir, other)
    assert done.returncode == 1
    assert f"{other}: not an Ed-Fi Data Standard 5.x interchange" in done.stderr
    renamed = tmp_path / "export.dat"
    shutil.copy(SMALL / "StudentProgram.xml", renamed)
    students = tmp_path / "students.xml"
    shutil.copy(SMALL / "Student.xml", students)
    enrollment = tmp_path / "enrollment.export"
    shutil.copy(SMALL / "StudentEnrollment.xml", enrollment)
    done = run_import(node_dir, "--format", "edfi-xml", renamed, students, enrollment)
    assert done.returncode == 0, done.stderr
    assert "2 valid students" in done.stdout


def test_line_numbers_past_65535_are_those_of_the_start_tags() -> None:
    contact = sample_dir() / "xml" / "Contact.xml"
    starts = [i for i, text in enumerate(contact.read_text().splitlines(), 1)
              if "<StudentContactAssociation>" in text]
    assert starts[-1] > 70_000
    edfi = read_edfi_files([sample_dir() / "xml" / "StudentProgram.xml", contact],
                           ProgressMeter(False, 0))
    got = sorted(f.where[1] for fs in edfi.parts.values() for f in fs
                 if f.kind == "contact_link")
    assert got and set(got) <= set(starts)
    assert any(line > 65_535 for line in got)
