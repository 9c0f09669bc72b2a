"""Ed-Fi Data Standard 5.x values mapped to our MSIX codes (docs/IMPORT.md "Ed-Fi").

Owns the value-level mapping shared by the interchange XML reader
(`node.importing.edfi_xml`) and the ODS/API pull (`node.importing.edfi_resources`):
descriptor URIs (`uri://ed-fi.org/GradeLevelDescriptor#Fifth grade`) to our codes
(`05`), Ed-Fi's xs:boolean, xs:date and decimal texts to typed values, telephone numbers
to digits, ISO 3166 alpha-2 countries (Ed-Fi's CountryDescriptor) to alpha-3 (ours),
the statenode extension that carries the MSIX elements Ed-Fi has no core element
for, and `SOURCES`: the Ed-Fi element each of our fields comes from (docs/IMPORT.md's
mapping table). Every function raises `EdfiValueError` with a reason that names the value's kind,
so the readers can report it at the file, line and element (or resource and id) it came
from. Descriptors are matched by their code value (the part after `#`), whatever the
namespace, case-insensitively; the tables below follow the default descriptor values the
Ed-Fi Alliance publishes with Data Standard 5.2. Pure, no I/O.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

#: Interchange XML: the namespace of every Data Standard 5.x file starts with this.
EDFI_NAMESPACE_PREFIX = "http://ed-fi.org/5."
#: The statenode extension: elements in this namespace (XML) or under `_ext.msix` (API
#: JSON) carry MSIX elements Ed-Fi has no core element for (docs/IMPORT.md).
EXTENSION_NAMESPACE = "urn:statenode:ed-fi-extension:msix:1"
EXTENSION_API_KEY = "msix"


class EdfiValueError(ValueError):
    """An Ed-Fi value that does not map to one of ours; the message is the reason."""


def _table(pairs: str) -> dict[str, str]:
    out = {}
    for line in pairs.strip().splitlines():
        code, ours = line.rsplit("=", 1)
        out[code.strip().lower()] = ours.strip()
    return out


GRADE_LEVELS = _table("""
    Infant/toddler = IT
    Early Education = PR
    Preschool/Prekindergarten = PK
    Transitional Kindergarten = TK
    Kindergarten = KG
    First grade = 01
    Second grade = 02
    Third grade = 03
    Fourth grade = 04
    Fifth grade = 05
    Sixth grade = 06
    Seventh grade = 07
    Eighth grade = 08
    Ninth grade = 09
    Tenth grade = 10
    Eleventh grade = 11
    Twelfth grade = 12
    Grade 13 = 13
    Ungraded = UG
    Out of school = OS
""")
# a state's own GradeLevelDescriptor whose code values are MSIX's codes (`...#05`, `...#OS`)
GRADE_LEVELS.update({code.lower(): code for code in
                     ("IT PR PK TK KG UG OS " + " ".join(f"{n:02d}" for n in range(1, 14))
                      ).split()})
SEXES = _table("""
    Female = F
    Male = M
    Non-binary = X
""")
#: LimitedEnglishProficiencyDescriptor -> english_learner (monitored former ELs: false)
ENGLISH_LEARNER = {"limited": True, "notlimited": False, "not limited": False,
                   "limited monitored 1": False, "limited monitored 2": False}
#: ContinuationOfServicesReasonDescriptor -> our code (ESEA §1304(e)(1)-(3)); our own
#: codes are accepted too.
CONTINUATION = _table("""
    01 = 01
    02 = 02
    03 = 03
    Continuation of services until the end of the term = 01
    Continuation of services for one additional school year = 02
    Continuation of services through secondary school graduation = 03
""")
#: RelationDescriptor values that name the female and male parent, best first
FEMALE_PARENT = ("mother", "stepmother", "foster mother", "adoptive mother")
MALE_PARENT = ("father", "stepfather", "foster father", "adoptive father")
#: AssessmentReportingMethodDescriptor -> our reporting_method; the score stored is the
#: first ScoreResult in this order of preference
REPORTING_METHODS = _table("""
    Scale score = scale_score
    Achievement/proficiency level = proficiency_level
    Proficiency level = proficiency_level
    Percentile = percentile
    Percentile rank = percentile
    Percent = percent
    Percentage of items correct = percent
    Letter grade/mark = letter_grade
    Pass-fail = pass_fail
    Raw score = other
""")
_METHOD_RANK = {m: i for i, m in enumerate(
    ("scale_score", "proficiency_level", "percentile", "percent", "letter_grade",
     "pass_fail", "other"))}
#: TermDescriptor -> term_type
TERMS = _table("""
    Year Round = full_year
    Fall Semester = semester
    Spring Semester = semester
    Summer Semester = summer
    Summer = summer
    First Trimester = trimester
    Second Trimester = trimester
    Third Trimester = trimester
    First Quarter = quarter
    Second Quarter = quarter
    Third Quarter = quarter
    Fourth Quarter = quarter
""")
#: CourseAttemptResultDescriptor -> course_status
ATTEMPT_RESULTS = _table("""
    Pass = completed
    Fail = completed
    Incomplete = in_progress
    Withdrawn = withdrawn
""")

# ISO 3166-1 alpha-2 (Ed-Fi's CountryDescriptor code values) -> alpha-3 (ours)
_COUNTRIES = """
ADAND AEARE AFAFG AGATG AIAIA ALALB AMARM AOAGO AQATA ARARG ASASM ATAUT AUAUS AWABW AXALA
AZAZE BABIH BBBRB BDBGD BEBEL BFBFA BGBGR BHBHR BIBDI BJBEN BLBLM BMBMU BNBRN BOBOL BQBES
BRBRA BSBHS BTBTN BVBVT BWBWA BYBLR BZBLZ CACAN CCCCK CDCOD CFCAF CGCOG CHCHE CICIV CKCOK
CLCHL CMCMR CNCHN COCOL CRCRI CUCUB CVCPV CWCUW CXCXR CYCYP CZCZE DEDEU DJDJI DKDNK DMDMA
DODOM DZDZA ECECU EEEST EGEGY EHESH ERERI ESESP ETETH FIFIN FJFJI FKFLK FMFSM FOFRO FRFRA
GAGAB GBGBR GDGRD GEGEO GFGUF GGGGY GHGHA GIGIB GLGRL GMGMB GNGIN GPGLP GQGNQ GRGRC GSSGS
GTGTM GUGUM GWGNB GYGUY HKHKG HMHMD HNHND HRHRV HTHTI HUHUN IDIDN IEIRL ILISR IMIMN ININD
IOIOT IQIRQ IRIRN ISISL ITITA JEJEY JMJAM JOJOR JPJPN KEKEN KGKGZ KHKHM KIKIR KMCOM KNKNA
KPPRK KRKOR KWKWT KYCYM KZKAZ LALAO LBLBN LCLCA LILIE LKLKA LRLBR LSLSO LTLTU LULUX LVLVA
LYLBY MAMAR MCMCO MDMDA MEMNE MFMAF MGMDG MHMHL MKMKD MLMLI MMMMR MNMNG MOMAC MPMNP MQMTQ
MRMRT MSMSR MTMLT MUMUS MVMDV MWMWI MXMEX MYMYS MZMOZ NANAM NCNCL NENER NFNFK NGNGA NINIC
NLNLD NONOR NPNPL NRNRU NUNIU NZNZL OMOMN PAPAN PEPER PFPYF PGPNG PHPHL PKPAK PLPOL PMSPM
PNPCN PRPRI PSPSE PTPRT PWPLW PYPRY QAQAT RERUE ROROU RSSRB RURUS RWRWA SASAU SBSLB SCSYC
SDSDN SESWE SGSGP SHSHN SISVN SJSJM SKSVK SLSLE SMSMR SNSEN SOSOM SRSUR SSSSD STSTP SVSLV
SXSXM SYSYR SZSWZ TCTCA TDTCD TFATF TGTGO THTHA TJTJK TKTKL TLTLS TMTKM TNTUN TOTON TRTUR
TTTTO TVTUV TWTWN TZTZA UAUKR UGUGA UMUMI USUSA UYURY UZUZB VAVAT VCVCT VEVEN VGVGB VIVIR
VNVNM VUVUT WFWLF WSWSM YEYEM YTMYT ZAZAF ZMZMB ZWZWE
"""
COUNTRIES = {pair[:2]: pair[2:] for pair in _COUNTRIES.split()}
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


def code_of(value: str) -> str:
    """The code value of a descriptor URI (`uri://ed-fi.org/SexDescriptor#Male` -> `Male`);
    a bare code is returned as it is."""
    return value.rsplit("#", 1)[-1].strip()


def descriptor(value: str, table: dict[str, str], kind: str) -> str:
    """Our code for a descriptor, by its code value; EdfiValueError if it has none."""
    found = table.get(code_of(value).lower())
    if found is None:
        raise EdfiValueError(f"no MSIX code for {kind} {code_of(value)!r}")
    return found


def english_learner(value: str) -> bool:
    found = ENGLISH_LEARNER.get(code_of(value).lower())
    if found is None:
        raise EdfiValueError(f"unknown LimitedEnglishProficiencyDescriptor {code_of(value)!r}")
    return found


def state_code(value: str) -> str:
    """A StateAbbreviationDescriptor (`...#TX`) as a USPS code (checked by validation)."""
    return code_of(value).upper()


def country(value: str) -> str:
    """A CountryDescriptor (ISO 3166-1 alpha-2, `...#MX`) as alpha-3 (`MEX`); a value that
    is already alpha-3 is kept."""
    code = code_of(value).upper()
    if len(code) == 3 and code.isalpha():
        return code
    found = COUNTRIES.get(code)
    if found is None:
        raise EdfiValueError(f"unknown CountryDescriptor {code!r} (ISO 3166-1 alpha-2 expected)")
    return found


def boolean(value: str) -> bool:
    """xs:boolean: true, false, 1 or 0."""
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise EdfiValueError(f"not an xs:boolean (true, false, 1 or 0): {value.strip()[:40]!r}")


def day(value: str) -> str:
    """xs:date or xs:dateTime as YYYY-MM-DD (the date itself is checked by validation)."""
    text = value.strip()
    if len(text) < 10 or text[4] != "-" or text[7] != "-":
        raise EdfiValueError(f"not an xs:date: {text[:40]!r}")
    return text[:10]


def credits(value: str) -> float:
    """A CreditsValue (decimal, up to three fraction digits) as a number."""
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise EdfiValueError(f"not a decimal number: {value.strip()[:40]!r}") from None
    if not number.is_finite():
        raise EdfiValueError(f"not a decimal number: {value.strip()[:40]!r}")
    return float(number)


def whole(value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise EdfiValueError(f"not a whole number: {value.strip()[:40]!r}") from None


def phone_digits(value: str) -> str:
    """A TelephoneNumber (`(950) 342 7522`, `+1 950-342-7522`) as its digits."""
    return "".join(ch for ch in value if ch.isdigit())


def best_score(scores: list[tuple[str, str]]) -> tuple[str, str] | None:
    """Of (AssessmentReportingMethod, Result) pairs, the (our method, result) to store:
    the first of the most preferred method."""
    ranked = []
    for i, (method, result) in enumerate(scores):
        ours = REPORTING_METHODS.get(code_of(method).lower(), "other")
        ranked.append((_METHOD_RANK[ours], i, ours, result))
    if not ranked:
        return None
    _rank, _i, ours, result = min(ranked)
    return ours, result


#: our field -> the Ed-Fi 5.x element it comes from (interchange XML path; the API's
#: JSON names are in node.importing.edfi_resources). Also the table in docs/IMPORT.md.
SOURCES: dict[tuple[str, str], str] = {
    ("students", "state_student_id"): "Student/StudentUniqueId",
    ("students", "first_name"): "Student/Name/FirstName",
    ("students", "middle_name"): "Student/Name/MiddleName",
    ("students", "last_name_1"): "Student/Name/LastSurname",
    ("students", "last_name_2"): "Student/msix:SecondLastSurname (extension)",
    ("students", "suffix"): "Student/Name/GenerationCodeSuffix",
    ("students", "sex"): "StudentEducationOrganizationAssociation/Sex",
    ("students", "birth_date"): "Student/BirthData/BirthDate",
    ("students", "birth_city"): "Student/BirthData/BirthCity",
    ("students", "birth_state"): "Student/BirthData/BirthStateAbbreviation",
    ("students", "birth_country"): "Student/BirthData/BirthCountry",
    ("students", "multiple_birth"): "Student/BirthData/MultipleBirthStatus",
    ("students", "male_parent_first_name"): "Contact/Name/FirstName",
    ("students", "male_parent_last_name"): "Contact/Name/LastSurname",
    ("students", "female_parent_first_name"): "Contact/Name/FirstName",
    ("students", "female_parent_last_name"): "Contact/Name/LastSurname",
    ("students", "parent1_email"): "Contact/ElectronicMail/ElectronicMailAddress",
    ("students", "parent1_phone"): "Contact/Telephone/TelephoneNumber",
    ("students", "parent2_email"): "Contact/ElectronicMail/ElectronicMailAddress",
    ("students", "parent2_phone"): "Contact/Telephone/TelephoneNumber",
    ("students", "qualifying_moves"):
        "StudentMigrantEducationProgramAssociation/QualifyingArrivalDate",
    ("qualifying_moves", "qualifying_arrival_date"):
        "StudentMigrantEducationProgramAssociation/QualifyingArrivalDate",
    ("qualifying_moves", "eligibility_expiration_date"):
        "StudentMigrantEducationProgramAssociation/EligibilityExpirationDate",
    ("enrollments", "enrollment_id"): "StudentSchoolAssociation/SchoolReference+EntryDate",
    ("enrollments", "enrollment_date"): "StudentSchoolAssociation/EntryDate",
    ("enrollments", "withdrawal_date"): "StudentSchoolAssociation/ExitWithdrawDate",
    ("enrollments", "grade_level"): "StudentSchoolAssociation/EntryGradeLevel",
    ("enrollments", "english_learner"):
        "StudentEducationOrganizationAssociation/LimitedEnglishProficiency",
    ("enrollments", "priority_for_services"):
        "StudentMigrantEducationProgramAssociation/PriorityForServices",
    ("enrollments", "continuation_of_services_reason"):
        "StudentMigrantEducationProgramAssociation/ContinuationOfServicesReason",
    ("enrollments", "residency_date"):
        "StudentMigrantEducationProgramAssociation/StateResidencyDate",
    ("enrollments", "idea_indicator"): "StudentSpecialEducationProgramAssociation/IdeaEligibility",
    ("enrollments", "immunization_record_flag"): "StudentHealth/RequiredImmunization",
    ("enrollments", "medical_alert"): "StudentSchoolAssociation/msix:MedicalAlert (extension)",
    ("enrollments", "designated_graduation_school"):
        "StudentSchoolAssociation/msix:DesignatedGraduationSchool (extension)",
    ("courses", "course_title"): "CourseTranscript/CourseTitle",
    ("courses", "state_course_code"): "CourseTranscript/CourseReference/CourseIdentity/CourseCode",
    ("courses", "subject_area"): "CourseTranscript/AcademicSubject",
    ("courses", "begin_academic_year"): "CourseTranscript/StudentAcademicRecordReference/"
                                        "SchoolYear (minus 1)",
    ("courses", "end_academic_year"): "CourseTranscript/StudentAcademicRecordReference/SchoolYear",
    ("courses", "term_type"): "CourseTranscript/StudentAcademicRecordReference/Term",
    ("courses", "credits_attempted"): "CourseTranscript/AttemptedCredits/Credits",
    ("courses", "credits_granted"): "CourseTranscript/EarnedCredits/Credits",
    ("courses", "final_grade"): "CourseTranscript/FinalLetterGradeEarned",
    ("courses", "course_status"): "CourseTranscript/CourseAttemptResult",
    ("courses", "grade_to_date"): "CourseTranscript/msix:GradeToDate (extension)",
    ("courses", "clock_hours"): "CourseTranscript/msix:ClockHours (extension)",
    ("assessments", "assessment_title"):
        "StudentAssessment/AssessmentReference/AssessmentIdentity/AssessmentIdentifier",
    ("assessments", "administration_month"): "StudentAssessment/AdministrationDate",
    ("assessments", "reporting_method"): "StudentAssessment/ScoreResult/AssessmentReportingMethod",
    ("assessments", "score_result"): "StudentAssessment/ScoreResult/Result",
    ("assessments", "interpretation"): "StudentAssessment/PerformanceLevel/PerformanceLevel",
    ("assessments", "interpretation_raw"): "StudentAssessment/PerformanceLevel/PerformanceLevel",
}
_MOVE_FIELDS = ("move_from_city", "move_from_state", "move_from_country", "move_to_city",
                "move_to_state")
for _f in _MOVE_FIELDS:
    SOURCES[("qualifying_moves", _f)] = (
        "StudentMigrantEducationProgramAssociation/msix:QualifyingMove"
        + "".join(w.capitalize() for w in _f.split("_")[1:]) + " (extension)")
