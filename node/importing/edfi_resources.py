"""Ed-Fi ODS/API resources (v7, Data Standard 5.x JSON) read into fragments (docs/IMPORT.md).

Owns the JSON side of the Ed-Fi mapping for the API pull (`node.importing.edfi_pull`):
one reader per resource (`RESOURCES`, checked against its schema by
`node.importing.edfi_schemas`) turning an item into the same fragments as the
interchange XML (`node.importing.edfi_assembly`), and the resource field a reject of
one of our fields names (`api_element`). A field the resource does not have, or a field of the
wrong type (a schema surprise), rejects the item, naming the resource, its id and the
field; its student is stored nowhere. `_ext.msix` carries the statenode extension.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from node.importing import edfi_mapping as m
from node.importing.edfi_assembly import EdfiSet, Fragment, Where, partial_awards
from node.importing.edfi_mapping import SOURCES
from node.importing.edfi_schemas import check_item, kind_of

# our field -> the JSON field of the API, for rejects of joined students
_API_NAMES = {
    "Student/StudentUniqueId": "students.studentUniqueId",
    "Student/Name/FirstName": "students.firstName", "Student/Name/MiddleName":
    "students.middleName", "Student/Name/LastSurname": "students.lastSurname",
    "Student/Name/GenerationCodeSuffix": "students.generationCodeSuffix",
    "Student/BirthData/BirthDate": "students.birthDate",
}


def api_element(table: str, name: str) -> str:
    """The resource field a reject of one of our fields names."""
    xml = SOURCES.get((table, name))
    if xml is None:
        return name
    if xml in _API_NAMES:
        return _API_NAMES[xml]
    entity, _, rest = xml.partition("/")
    leaf = rest.rsplit("/", 1)[-1].split(" ", 1)[0]
    return f"{entity}.{leaf[:1].lower()}{leaf[1:]}"


class _Item:
    """One item being read, with its problems recorded against its resource and id."""

    def __init__(self, edfi: EdfiSet, resource: str, item: Mapping[str, Any]) -> None:
        self.edfi, self.resource, self.item = edfi, resource, item
        self.where: Where = (f"edfi-api/{resource}", 0, f"id {item.get('id', '?')}")
        self.sid = ""
        ext = item.get("_ext")
        self.ext: Mapping[str, Any] = (ext.get(m.EXTENSION_API_KEY) or {}) if isinstance(
            ext, dict) else {}

    def problem(self, name: str, reason: str) -> None:
        self.edfi.problem(self.sid, self.where, name, reason)

    def get(self, *path: str) -> Any:
        value: Any = self.item
        for key in path:
            if not isinstance(value, Mapping):
                return None
            value = value.get(key)
        return value

    def text(self, *path: str) -> str | None:
        value = self.get(*path)
        if value is None:
            return None
        if not isinstance(value, str | int) or isinstance(value, bool):
            self.problem(".".join(path), f"expected text, got {kind_of(value)}")
            return None
        return str(value).strip() or None

    def put(self, out: dict[str, Any], key: str, name: str,
            convert: Callable[[str], Any] | None = None, source: Any = None) -> None:
        if source is not None and not isinstance(source, Mapping):
            return  # a mistyped object: _check reported it
        value = self.item.get(name) if source is None else source.get(name)
        if value is None or value == "":
            return
        if isinstance(value, bool | int | float) and convert in (None, m.day):
            if source is not None:  # a top-level field's type is checked by _check
                self.problem(name, f"expected text, got {kind_of(value)}")
            return
        try:
            out[key] = convert(value) if convert is not None else (
                value.strip() if isinstance(value, str) else value)
        except m.EdfiValueError as exc:
            self.problem(name, str(exc))
        except (TypeError, AttributeError):
            if source is not None:
                self.problem(name, f"expected text, got {kind_of(value)}")

    def objects(self, name: str) -> list[Mapping[str, Any]]:
        """The objects of a collection field (a mistyped one, reported by _check, as none)."""
        value = self.item.get(name)
        return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []

    def bool_field(self, out: dict[str, Any], key: str, name: str) -> None:
        value = self.item.get(name)
        if isinstance(value, bool):
            out[key] = value


def _code(kind: str, table: dict[str, str]) -> Callable[[str], str]:
    return lambda v: m.descriptor(v, table, kind)


def _student(it: _Item) -> Fragment | None:
    sid = it.text("studentUniqueId")
    if sid is None:
        it.problem("studentUniqueId", "required")
        return None
    it.sid = sid
    d: dict[str, Any] = {}
    for key, name in (("first_name", "firstName"), ("middle_name", "middleName"),
                      ("last_name_1", "lastSurname"), ("suffix", "generationCodeSuffix"),
                      ("birth_city", "birthCity")):
        it.put(d, key, name)
    it.put(d, "birth_date", "birthDate", m.day)
    it.put(d, "birth_state", "birthStateAbbreviationDescriptor", m.state_code)
    it.put(d, "birth_country", "birthCountryDescriptor", m.country)
    it.bool_field(d, "multiple_birth", "multipleBirthStatus")
    it.put(d, "_birth_sex", "birthSexDescriptor", _code("SexDescriptor", m.SEXES))
    if isinstance(it.ext.get("secondLastSurname"), str):
        d["last_name_2"] = it.ext["secondLastSurname"]
    return Fragment("student", sid, d, it.where)


def _smepa(it: _Item) -> Fragment:
    d: dict[str, Any] = {"_edorg": it.text("programReference", "educationOrganizationId")
                         or it.text("educationOrganizationReference", "educationOrganizationId")
                         or ""}
    it.put(d, "_begin", "beginDate", m.day)
    it.put(d, "_end", "endDate", m.day)
    it.put(d, "_program_name", "programName", source=it.get("programReference") or {})
    it.bool_field(d, "priority_for_services", "priorityForServices")
    arrival = "qualifyingArrivalDate" if it.item.get("qualifyingArrivalDate") else (
        "lastQualifyingMove")
    it.put(d, "qualifying_arrival_date", arrival, m.day)
    it.put(d, "eligibility_expiration_date", "eligibilityExpirationDate", m.day)
    it.put(d, "residency_date", "stateResidencyDate", m.day)
    it.put(d, "continuation_of_services_reason", "continuationOfServicesReasonDescriptor",
           _code("ContinuationOfServicesReason", m.CONTINUATION))
    for ours in ("move_from_city", "move_from_state", "move_from_country", "move_to_city",
                 "move_to_state"):
        words = ours.split("_")[1:]
        value = it.ext.get("qualifyingMove" + "".join(w.capitalize() for w in words))
        if isinstance(value, str) and value.strip():
            d[ours] = value.strip() if "city" in ours else value.strip().upper()
    return Fragment("smepa", it.sid, d, it.where)


def _program(it: _Item) -> Fragment:
    kind = it.text("programReference", "programTypeDescriptor") or ""
    return Fragment("program", it.sid, {"_type": m.code_of(kind).lower()}, it.where)


def _sepa(it: _Item) -> Fragment:
    d: dict[str, Any] = {}
    it.bool_field(d, "_idea", "ideaEligibility")
    return Fragment("sepa", it.sid, d, it.where)


def _ssa(it: _Item) -> Fragment:
    d: dict[str, Any] = {"_school": it.text("schoolReference", "schoolId") or ""}
    it.put(d, "enrollment_date", "entryDate", m.day)
    it.put(d, "withdrawal_date", "exitWithdrawDate", m.day)
    it.put(d, "grade_level", "entryGradeLevelDescriptor",
           _code("GradeLevelDescriptor", m.GRADE_LEVELS))
    for ours, name in (("medical_alert", "medicalAlert"),
                       ("designated_graduation_school", "designatedGraduationSchool")):
        if isinstance(it.ext.get(name), str):
            d[ours] = it.ext[name]
    return Fragment("ssa", it.sid, d, it.where)


def _seoa(it: _Item) -> Fragment:
    d: dict[str, Any] = {}
    it.put(d, "sex", "sexDescriptor", _code("SexDescriptor", m.SEXES))
    it.put(d, "english_learner", "limitedEnglishProficiencyDescriptor", m.english_learner)
    d["_characteristics"] = frozenset(
        m.code_of(str(c.get("studentCharacteristicDescriptor", ""))).lower()
        for c in it.objects("studentCharacteristics"))
    return Fragment("seoa", it.sid, d, it.where)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise m.EdfiValueError(f"expected a number, got {kind_of(value)}")
    return float(value)


def _transcript(it: _Item) -> Fragment:
    ref = it.get("studentAcademicRecordReference") or {}
    d: dict[str, Any] = {"_edorg": it.text("studentAcademicRecordReference",
                                           "educationOrganizationId") or ""}
    year = ref.get("schoolYear") if isinstance(ref, dict) else None
    if isinstance(year, int) and not isinstance(year, bool):
        d.update(_school_year=year, begin_academic_year=year - 1, end_academic_year=year)
    term = it.text("studentAcademicRecordReference", "termDescriptor")
    if term:
        d["term_type"] = m.TERMS.get(m.code_of(term).lower(), "other")
    code = it.text("courseReference", "courseCode")
    if code:
        d["state_course_code"] = code
    it.put(d, "course_title", "courseTitle")
    if "course_title" not in d and code:
        d["course_title"] = code
    subjects = it.objects("academicSubjects")
    if subjects and subjects[0].get("academicSubjectDescriptor"):
        d["subject_area"] = m.code_of(str(subjects[0]["academicSubjectDescriptor"]))
    it.put(d, "credits_attempted", "attemptedCredits", _number)
    it.put(d, "credits_granted", "earnedCredits", _number)
    it.put(d, "final_grade", "finalLetterGradeEarned")
    if "final_grade" not in d and it.item.get("finalNumericGradeEarned") is not None:
        d["final_grade"] = str(it.item["finalNumericGradeEarned"])
    it.put(d, "course_status", "courseAttemptResultDescriptor",
           _code("CourseAttemptResultDescriptor", m.ATTEMPT_RESULTS))
    awards = []
    for award in it.objects("partialCourseTranscriptAwards"):
        got: dict[str, Any] = {}
        it.put(got, "date", "awardDate", m.day, source=award)
        it.put(got, "credits", "earnedCredits", _number, source=award)
        it.put(got, "grade", "letterGradeEarned", source=award)
        awards.append(got)
    partial_awards(d, awards)
    hours = it.ext.get("clockHours")
    if hours is not None:
        if isinstance(hours, int) and not isinstance(hours, bool):
            d["clock_hours"] = hours
        else:
            it.problem("_ext.msix.clockHours", f"expected a whole number, got {kind_of(hours)}")
    if isinstance(it.ext.get("gradeToDate"), str):
        d["grade_to_date"] = it.ext["gradeToDate"]
    return Fragment("transcript", it.sid, d, it.where)


def _assessment(it: _Item) -> Fragment:
    d: dict[str, Any] = {}
    title = it.text("assessmentReference", "assessmentIdentifier")
    if title:
        d["assessment_title"] = title
    it.put(d, "_date", "administrationDate", m.day)
    if "_date" in d:
        d["administration_month"] = d["_date"][:7]
    it.put(d, "_id", "studentAssessmentIdentifier")
    scores = [(str(s.get("assessmentReportingMethodDescriptor", "")), str(s.get("result", "")))
              for s in it.objects("scoreResults")]
    best = m.best_score(scores)
    if best is not None:
        d["reporting_method"], d["score_result"] = best
    levels = it.objects("performanceLevels")
    if levels and levels[0].get("performanceLevelDescriptor"):
        level = str(levels[0]["performanceLevelDescriptor"])
        d["interpretation"], d["interpretation_raw"] = m.code_of(level), level
    return Fragment("assessment", it.sid, d, it.where)


def _dated(entries: list[Mapping[str, Any]]) -> bool:
    for entry in entries:
        dates = entry.get("dates")
        if isinstance(dates, list) and any(isinstance(x, dict) and x.get("immunizationDate")
                                           for x in dates):
            return True
    return False


def _health(it: _Item) -> Fragment:
    dated = _dated(it.objects("requiredImmunizations")) or _dated(
        it.objects("additionalImmunizations"))
    return Fragment("health", it.sid, {"_immunized": dated}, it.where)


def _contact(it: _Item) -> Fragment | None:
    unique = it.text("contactUniqueId")
    if unique is None:
        it.problem("contactUniqueId", "required")
        return None
    d: dict[str, Any] = {"_keys": [unique]}
    it.put(d, "first_name", "firstName")
    it.put(d, "last_name", "lastSurname")
    it.put(d, "_sex", "sexDescriptor", lambda v: m.SEXES.get(m.code_of(v).lower(), ""))
    phones = [(t.get("orderOfPriority") if isinstance(t.get("orderOfPriority"), int)
               else 1 << 30, i, m.phone_digits(str(t.get("telephoneNumber", ""))))
              for i, t in enumerate(it.objects("telephones"))]
    phones = [p for p in phones if p[2]]
    if phones:
        d["phone"] = min(phones)[2]
    mails = [(not t.get("primaryEmailAddressIndicator"), i,
              str(t.get("electronicMailAddress", "")).strip())
             for i, t in enumerate(it.objects("electronicMails"))]
    mails = [x for x in mails if x[2]]
    if mails:
        d["email"] = min(mails)[2]
    return Fragment("contact", "", d, it.where)


def _contact_link(it: _Item) -> Fragment | None:
    key = it.text("contactReference", "contactUniqueId")
    if key is None:
        it.problem("contactReference.contactUniqueId", "required")
        return None
    d: dict[str, Any] = {"_contact": key}
    relation = it.text("relationDescriptor")
    if relation:
        d["_relation"] = m.code_of(relation).lower()
    it.bool_field(d, "_primary", "primaryContactStatus")
    it.bool_field(d, "_guardian", "legalGuardian")
    if isinstance(it.item.get("contactPriority"), int):
        d["_priority"] = it.item["contactPriority"]
    return Fragment("contact_link", it.sid, d, it.where)


_READERS: dict[str, Callable[[_Item], Fragment | None]] = {
    "students": _student, "contacts": _contact,
    "studentMigrantEducationProgramAssociations": _smepa,
    "studentProgramAssociations": _program,
    "studentSpecialEducationProgramAssociations": _sepa,
    "studentSchoolAssociations": _ssa, "studentEducationOrganizationAssociations": _seoa,
    "courseTranscripts": _transcript, "studentAssessments": _assessment,
    "studentHealths": _health, "studentContactAssociations": _contact_link,
}


def student_of(resource: str, item: Mapping[str, Any]) -> str | None:
    """The studentUniqueId an item belongs to (None for contacts or if it has none)."""
    if resource == "students":
        value = item.get("studentUniqueId")
    elif resource == "courseTranscripts":
        ref = item.get("studentAcademicRecordReference")
        value = ref.get("studentUniqueId") if isinstance(ref, dict) else None
    else:
        ref = item.get("studentReference")
        value = ref.get("studentUniqueId") if isinstance(ref, dict) else None
    return value.strip() if isinstance(value, str) and value.strip() else None


def read_item(edfi: EdfiSet, resource: str, item: Any) -> None:
    """Read one item of `resource` into `edfi` (a schema surprise is a problem of its
    student, or of the item alone)."""
    if not isinstance(item, dict):
        edfi.problem("", (f"edfi-api/{resource}", 0, "item"), "(item)",
                     f"expected an object, got {kind_of(item)}")
        return
    it = _Item(edfi, resource, item)
    if resource not in ("students", "contacts"):
        sid = student_of(resource, item)
        if sid is None:
            it.problem("studentReference.studentUniqueId", "required")
            return
        it.sid = sid
        if edfi.final and sid not in edfi.migrant:
            edfi.skipped_records += 1
            return
    elif resource == "students":
        it.sid = student_of(resource, item) or ""
        if edfi.final and it.sid and it.sid not in edfi.migrant:
            edfi.skipped.add(it.sid)
            return
    for name, reason in check_item(resource, item):
        it.problem(name, reason)
    frag = _READERS[resource](it)
    if frag is not None:
        edfi.add(frag)
