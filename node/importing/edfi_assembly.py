"""Joining Ed-Fi records into our nested students (docs/IMPORT.md "Ed-Fi: the mapping").

Owns what the interchange XML reader (`node.importing.edfi_xml`) and the ODS/API pull
(`node.importing.edfi_resources`) have in common once a record is read: the fragments
each Ed-Fi entity gives (a Student, its StudentEducationOrganizationAssociations,
StudentMigrantEducationProgramAssociations, StudentSchoolAssociations, CourseTranscripts,
StudentAssessments, StudentHealth, StudentContactAssociations and Contacts), collected in
an `EdfiSet` by student with where each came from (file, line and element, or resource
and id); which students are migrant children (a migrant education program association,
or a rule of `[edfi]` in node.toml) and how many others were skipped; and `assemble`,
which joins one student's fragments into the nested record `protocol.records` validates,
with a map from each field path back to the Ed-Fi record it came from, so every reject
names the file, line and element (or resource and id) to fix (the element of each of
our fields is `node.importing.edfi_mapping.SOURCES`). The joining rules
(qualifying moves from program associations, courses attached to enrollments, parents
from contact associations) are documented in docs/IMPORT.md. Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from node.importing.edfi_mapping import FEMALE_PARENT, MALE_PARENT

# (file or API resource, line (0 for the API), Ed-Fi element or "id <resource id>")
Where = tuple[str, int, str]
Spots = dict[str, tuple[Where, str]]  # field-path prefix or student field -> (where, entity)

#: kinds of fragment, each the Ed-Fi entity it comes from
ENTITIES = {
    "student": "Student", "seoa": "StudentEducationOrganizationAssociation",
    "smepa": "StudentMigrantEducationProgramAssociation",
    "program": "StudentProgramAssociation",
    "sepa": "StudentSpecialEducationProgramAssociation",
    "ssa": "StudentSchoolAssociation", "transcript": "CourseTranscript",
    "assessment": "StudentAssessment", "health": "StudentHealth",
    "contact_link": "StudentContactAssociation", "contact": "Contact",
}

@dataclass(slots=True)
class Fragment:
    """One Ed-Fi record's contribution to one student (`data` holds our field names, plus
    join keys starting with `_`)."""

    kind: str
    sid: str
    data: dict[str, Any]
    where: Where


@dataclass(frozen=True)
class MigrantRule:
    """Who is a migrant child besides those with a migrant education program association
    (`[edfi]` in node.toml): a general StudentProgramAssociation of one of these
    ProgramTypeDescriptor codes, or one of these StudentCharacteristicDescriptor codes on
    a StudentEducationOrganizationAssociation (codes compared case-insensitively)."""

    program_types: frozenset[str] = frozenset()
    characteristics: frozenset[str] = frozenset()


@dataclass
class EdfiSet:
    """Every fragment read in one run, by student."""

    rule: MigrantRule = field(default_factory=MigrantRule)
    students: dict[str, Fragment] = field(default_factory=dict)
    parts: dict[str, list[Fragment]] = field(default_factory=dict)
    contacts: dict[str, Fragment] = field(default_factory=dict)  # by id attribute and unique id
    migrant: set[str] = field(default_factory=set)
    # (where, field, reason) of records that could not be read, by student ("" = none)
    problems: dict[str, list[tuple[Where, str, str]]] = field(default_factory=dict)
    final: bool = False
    skipped: set[str] = field(default_factory=set)  # Student ids that are not migrant
    skipped_records: int = 0  # other records of students who are not migrant

    def problem(self, sid: str, where: Where, element: str, reason: str) -> None:
        self.problems.setdefault(sid, []).append((where, element, reason))

    def add(self, fragment: Fragment) -> None:
        """File one fragment. Once `final` (the migrant students are known), a record of
        another student is only counted; a second Student of one id is a problem."""
        sid = fragment.sid
        kind = fragment.kind
        if kind == "contact":
            found = self.problems.get("")
            if found and found[-1][0] == fragment.where:  # it had a problem of its own
                fragment.data["_bad"] = True
            for key in fragment.data["_keys"]:
                self.contacts.setdefault(key, fragment)
            return
        if self.final and sid not in self.migrant:
            if kind == "student":
                self.skipped.add(sid)
            else:
                self.skipped_records += 1
            return
        if kind == "student":
            first = self.students.get(sid)
            if first is not None:
                f, line, _el = first.where
                self.problem(sid, fragment.where, "Student/StudentUniqueId",
                             f"duplicate of {_short(f)} line {line} ({sid})")
                return
            self.students[sid] = fragment
            return
        if kind == "smepa":
            self.migrant.add(sid)
        elif kind == "program" and fragment.data.get("_type") in self.rule.program_types:
            self.migrant.add(sid)
        elif kind == "seoa" and self.rule.characteristics & fragment.data.get(
                "_characteristics", frozenset()):
            self.migrant.add(sid)
        self.parts.setdefault(sid, []).append(fragment)

    def finish_migrants(self) -> None:
        """The migrant students are known: forget (and count) the records of the others
        read so far; `add` keeps only theirs from now on."""
        self.final = True
        for sid in [s for s in self.students if s not in self.migrant]:
            self.skipped.add(sid)
            del self.students[sid]
        for sid in [s for s in self.parts if s not in self.migrant]:
            self.skipped_records += len(self.parts.pop(sid))
        for sid in [s for s in self.problems if s and s not in self.migrant]:
            del self.problems[sid]

    def migrant_ids(self) -> Iterator[str]:
        """Migrant students in the order of their Student records, then those with
        records but no Student record (a problem of theirs)."""
        yield from self.students
        yield from sorted(self.migrant - self.students.keys())


def _short(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _overlaps(a_start: str, a_end: str | None, b_start: str, b_end: str | None) -> bool:
    return a_start <= (b_end or "9999") and b_start <= (a_end or "9999")


def _sex(seoas: list[Fragment], student: Fragment, out: dict[str, Any], spots: Spots,
         problems: list[tuple[Where, str, str]]) -> None:
    given = [f for f in seoas if f.data.get("sex")]
    values = {f.data["sex"] for f in given}
    if len(values) > 1:
        shown = ", ".join(f"{_short(f.where[0])} line {f.where[1]}: {f.data['sex']}"
                          if f.where[1] else f"{f.where[2]}: {f.data['sex']}" for f in given)
        problems.append((given[0].where, "StudentEducationOrganizationAssociation/Sex",
                         f"differs between the student's associations ({shown})"))
    if given:
        out["sex"] = given[0].data["sex"]
        spots["sex"] = (given[0].where, "seoa")
    elif student.data.get("_birth_sex"):
        out["sex"] = student.data["_birth_sex"]


def _parents(links: list[Fragment], contacts: dict[str, Fragment], out: dict[str, Any],
             spots: Spots, problems: list[tuple[Where, str, str]]) -> None:
    found: list[tuple[Fragment, Fragment]] = []
    for link in links:
        contact = contacts.get(link.data["_contact"])
        if contact is None:
            problems.append((link.where, "StudentContactAssociation/ContactReference",
                             f"no Contact {link.data['_contact']!r} in this import"))
            continue
        if contact.data.get("_bad"):
            f, line, element = contact.where
            shown = f"{_short(f)} line {line}" if line else f"{f} {element}"
            problems.append((link.where, "StudentContactAssociation/ContactReference",
                             f"its Contact {link.data['_contact']!r} was rejected ({shown})"))
            continue
        found.append((link, contact))
    # priority: ContactPriority (none last), then the primary contact, then input order
    found.sort(key=lambda lc: (lc[0].data.get("_priority") is None,
                               lc[0].data.get("_priority") or 0,
                               not lc[0].data.get("_primary", False)))

    def pick(relations: tuple[str, ...], sex: str) -> tuple[Fragment, Fragment] | None:
        for rel in relations:
            for link, contact in found:
                if link.data.get("_relation") == rel:
                    return link, contact
        for link, contact in found:
            if link.data.get("_guardian") and contact.data.get("_sex") == sex:
                return link, contact
        return None

    for prefix, relations, sex in (("female_parent", FEMALE_PARENT, "F"),
                                   ("male_parent", MALE_PARENT, "M")):
        chosen = pick(relations, sex)
        if chosen is not None:
            link, contact = chosen
            for name in ("first_name", "last_name"):
                if contact.data.get(name):
                    out[f"{prefix}_{name}"] = contact.data[name]
                    spots[f"{prefix}_{name}"] = (contact.where, "contact")
    for number, (_link, contact) in enumerate(found[:2], start=1):
        for kind in ("email", "phone"):
            if contact.data.get(kind):
                out[f"parent{number}_{kind}"] = contact.data[kind]
                spots[f"parent{number}_{kind}"] = (contact.where, "contact")


def _enrollments(parts: dict[str, list[Fragment]], spots: Spots,
                 problems: list[tuple[Where, str, str]]) -> list[dict[str, Any]]:
    seoas, programs = parts.get("seoa", []), parts.get("smepa", [])
    flags: dict[str, Any] = {}
    if any(f.data.get("english_learner") for f in seoas):
        flags["english_learner"] = True
    elif any(f.data.get("english_learner") is False for f in seoas):
        flags["english_learner"] = False
    ideas = [f.data["_idea"] for f in parts.get("sepa", []) if "_idea" in f.data]
    if ideas:
        flags["idea_indicator"] = any(ideas)
    health = [f.data["_immunized"] for f in parts.get("health", [])]
    if health:
        flags["immunization_record_flag"] = any(health)
    rows: list[tuple[tuple[Any, ...], Fragment, dict[str, Any]]] = []
    for ssa in parts.get("ssa", []):
        d = ssa.data
        enr = {k: v for k, v in d.items() if not k.startswith("_")}
        enr["enrollment_id"] = f"S{d['_school']}E{d.get('enrollment_date', '').replace('-', '')}"
        enr.setdefault("enrollment_type", "basic_school")
        rows.append(((d.get("enrollment_date", ""), d["_school"]), ssa, enr))
    served: set[int] = set()
    for enr_key, _ssa, enr in rows:
        start, end = enr_key[0], enr.get("withdrawal_date")
        for i, p in enumerate(programs):
            if _overlaps(start, end, p.data["_begin"], p.data.get("_end")):
                served.add(i)
                _program_fields(enr, p.data)
    for i, p in enumerate(programs):  # a program association with no enrollment it covers
        if i in served or not p.data.get("_begin"):
            continue
        enr = {"enrollment_id": f"M{p.data['_edorg']}E{p.data['_begin'].replace('-', '')}",
               "enrollment_date": p.data["_begin"], "enrollment_type": "residency_only"}
        if p.data.get("_end"):
            enr["withdrawal_date"] = p.data["_end"]
        if p.data.get("_program_name"):
            enr["school_or_project_name"] = p.data["_program_name"]
        _program_fields(enr, p.data)
        rows.append(((p.data["_begin"], p.data["_edorg"]), p, enr))
    rows.sort(key=lambda r: r[0])
    out = []
    for i, (_key, frag, enr) in enumerate(rows):
        for k, v in flags.items():
            enr.setdefault(k, v)
        enr["courses"] = []
        spots[f"enrollments[{i}]."] = (frag.where, frag.kind)
        out.append(enr)
    _courses(parts.get("transcript", []), rows, out, spots, problems)
    return out


def _program_fields(enr: dict[str, Any], program: dict[str, Any]) -> None:
    if program.get("priority_for_services") is not None:
        enr["priority_for_services"] = bool(enr.get("priority_for_services")) or bool(
            program["priority_for_services"])
    for name in ("continuation_of_services_reason", "residency_date"):
        if program.get(name):
            enr.setdefault(name, program[name])


def _courses(transcripts: list[Fragment], rows: list[tuple[tuple[Any, ...], Fragment,
                                                          dict[str, Any]]],
             out: list[dict[str, Any]], spots: Spots,
             problems: list[tuple[Where, str, str]]) -> None:
    """Each course goes to the enrollment at its school (the academic record's education
    organization) that began last before the end of its school year; else to the latest
    enrollment anywhere that began before then; else to the first enrollment."""
    ordered = sorted(transcripts, key=lambda t: (t.data.get("_school_year", 0),
                                                 t.data.get("_edorg", ""),
                                                 t.data.get("state_course_code", ""),
                                                 t.data.get("course_title", "")))
    for t in ordered:
        if not out:
            problems.append((t.where, "CourseTranscript/StudentAcademicRecordReference",
                             "the student has no StudentSchoolAssociation (or migrant program "
                             "association) to attach the course to"))
            continue
        year_end = f"{t.data.get('_school_year', 9999):04d}-06-30"
        began = [i for i, r in enumerate(rows) if r[0][0] <= year_end]
        here = [i for i in began if str(rows[i][1].data.get("_school")) == t.data.get("_edorg")]
        target = (here or began or [0])[-1]
        courses = out[target]["courses"]
        spots[f"enrollments[{target}].courses[{len(courses)}]."] = (t.where, t.kind)
        courses.append({k: v for k, v in t.data.items() if not k.startswith("_")})


def partial_awards(d: dict[str, Any], awards: list[dict[str, Any]]) -> None:
    """A course without EarnedCredits takes the sum of its partial awards' credits; one
    not completed takes the latest award's letter grade as its grade to date."""
    if not awards:
        return
    if "credits_granted" not in d:
        total = sum(a.get("credits", 0.0) for a in awards)
        d["credits_granted"] = round(total, 3)
    if d.get("course_status") != "completed":
        graded = sorted((a["date"], a["grade"]) for a in awards if a.get("date") and
                        a.get("grade"))
        if graded:
            d["grade_to_date"] = graded[-1][1]


def assemble(edfi: EdfiSet, sid: str) -> tuple[dict[str, Any], Spots,
                                                list[tuple[Where, str, str]]]:
    """One migrant student's nested record, where each part came from, and the problems
    found while joining (plus those met while reading its records)."""
    problems = list(edfi.problems.get(sid, []))
    by_kind: dict[str, list[Fragment]] = {}
    for frag in edfi.parts.get(sid, []):
        by_kind.setdefault(frag.kind, []).append(frag)
    student = edfi.students.get(sid)
    spots: Spots = {}
    if student is None:
        first = min((f for fs in by_kind.values() for f in fs), key=lambda f: f.where)
        problems.append((first.where, "StudentReference",
                         f"no Student {sid!r} in this import (the Student interchange or "
                         "resource)"))
        spots[""] = (first.where, first.kind)
        return {"state_student_id": sid}, spots, problems
    spots[""] = (student.where, "student")
    out: dict[str, Any] = {k: v for k, v in student.data.items() if not k.startswith("_")}
    out["state_student_id"] = sid
    _sex(by_kind.get("seoa", []), student, out, spots, problems)
    _parents(by_kind.get("contact_link", []), edfi.contacts, out, spots, problems)
    moves: list[dict[str, Any]] = []
    for p in sorted(by_kind.get("smepa", []), key=lambda f: (f.data.get("_begin", ""),
                                                            f.data.get("_edorg", ""))):
        move = {k: v for k, v in p.data.items()
                if not k.startswith("_") and k not in ("priority_for_services",
                                                      "continuation_of_services_reason",
                                                      "residency_date")}
        if move not in moves:
            spots[f"qualifying_moves[{len(moves)}]."] = (p.where, "smepa")
            moves.append(move)
    out["qualifying_moves"] = moves
    out["enrollments"] = _enrollments(by_kind, spots, problems)
    tests = sorted(by_kind.get("assessment", []),
                   key=lambda f: (f.data.get("_date", ""), f.data.get("assessment_title", ""),
                                  f.data.get("_id", "")))
    out["assessments"] = []
    for i, t in enumerate(tests):
        spots[f"assessments[{i}]."] = (t.where, "assessment")
        out["assessments"].append({k: v for k, v in t.data.items() if not k.startswith("_")})
    return out, spots, problems


def locate(path: str, spots: Spots) -> tuple[Where, str, str]:
    """Where a field path of a validation error came from: (where, entity kind, our
    field name)."""
    if path in spots:
        where, kind = spots[path]
        return where, kind, path
    best = max((p for p in spots if p.endswith(".") and path.startswith(p)), key=len,
               default="")
    where, kind = spots[best]
    return where, kind, path[len(best):]


def table_of(path: str) -> str:
    """The table a field path belongs to (`enrollments[0].courses[1].x` -> `courses`)."""
    head = path.rsplit(".", 1)[0] if "." in path else ""
    last = head.rsplit(".", 1)[-1].split("[", 1)[0]
    return last or "students"
