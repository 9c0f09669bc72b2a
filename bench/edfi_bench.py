"""Ed-Fi XML import throughput, next to the JSON Lines import of the same students.

Generates N synthetic migrant students (default 100,000; node/importing/synthetic.py),
writes them as an Ed-Fi Data Standard 5.2 interchange set (Student, StudentProgram with
a StudentMigrantEducationProgramAssociation each, StudentEnrollment, StudentTranscript,
StudentAssessment, Contact) and as JSON Lines, then imports each into a fresh store in
its own process (`statenode import`'s path: `import_files`, no progress bar) and prints
time, rows written, rows/s, students/s, peak resident memory and the ratio of the two.
Also imports the shared Ed-Fi sample (shared/edfi-samples) if it is there.

    PYTHONPATH=. python bench/edfi_bench.py [--count N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("students", "qualifying_moves", "enrollments", "courses", "assessments", "match_keys")
HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="http://ed-fi.org/5.2.0" '
        'xmlns:msix="urn:statenode:ed-fi-extension:msix:1">\n')
GRADES = {"IT": "Infant/toddler", "PR": "Early Education", "PK": "Preschool/Prekindergarten",
          "TK": "Transitional Kindergarten", "KG": "Kindergarten", "UG": "Ungraded",
          "13": "Grade 13", "OS": "Out of school",
          **{f"{i:02d}": f"{w} grade" for i, w in enumerate(
              ("First Second Third Fourth Fifth Sixth Seventh Eighth Ninth Tenth Eleventh "
               "Twelfth").split(), start=1)}}
TERMS = {"full_year": "Year Round", "semester": "Fall Semester", "trimester": "First Trimester",
         "quarter": "First Quarter", "summer": "Summer Semester", "other": "Other"}
STATUS = {"completed": "Pass", "in_progress": "Incomplete", "withdrawn": "Withdrawn"}
METHODS = {"scale_score": "Scale score", "percentile": "Percentile", "percent": "Percent",
           "letter_grade": "Letter grade/mark", "pass_fail": "Pass-fail",
           "proficiency_level": "Achievement/proficiency level", "other": "Raw score"}


def _e(value: Any) -> str:
    return escape(str(value))


def _ref(sid: str) -> str:
    return (f"<StudentReference><StudentIdentity><StudentUniqueId>{_e(sid)}</StudentUniqueId>"
            "</StudentIdentity></StudentReference>")


def _edorg(tag: str, value: Any) -> str:
    return (f"<{tag}><EducationOrganizationIdentity><EducationOrganizationId>{value}"
            f"</EducationOrganizationId></EducationOrganizationIdentity></{tag}>")


def _school(enr: dict[str, Any]) -> int:
    return int(enr.get("school_nces_id", "0")[-9:] or 0) or 255901001


def write_edfi(students: list[dict[str, Any]], folder: Path) -> list[Path]:
    """The students as six interchange files (one record per line group, as exports are)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {name: (folder / f"{name}.xml").open("w", encoding="utf-8") for name in (
        "Student", "StudentProgram", "StudentEnrollment", "StudentTranscript",
        "StudentAssessment", "Contact")}
    for name, fh in files.items():
        fh.write(HEAD.format(root=f"Interchange{name}"))
    contacts: list[str] = []
    for s in students:
        sid = s["state_student_id"]
        name = "".join(f"<{t}>{_e(s[k])}</{t}>" for k, t in (
            ("first_name", "FirstName"), ("middle_name", "MiddleName"),
            ("last_name_1", "LastSurname"), ("suffix", "GenerationCodeSuffix")) if s.get(k))
        if s.get("last_name_2"):
            name += f"<msix:SecondLastSurname>{_e(s['last_name_2'])}</msix:SecondLastSurname>"
        birth = f"<BirthDate>{s['birth_date']}</BirthDate>"
        if s.get("birth_city"):
            birth += f"<BirthCity>{_e(s['birth_city'])}</BirthCity>"
        if s.get("birth_state"):
            birth += ("<BirthStateAbbreviation>uri://ed-fi.org/StateAbbreviationDescriptor#"
                      f"{s['birth_state']}</BirthStateAbbreviation>")
        files["Student"].write(f"\t<Student>\n\t\t<StudentUniqueId>{sid}</StudentUniqueId>\n"
                               f"\t\t<Name>{name}</Name>\n\t\t<BirthData>{birth}</BirthData>\n"
                               "\t</Student>\n")
        enrs = s.get("enrollments", [])
        pfs = any(e.get("priority_for_services") for e in enrs)
        for m in s["qualifying_moves"]:
            ext = "".join(f"<msix:QualifyingMove{t}>{_e(m[k])}</msix:QualifyingMove{t}>"
                          for k, t in (("move_from_city", "FromCity"),
                                       ("move_from_state", "FromState"),
                                       ("move_from_country", "FromCountry"),
                                       ("move_to_city", "ToCity"), ("move_to_state", "ToState"))
                          if m.get(k))
            expiry = (f"<EligibilityExpirationDate>{m['eligibility_expiration_date']}"
                      "</EligibilityExpirationDate>" if m.get("eligibility_expiration_date")
                      else "")
            begin = enrs[0]["enrollment_date"] if enrs else m["qualifying_arrival_date"]
            files["StudentProgram"].write(
                f"\t<StudentMigrantEducationProgramAssociation>\n\t\t{_ref(sid)}\n"
                "\t\t<ProgramReference><ProgramIdentity>"
                f"{_edorg('EducationOrganizationReference', 255901)}"
                "<ProgramName>Migrant Education</ProgramName><ProgramType>uri://ed-fi.org/"
                "ProgramTypeDescriptor#Migrant Education</ProgramType></ProgramIdentity>"
                f"</ProgramReference>\n\t\t<BeginDate>{begin}</BeginDate>\n"
                f"\t\t{_edorg('EducationOrganizationReference', 255901)}\n"
                f"\t\t<PriorityForServices>{str(pfs).lower()}</PriorityForServices>\n"
                f"\t\t<LastQualifyingMove>{m['qualifying_arrival_date']}</LastQualifyingMove>\n"
                f"\t\t<QualifyingArrivalDate>{m['qualifying_arrival_date']}"
                f"</QualifyingArrivalDate>{expiry}{ext}\n"
                "\t</StudentMigrantEducationProgramAssociation>\n")
        learner = any(e.get("english_learner") for e in enrs)
        lep = ("<LimitedEnglishProficiency>uri://ed-fi.org/LimitedEnglishProficiencyDescriptor"
               "#Limited</LimitedEnglishProficiency>" if learner else "")
        sex = {"F": "Female", "M": "Male", "X": "Non-binary"}[s["sex"]]
        files["StudentEnrollment"].write(
            f"\t<StudentEducationOrganizationAssociation>\n\t\t{_ref(sid)}\n"
            f"\t\t{_edorg('EducationOrganizationReference', 255901)}\n"
            f"\t\t<Sex>uri://ed-fi.org/SexDescriptor#{sex}</Sex>{lep}\n"
            "\t</StudentEducationOrganizationAssociation>\n")
        for e in enrs:
            school = _school(e)
            grade = (f"<EntryGradeLevel>uri://ed-fi.org/GradeLevelDescriptor#"
                     f"{GRADES[e['grade_level']]}</EntryGradeLevel>" if e.get("grade_level")
                     else "")
            exit_ = (f"<ExitWithdrawDate>{e['withdrawal_date']}</ExitWithdrawDate>"
                     if e.get("withdrawal_date") else "")
            files["StudentEnrollment"].write(
                f"\t<StudentSchoolAssociation>\n\t\t{_ref(sid)}\n"
                f"\t\t<SchoolReference><SchoolIdentity><SchoolId>{school}</SchoolId>"
                f"</SchoolIdentity></SchoolReference>\n"
                f"\t\t<EntryDate>{e['enrollment_date']}</EntryDate>{grade}{exit_}\n"
                "\t</StudentSchoolAssociation>\n")
            for c in e.get("courses", []):
                _course(files["StudentTranscript"], sid, school, c)
        for a in s.get("assessments", []):
            _assessment(files["StudentAssessment"], sid, a)
        _contacts(files["Contact"], contacts, sid, s)
    for fh in files.values():
        fh.write("\n".join(contacts) + "\n" if fh is files["Contact"] else "")
    for name, fh in files.items():
        fh.write(f"</Interchange{name}>\n")
        fh.close()
    return [folder / f"{name}.xml" for name in files]


def _course(fh: Any, sid: str, school: int, c: dict[str, Any]) -> None:
    credit = "".join(f"<{t}><Credits>{c[k]:.3f}</Credits></{t}>" for k, t in (
        ("credits_attempted", "AttemptedCredits"), ("credits_granted", "EarnedCredits"))
        if c.get(k) is not None)
    grade = (f"<FinalLetterGradeEarned>{_e(c['final_grade'])}</FinalLetterGradeEarned>"
             if c.get("final_grade") else "")
    year = c.get("end_academic_year", 2024)
    term = TERMS.get(c.get("term_type", "other"), "Other")
    fh.write(f"\t<CourseTranscript>\n\t\t<CourseAttemptResult>uri://ed-fi.org/"
             f"CourseAttemptResultDescriptor#{STATUS.get(c.get('course_status', ''), 'Pass')}"
             f"</CourseAttemptResult>{credit}{grade}\n"
             f"\t\t<CourseReference><CourseIdentity><CourseCode>{_e(c['course_title'][:30])}"
             f"</CourseCode>{_edorg('EducationOrganizationReference', 255901)}</CourseIdentity>"
             "</CourseReference>\n\t\t<StudentAcademicRecordReference>"
             f"<StudentAcademicRecordIdentity>{_ref(sid)}"
             f"{_edorg('EducationOrganizationReference', school)}<SchoolYear>{year}</SchoolYear>"
             f"<Term>uri://ed-fi.org/TermDescriptor#{term}</Term></StudentAcademicRecordIdentity>"
             f"</StudentAcademicRecordReference>\n"
             f"\t\t<CourseTitle>{_e(c['course_title'])}</CourseTitle>\n\t</CourseTranscript>\n")


def _assessment(fh: Any, sid: str, a: dict[str, Any]) -> None:
    score = ""
    if a.get("score_result"):
        method = METHODS.get(a.get("reporting_method", "other"), "Raw score")
        score = (f"<ScoreResult><Result>{_e(a['score_result'])}</Result><ResultDatatypeType>"
                 "uri://ed-fi.org/ResultDatatypeTypeDescriptor#Integer</ResultDatatypeType>"
                 f"<AssessmentReportingMethod>uri://ed-fi.org/AssessmentReportingMethod"
                 f"Descriptor#{method}</AssessmentReportingMethod></ScoreResult>")
    month = a.get("administration_month", "2024-04")
    fh.write(f"\t<StudentAssessment>\n\t\t<StudentAssessmentIdentifier>{sid}-"
             f"{_e(a['assessment_title'])[:20]}</StudentAssessmentIdentifier>\n"
             f"\t\t<AdministrationDate>{month}-01T09:00:00</AdministrationDate>{score}\n"
             f"\t\t{_ref(sid)}\n\t\t<AssessmentReference><AssessmentIdentity>"
             f"<AssessmentIdentifier>{_e(a['assessment_title'])}</AssessmentIdentifier>"
             "<Namespace>uri://tea.example/Assessment</Namespace></AssessmentIdentity>"
             "</AssessmentReference>\n\t</StudentAssessment>\n")


def _contacts(fh: Any, links: list[str], sid: str, s: dict[str, Any]) -> None:
    for n, (who, relation, sex) in enumerate((("female_parent", "Mother", "Female"),
                                              ("male_parent", "Father", "Male"))):
        if not s.get(f"{who}_first_name"):
            continue
        cid = f"{sid}P{n}"
        phone = s.get(f"parent{n + 1}_phone")
        tel = (f"<Telephone><TelephoneNumber>{phone}</TelephoneNumber><TelephoneNumberType>"
               "uri://ed-fi.org/TelephoneNumberTypeDescriptor#Home</TelephoneNumberType>"
               "</Telephone>" if phone else "")
        fh.write(f"\t<Contact id=\"{cid}\">\n\t\t<ContactUniqueId>{cid}</ContactUniqueId>\n"
                 f"\t\t<Name><FirstName>{_e(s[f'{who}_first_name'])}</FirstName><LastSurname>"
                 f"{_e(s.get(f'{who}_last_name') or s['last_name_1'])}</LastSurname></Name>\n"
                 f"\t\t<Sex>uri://ed-fi.org/SexDescriptor#{sex}</Sex>{tel}\n\t</Contact>\n")
        links.append(f"\t<StudentContactAssociation>\n\t\t{_ref(sid)}\n"
                     f"\t\t<ContactReference ref=\"{cid}\"/>\n"
                     f"\t\t<Relation>uri://ed-fi.org/RelationDescriptor#{relation}</Relation>\n"
                     f"\t\t<PrimaryContactStatus>{str(n == 0).lower()}</PrimaryContactStatus>\n"
                     "\t</StudentContactAssociation>")


def run_one(inputs: list[str], db: str) -> None:
    """In a process of its own: import `inputs` into `db`; print the figures as JSON."""
    from node.importing.importer import import_files
    from node.store.database import Store

    store = Store(db)
    t0 = time.perf_counter()
    report = import_files(store, inputs, owner_state="TX", progress=False,
                          write_rejects_files=False)
    seconds = time.perf_counter() - t0
    rows = sum(store.count(t) for t in TABLES)
    store.close()
    # VmHWM, not ru_maxrss: the latter keeps the bench's own size from before the exec
    status = Path("/proc/self/status").read_text()
    peak_kib = next(int(line.split()[1]) for line in status.splitlines()
                    if line.startswith("VmHWM:"))
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"seconds": seconds, "rows": rows, "students": report.students,
                      "rejected": report.rejected_rows, "peak_mib": peak_kib / 1024,
                      "worker_peak_mib": children / 1024}))


def _measure(inputs: list[Path], db: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, "--run-one", str(db), *map(str, inputs)],
                          capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _line(label: str, r: dict[str, Any]) -> str:
    return (f"{label}: {r['seconds']:.2f} s, {r['rows']:,} rows ({r['rows'] / r['seconds']:,.0f}"
            f" rows/s), {r['students']:,} students ({r['students'] / r['seconds']:,.0f}/s), "
            f"{r['rejected']} rejected, peak memory {r['peak_mib']:.0f} MiB (largest worker "
            f"{r['worker_peak_mib']:.0f} MiB)")


def _samples() -> Iterator[Path]:
    for base in (ROOT / ".." / "shared", ROOT / ".." / ".." / "shared"):
        folder = base / "edfi-samples" / "xml"
        if folder.is_dir():
            yield from sorted(folder.glob("*.xml"))
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="Write the inputs here and keep them.")
    parser.add_argument("--run-one", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_one:
        run_one(args.run_one[1:], args.run_one[0])
        return
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="edfi-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        from node.importing.synthetic import generate_students

        t0 = time.perf_counter()
        students = generate_students("TX", args.count, seed=1)
        xml = write_edfi(students, tmp / "edfi")
        jsonl = tmp / "tx.jsonl"
        with jsonl.open("w", encoding="utf-8") as fh:
            for s in students:
                fh.write(json.dumps(s, ensure_ascii=False) + "\n")
        del students
        size = sum(p.stat().st_size for p in xml) / 2**20
        print(f"generated {args.count:,} students in {time.perf_counter() - t0:.1f} s: Ed-Fi "
              f"XML {size:.0f} MiB in {len(xml)} files, JSON Lines "
              f"{jsonl.stat().st_size / 2**20:.0f} MiB")
        load = Path("/proc/loadavg").read_text().split()[0]
        edfi = _measure(xml, tmp / "edfi.db")
        plain = _measure([jsonl], tmp / "jsonl.db")
        print(_line("Ed-Fi XML  ", edfi))
        print(_line("JSON Lines ", plain))
        print(f"ratio Ed-Fi XML / JSON Lines (students/s): "
              f"{(edfi['students'] / edfi['seconds']) / (plain['students'] / plain['seconds']):.2f}"
              f"; load average {load} -> {Path('/proc/loadavg').read_text().split()[0]}")
        sample = list(_samples())
        if sample:
            print(_line("shared Ed-Fi sample (275 migrant of 960 students)",
                        _measure(sample, tmp / "sample.db")))
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
