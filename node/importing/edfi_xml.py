"""Reading Ed-Fi Data Standard 5.x interchange XML files (docs/IMPORT.md "Ed-Fi XML").

Owns the Ed-Fi XML half of `node.importing.importer`: recognizing an interchange by its
root element and namespace (`sniff`), and streaming the files of one run with lxml's
iterparse, one top-level entity at a time (each cleared once read, so memory holds the
joined students, not the documents), into an `EdfiSet` of fragments
(`node.importing.edfi_assembly`; each record is read by
`node.importing.edfi_xml_records`). The interchanges read are Student, StudentProgram,
StudentEnrollment, StudentTranscript, StudentAssessment, StudentHealth and Contact; the
program files are read first, then the enrollment files, so the migrant students are
known before the others are read and only their records are kept; with worker processes
(large runs), each file of a group is read by a worker and its records are filed in
order, with the same result. The parser refuses a
document type declaration (so no entity is ever declared, expanded or fetched: XML
bombs and external entities are refused), never opens the network, and reports each
record at the line of its start tag (libxml2 counts lines above 65535 from a record's
first child; `_line` corrects for that). A file that is not well-formed refuses the
whole run, naming its line.
"""

from __future__ import annotations

import marshal
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import IO, Any

from lxml import etree

from node.errors import BadRequest
from node.importing import edfi_mapping as m
from node.importing.batch import ProgressMeter
from node.importing.edfi_assembly import EdfiSet, Fragment, MigrantRule, Where
from node.importing.edfi_xml_records import RecordReader
from node.importing.workers import in_order

#: interchange root element -> the top-level entities read from it
READ = {
    "InterchangeStudent": ("Student",),
    "InterchangeStudentProgram": ("StudentMigrantEducationProgramAssociation",
                                  "StudentProgramAssociation",
                                  "StudentSpecialEducationProgramAssociation"),
    "InterchangeStudentEnrollment": ("StudentSchoolAssociation",
                                     "StudentEducationOrganizationAssociation"),
    "InterchangeStudentTranscript": ("CourseTranscript",),
    "InterchangeStudentAssessment": ("StudentAssessment",),
    "InterchangeStudentHealth": ("StudentHealth",),
    "InterchangeContact": ("Contact", "StudentContactAssociation"),
}
#: the other top-level entities of those interchanges (Interchange-*.xsd), cleared unread
OTHERS = ("Person", "StudentAcademicRecord", "StudentSectionAssociation", "GraduationPlan",
          "CrisisEvent", "StudentEducationOrganizationResponsibilityAssociation",
          "StudentTransportation", "SectionReference", "RestraintEvent",
          "StudentCTEProgramAssociation", "StudentTitleIPartAProgramAssociation",
          "StudentLanguageInstructionProgramAssociation", "StudentHomelessProgramAssociation",
          "StudentNeglectedOrDelinquentProgramAssociation",
          "StudentSchoolFoodServiceProgramAssociation", "StudentSection504ProgramAssociation",
          "Student", "EducationOrganization", "AssessmentReference",
          "AssessmentItemReference", "ObjectiveAssessmentReference")
_ORDER = ("InterchangeStudentProgram", "InterchangeStudentEnrollment")
READ_SHARE = 0.8  # of the progress bar for reading the files; checking and saving: the rest
_BIG_LINE = 65535


def sniff(path: Path) -> tuple[str, str] | None:
    """(root element, namespace) of an Ed-Fi 5.x interchange file, else None (not XML,
    or XML of another kind). Reads only up to the root's start tag."""
    try:
        with path.open("rb") as fh:
            head = fh.read(512).lstrip()
            if not head.startswith(b"<"):
                return None
            fh.seek(0)
            # fed in small chunks, and the events read even after a syntax error, so a fault
            # further down cannot hide the root element (iterparse may parse a small file
            # whole before its first event)
            parser = etree.XMLPullParser(events=("start",), resolve_entities=False,
                                         no_network=True, load_dtd=False)
            while chunk := fh.read(256):
                broken = False
                try:
                    parser.feed(chunk)
                except etree.XMLSyntaxError:
                    broken = True
                for _event, el in parser.read_events():
                    ns, _, name = el.tag[1:].partition("}") if el.tag.startswith("{") else (
                        "", "", el.tag)
                    if ns.startswith(m.EDFI_NAMESPACE_PREFIX) and name.startswith(
                            "Interchange"):
                        return name, ns
                    return None
                if broken:
                    return None
    except etree.XMLSyntaxError:
        return None
    return None


def _line(el: Any) -> int:
    """The line of an element's start tag (libxml2 gives lines above 65535 as the line
    where the element's first child node ends)."""
    line = int(el.sourceline or 0)
    if line < _BIG_LINE:
        return line
    if el.text is not None:
        return line - str(el.text).count("\n")
    if len(el):
        return _line(el[0])
    return line  # an empty element: as libxml2 gives it


class _Counting:
    """A binary file whose reads advance the progress bar."""

    def __init__(self, fh: IO[bytes], meter: ProgressMeter) -> None:
        self.fh, self.meter = fh, meter

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.meter.advance(len(data) * READ_SHARE)
        return data


def _parse_file(edfi: EdfiSet, path: Path, root: str, ns: str, meter: ProgressMeter) -> None:
    names = READ[root]
    wanted = {f"{{{ns}}}{n}": n for n in names}
    tags = sorted({*wanted, *(f"{{{ns}}}{n}" for n in OTHERS)})
    reader = RecordReader(edfi, str(path), ns)
    checked = False
    with path.open("rb") as fh:
        events = etree.iterparse(_Counting(fh, meter), events=("end",), tag=tags,
                                 resolve_entities=False, no_network=True, load_dtd=False,
                                 huge_tree=False, remove_comments=True, remove_pis=True)
        try:
            for _event, el in events:
                if not checked:
                    _refuse_doctype(path, el)
                    checked = True
                parent = el.getparent()
                if parent is None or parent.getparent() is not None:
                    continue  # a nested element of the same name, part of its record
                name = wanted.get(el.tag)
                if name is not None:
                    reader.read(name, el, _line(el))
                el.clear()
                while el.getprevious() is not None:
                    del parent[0]
        except etree.XMLSyntaxError as exc:
            line = exc.lineno or (exc.position[0] if exc.position else 0)
            raise BadRequest(f"{path} line {line}: not well-formed XML ({exc.msg}); "
                             "nothing was imported") from None
    if not checked:
        with path.open("rb") as fh:  # a file without records: still refuse a DTD
            for _event, el in etree.iterparse(fh, events=("start",), resolve_entities=False,
                                              no_network=True, load_dtd=False):
                _refuse_doctype(path, el)
                break


def _refuse_doctype(path: Path, el: Any) -> None:
    info = el.getroottree().docinfo
    if info.internalDTD is not None or info.doctype or info.system_url:
        raise BadRequest(f"{path} line 1: a document type declaration (<!DOCTYPE>) is not "
                         "accepted in an Ed-Fi interchange (it could declare entities: "
                         "XML bombs, external entities); nothing was imported")


class _Collected(EdfiSet):
    """What one file gives, in order, in a worker process: fragments and problems, to be
    replayed into the run's EdfiSet (so the result is the same as reading in-process)."""

    def __init__(self, rule: MigrantRule, migrant: frozenset[str] | None) -> None:
        super().__init__(rule=rule)
        self.items: list[tuple[Any, ...]] = []
        if migrant is not None:
            self.migrant, self.final = set(migrant), True

    def add(self, fragment: Fragment) -> None:
        self.items.append(("f", fragment.kind, fragment.sid, fragment.data, fragment.where))

    def problem(self, sid: str, where: Where, element: str, reason: str) -> None:
        self.items.append(("p", sid, where, element, reason))


def _parse_packed(path: str, root: str, ns: str, rule: tuple[frozenset[str], frozenset[str]],
                  migrant: frozenset[str] | None) -> bytes:
    """One file read in a worker process; its fragments and problems as marshal bytes."""
    collected = _Collected(MigrantRule(*rule), migrant)
    _parse_file(collected, Path(path), root, ns, ProgressMeter(False, 0))
    return marshal.dumps((collected.items, collected.skipped_records))


def _replay(edfi: EdfiSet, items: list[tuple[Any, ...]]) -> None:
    for item in items:
        if item[0] == "f":
            edfi.add(Fragment(item[1], item[2], item[3], tuple(item[4])))
        else:
            edfi.problem(item[1], tuple(item[2]), item[3], item[4])


def read_edfi_files(paths: list[Path], meter: ProgressMeter, rule: MigrantRule | None = None,
                    *, pool: ProcessPoolExecutor | None = None, workers: int = 0) -> EdfiSet:
    """Read every interchange file of one run into one EdfiSet (the joins cross files):
    the program and enrollment files first, then the others, each group's files by
    `pool`'s worker processes when given (one file each), with the same result."""
    kinds = []
    for path in paths:
        found = sniff(path)
        if found is None:
            raise BadRequest(f"{path}: not an Ed-Fi Data Standard 5.x interchange (its root "
                             f"element must be Interchange… in namespace "
                             f"{m.EDFI_NAMESPACE_PREFIX}x)")
        root, ns = found
        if root not in READ:
            raise BadRequest(f"{path}: {root} is not read by this import (read: "
                             f"{', '.join(sorted(READ))})")
        kinds.append((root, ns, path))
    rule = rule or MigrantRule()
    edfi = EdfiSet(rule=rule)
    first = [k for k in kinds if k[0] in _ORDER]
    first.sort(key=lambda k: _ORDER.index(k[0]))
    for group in (first, [k for k in kinds if k[0] not in _ORDER]):
        if group is not first:
            edfi.finish_migrants()
        if pool is None or len(group) < 2:
            for root, ns, path in group:
                _parse_file(edfi, path, root, ns, meter)
            continue
        known = frozenset(edfi.migrant) if edfi.final else None
        jobs = ((str(path), root, ns, (rule.program_types, rule.characteristics), known)
                for root, ns, path in group)
        for (_root, _ns, path), (items, skipped) in zip(
                group, in_order(pool, _parse_packed, jobs, workers), strict=True):
            _replay(edfi, items)
            edfi.skipped_records += skipped
            meter.advance(path.stat().st_size * READ_SHARE)
    return edfi
