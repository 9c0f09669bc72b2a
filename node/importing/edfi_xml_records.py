"""Reading one Ed-Fi interchange record into fragments (docs/IMPORT.md "Ed-Fi: the mapping").

Owns the XML side of the Ed-Fi mapping for `node.importing.edfi_xml`: one reader per
top-level entity (Student, StudentMigrantEducationProgramAssociation,
StudentProgramAssociation, StudentSpecialEducationProgramAssociation,
StudentSchoolAssociation, StudentEducationOrganizationAssociation, CourseTranscript,
StudentAssessment, StudentHealth, Contact, StudentContactAssociation), each turning its
record into the fragments of `node.importing.edfi_assembly`, values mapped by
`node.importing.edfi_mapping`, elements of the statenode extension namespace included.
A record's texts are read in one walk of its elements; a value that does not map is a
problem named by its element, at the record's file and line. Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from node.importing import edfi_mapping as m
from node.importing.edfi_assembly import EdfiSet, Fragment, Where, partial_awards


class RecordReader:
    """Reads the records of one file into `edfi`; `q` is the namespace prefix."""

    def __init__(self, edfi: EdfiSet, path: str, ns: str) -> None:
        self.edfi, self.path, self.q = edfi, path, "{" + ns + "}"
        self.x = "{" + m.EXTENSION_NAMESPACE + "}"
        self._paths: dict[str, str] = {}
        self.where: Where = (path, 0, "")
        self.sid = ""
        self.root: Any = None
        self.flat: dict[str, str | None] = {}
        self.strings: dict[str, str] = {}

    def _flatten(self, el: Any, prefix: str, cut: int) -> None:
        """The texts of the record's elements by path (the first of each path), and of
        extension elements by `msix:Name`, read in one walk."""
        flat, q, x = self.flat, self.q, self.x
        for child in el:
            tag = child.tag
            if not isinstance(tag, str):
                continue  # a comment or processing instruction
            if tag.startswith(q):
                name = prefix + tag[cut:]
            elif tag.startswith(x):
                flat.setdefault("msix:" + tag[len(x):], child.text)
                continue
            else:
                continue
            if len(child):
                self._flatten(child, name + "/", cut)
            elif name not in flat:
                flat[name] = child.text

    # ---- small helpers ---------------------------------------------------------------
    def p(self, path: str) -> str:
        found = self._paths.get(path)
        if found is None:
            found = self._paths[path] = "/".join(self.q + part for part in path.split("/"))
        return found

    def text(self, el: Any, path: str) -> str | None:
        value = self.flat.get(path) if el is self.root else el.findtext(self.p(path))
        if value is None:
            return None
        value = value.strip()
        return self.strings.setdefault(value, value) if value else None

    def ext(self, el: Any, name: str) -> str | None:
        found = self.flat.get("msix:" + name) if el is self.root else None
        if found is None:
            return None
        return found.strip() or None

    def put(self, out: dict[str, Any], key: str, el: Any, path: str,
            convert: Callable[[str], Any] | None = None, element: str = "") -> None:
        """out[key] = convert(text at path), or a problem naming the element."""
        value = self.text(el, path)
        if value is None:
            return
        try:
            got = convert(value) if convert is not None else value
            # equal texts (dates, names, codes) share one string: a third less memory
            out[key] = self.strings.setdefault(got, got) if type(got) is str else got
        except m.EdfiValueError as exc:
            entity = self.where[2]
            self.edfi.problem(self.sid, self.where, f"{entity}/{element or path}", str(exc))

    def student_ref(self, el: Any, base: str = "StudentReference") -> str:
        sid = self.text(el, f"{base}/StudentIdentity/StudentUniqueId") or self.text(
            el, f"{base}/StudentLookup/StudentUniqueId")
        if sid is None:
            self.edfi.problem("", self.where, f"{self.where[2]}/{base}",
                              "no StudentIdentity/StudentUniqueId (a reference by ref= to "
                              "another file cannot be followed)")
            return ""
        return sid

    def edorg(self, el: Any, base: str = "EducationOrganizationReference") -> str:
        return self.text(el, f"{base}/EducationOrganizationIdentity/EducationOrganizationId"
                         ) or ""

    # ---- one reader per entity ---------------------------------------------------------
    def student(self, el: Any) -> Fragment | None:
        sid = self.text(el, "StudentUniqueId")
        if sid is None:
            self.edfi.problem("", self.where, "Student/StudentUniqueId", "required")
            return None
        self.sid = sid
        if self.edfi.final and sid not in self.edfi.migrant:
            return Fragment("student", sid, {}, self.where)
        d: dict[str, Any] = {}
        for key, path in (("first_name", "Name/FirstName"), ("middle_name", "Name/MiddleName"),
                          ("last_name_1", "Name/LastSurname"),
                          ("suffix", "Name/GenerationCodeSuffix"),
                          ("birth_city", "BirthData/BirthCity")):
            self.put(d, key, el, path)
        self.put(d, "birth_date", el, "BirthData/BirthDate", m.day)
        self.put(d, "birth_state", el, "BirthData/BirthStateAbbreviation", m.state_code)
        self.put(d, "birth_country", el, "BirthData/BirthCountry", m.country)
        self.put(d, "multiple_birth", el, "BirthData/MultipleBirthStatus", m.boolean)
        self.put(d, "_birth_sex", el, "BirthData/BirthSex",
                 lambda v: m.descriptor(v, m.SEXES, "SexDescriptor"))
        second = self.ext(el, "SecondLastSurname")
        if second:
            d["last_name_2"] = second
        return Fragment("student", sid, d, self.where)

    def smepa(self, el: Any) -> Fragment:
        d: dict[str, Any] = {"_edorg": self.edorg(el, "ProgramReference/ProgramIdentity/"
                                                      "EducationOrganizationReference")
                             or self.edorg(el)}
        self.put(d, "_begin", el, "BeginDate", m.day)
        self.put(d, "_end", el, "EndDate", m.day)
        self.put(d, "_program_name", el, "ProgramReference/ProgramIdentity/ProgramName")
        self.put(d, "priority_for_services", el, "PriorityForServices", m.boolean)
        arrival = "QualifyingArrivalDate" if self.text(el, "QualifyingArrivalDate") else (
            "LastQualifyingMove")
        self.put(d, "qualifying_arrival_date", el, arrival, m.day)
        self.put(d, "eligibility_expiration_date", el, "EligibilityExpirationDate", m.day)
        self.put(d, "residency_date", el, "StateResidencyDate", m.day)
        self.put(d, "continuation_of_services_reason", el, "ContinuationOfServicesReason",
                 lambda v: m.descriptor(v, m.CONTINUATION, "ContinuationOfServicesReason"))
        for ours in ("move_from_city", "move_from_state", "move_from_country", "move_to_city",
                     "move_to_state"):
            value = self.ext(el, "QualifyingMove" + "".join(
                w.capitalize() for w in ours.split("_")[1:]))
            if value:
                d[ours] = value.upper() if "city" not in ours else value
        return Fragment("smepa", self.sid, d, self.where)

    def program(self, el: Any) -> Fragment:
        kind = self.text(el, "ProgramReference/ProgramIdentity/ProgramType") or ""
        return Fragment("program", self.sid, {"_type": m.code_of(kind).lower()}, self.where)

    def sepa(self, el: Any) -> Fragment:
        d: dict[str, Any] = {}
        self.put(d, "_idea", el, "IdeaEligibility", m.boolean)
        return Fragment("sepa", self.sid, d, self.where)

    def ssa(self, el: Any) -> Fragment:
        d: dict[str, Any] = {"_school": self.text(el, "SchoolReference/SchoolIdentity/SchoolId")
                             or ""}
        self.put(d, "enrollment_date", el, "EntryDate", m.day)
        self.put(d, "withdrawal_date", el, "ExitWithdrawDate", m.day)
        self.put(d, "grade_level", el, "EntryGradeLevel",
                 lambda v: m.descriptor(v, m.GRADE_LEVELS, "GradeLevelDescriptor"))
        for ours, name in (("medical_alert", "MedicalAlert"),
                           ("designated_graduation_school", "DesignatedGraduationSchool")):
            value = self.ext(el, name)
            if value:
                d[ours] = value
        return Fragment("ssa", self.sid, d, self.where)

    def seoa(self, el: Any) -> Fragment:
        d: dict[str, Any] = {}
        self.put(d, "sex", el, "Sex", lambda v: m.descriptor(v, m.SEXES, "SexDescriptor"))
        self.put(d, "english_learner", el, "LimitedEnglishProficiency", m.english_learner)
        marks = el.findall(self.p("StudentCharacteristic/StudentCharacteristic"))
        d["_characteristics"] = frozenset(m.code_of(c.text or "").lower() for c in marks)
        return Fragment("seoa", self.sid, d, self.where)

    def transcript(self, el: Any) -> Fragment:
        record = "StudentAcademicRecordReference/StudentAcademicRecordIdentity"
        d: dict[str, Any] = {"_edorg": self.edorg(el, f"{record}/EducationOrganizationReference")}
        self.put(d, "_school_year", el, f"{record}/SchoolYear", m.whole)
        if "_school_year" in d:
            d["begin_academic_year"] = d["_school_year"] - 1
            d["end_academic_year"] = d["_school_year"]
        self.put(d, "term_type", el, f"{record}/Term",
                 lambda v: m.TERMS.get(m.code_of(v).lower(), "other"))
        self.put(d, "state_course_code", el, "CourseReference/CourseIdentity/CourseCode")
        self.put(d, "course_title", el, "CourseTitle")
        if "course_title" not in d and "state_course_code" in d:
            d["course_title"] = d["state_course_code"]
        self.put(d, "subject_area", el, "AcademicSubject", m.code_of)
        self.put(d, "credits_attempted", el, "AttemptedCredits/Credits", m.credits)
        self.put(d, "credits_granted", el, "EarnedCredits/Credits", m.credits)
        self.put(d, "final_grade", el, "FinalLetterGradeEarned")
        if "final_grade" not in d:
            self.put(d, "final_grade", el, "FinalNumericGradeEarned")
        self.put(d, "course_status", el, "CourseAttemptResult",
                 lambda v: m.descriptor(v, m.ATTEMPT_RESULTS, "CourseAttemptResultDescriptor"))
        partial = []
        for award in el.iterfind(self.p("PartialCourseTranscriptAwards")):
            got: dict[str, Any] = {}
            self.put(got, "date", award, "AwardDate", m.day,
                     "PartialCourseTranscriptAwards/AwardDate")
            self.put(got, "credits", award, "EarnedCredits", m.credits,
                     "PartialCourseTranscriptAwards/EarnedCredits")
            self.put(got, "grade", award, "LetterGradeEarned")
            partial.append(got)
        partial_awards(d, partial)
        hours = self.ext(el, "ClockHours")
        if hours:
            try:
                d["clock_hours"] = m.whole(hours)
            except m.EdfiValueError as exc:
                self.edfi.problem(self.sid, self.where, "CourseTranscript/msix:ClockHours",
                                  str(exc))
        grade = self.ext(el, "GradeToDate")
        if grade:
            d["grade_to_date"] = grade
        return Fragment("transcript", self.sid, d, self.where)

    def assessment(self, el: Any) -> Fragment:
        d: dict[str, Any] = {}
        self.put(d, "assessment_title", el,
                 "AssessmentReference/AssessmentIdentity/AssessmentIdentifier")
        self.put(d, "_date", el, "AdministrationDate", m.day)
        if "_date" in d:
            d["administration_month"] = d["_date"][:7]
        self.put(d, "_id", el, "StudentAssessmentIdentifier")
        scores = [(s.findtext(self.p("AssessmentReportingMethod")) or "",
                   (s.findtext(self.p("Result")) or "").strip())
                  for s in el.iterfind(self.p("ScoreResult"))]
        best = m.best_score(scores)
        if best is not None:
            d["reporting_method"], d["score_result"] = best
        level = self.text(el, "PerformanceLevel/PerformanceLevel")
        if level:
            d["interpretation"] = m.code_of(level)
            d["interpretation_raw"] = level
        return Fragment("assessment", self.sid, d, self.where)

    def health(self, el: Any) -> Fragment:
        dated = el.find(self.p("RequiredImmunization/ImmunizationDate")) is not None or (
            el.find(self.p("AdditionalImmunization/ImmunizationDate")) is not None)
        return Fragment("health", self.sid, {"_immunized": dated}, self.where)

    def contact(self, el: Any) -> Fragment | None:
        unique = self.text(el, "ContactUniqueId")
        keys = [k for k in (el.get("id"), unique) if k]
        if not keys:
            self.edfi.problem("", self.where, "Contact/ContactUniqueId", "required")
            return None
        d: dict[str, Any] = {"_keys": keys}
        self.put(d, "first_name", el, "Name/FirstName")
        self.put(d, "last_name", el, "Name/LastSurname")
        self.put(d, "_sex", el, "Sex", lambda v: m.SEXES.get(m.code_of(v).lower(), ""))
        phones = []
        for i, tel in enumerate(el.iterfind(self.p("Telephone"))):
            number = m.phone_digits(tel.findtext(self.p("TelephoneNumber")) or "")
            order = (tel.findtext(self.p("OrderOfPriority")) or "").strip()
            if number:
                phones.append((int(order) if order.isdigit() else 1 << 30, i, number))
        if phones:
            d["phone"] = min(phones)[2]
        mails = []
        for i, mail in enumerate(el.iterfind(self.p("ElectronicMail"))):
            address = (mail.findtext(self.p("ElectronicMailAddress")) or "").strip()
            primary = (mail.findtext(self.p("PrimaryEmailAddressIndicator")) or "").strip()
            if address:
                mails.append((primary.lower() not in ("true", "1"), i, address))
        if mails:
            d["email"] = min(mails)[2]
        return Fragment("contact", "", d, self.where)

    def contact_link(self, el: Any) -> Fragment | None:
        ref = el.find(self.p("ContactReference"))
        key = None
        if ref is not None:
            key = ref.get("ref") or self.text(ref, "ContactIdentity/ContactUniqueId")
        if not key:
            self.edfi.problem(self.sid, self.where, "StudentContactAssociation/ContactReference",
                              "required (ref= or ContactIdentity/ContactUniqueId)")
            return None
        d: dict[str, Any] = {"_contact": key}
        relation = self.text(el, "Relation")
        if relation:
            d["_relation"] = m.code_of(relation).lower()
        self.put(d, "_primary", el, "PrimaryContactStatus", m.boolean)
        self.put(d, "_guardian", el, "LegalGuardian", m.boolean)
        self.put(d, "_priority", el, "ContactPriority", m.whole)
        return Fragment("contact_link", self.sid, d, self.where)

    def read(self, name: str, el: Any, line: int) -> None:
        self.where = (self.path, line, name)
        self.sid = ""
        self.root = el
        self.flat = {}
        self._flatten(el, "", len(self.q))
        if name == "Student":
            frag = self.student(el)
        elif name == "Contact":
            frag = self.contact(el)
        else:
            base = ("StudentAcademicRecordReference/StudentAcademicRecordIdentity/"
                    "StudentReference" if name == "CourseTranscript" else "StudentReference")
            self.sid = self.student_ref(el, base)
            if not self.sid:
                return
            if self.edfi.final and self.sid not in self.edfi.migrant:
                self.edfi.skipped_records += 1
                return
            frag = getattr(self, _METHODS[name])(el)
        if frag is not None:
            self.edfi.add(frag)


_METHODS = {
    "StudentMigrantEducationProgramAssociation": "smepa", "StudentProgramAssociation": "program",
    "StudentSpecialEducationProgramAssociation": "sepa", "StudentSchoolAssociation": "ssa",
    "StudentEducationOrganizationAssociation": "seoa", "CourseTranscript": "transcript",
    "StudentAssessment": "assessment", "StudentHealth": "health",
    "StudentContactAssociation": "contact_link",
}
