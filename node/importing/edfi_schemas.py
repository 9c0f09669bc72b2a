"""The fields of each Ed-Fi ODS/API resource a pull reads (v7, Data Standard 5.x JSON).

Owns the shape the API's published OpenAPI gives each resource read by
`node.importing.edfi_resources`: field names in camelCase, descriptors with a
`Descriptor` suffix, references as objects (`studentReference: {studentUniqueId}`),
collections in the plural; the fields we read with their JSON type, the others by name
only. `check_item` lists an item's schema surprises: a field its resource does not have,
or a field of the wrong JSON type. Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_COMMON = {"id": "str", "_etag": "any", "_lastModifiedDate": "any", "link": "any",
           "_ext": "object"}
_LIST, _OBJ, _STR, _BOOL, _NUM, _ANY = "list", "object", "str", "bool", "number", "any"


def _known(names: str) -> dict[str, str]:
    """Fields a resource has that we do not read (any JSON type)."""
    return dict.fromkeys(names.split(), _ANY)


#: resource -> {field: JSON type}; the fields we read are typed, the others "any"
SCHEMAS: dict[str, dict[str, str]] = {
    "students": {
        "studentUniqueId": _STR, "firstName": _STR, "middleName": _STR, "lastSurname": _STR,
        "generationCodeSuffix": _STR, "birthDate": _STR, "birthCity": _STR,
        "birthStateAbbreviationDescriptor": _STR, "birthCountryDescriptor": _STR,
        "multipleBirthStatus": _BOOL, "birthSexDescriptor": _STR,
        **_known("personalTitlePrefix maidenName preferredFirstName preferredLastSurname "
                 "personalIdentificationDocuments otherNames birthInternationalProvince "
                 "dateEnteredUS citizenshipStatusDescriptor visas personReference")},
    "studentEducationOrganizationAssociations": {
        "studentReference": _OBJ, "educationOrganizationReference": _OBJ, "sexDescriptor": _STR,
        "limitedEnglishProficiencyDescriptor": _STR, "studentCharacteristics": _LIST,
        **_known("addresses internationalAddresses telephones electronicMails genderIdentity "
                 "hispanicLatinoEthnicity races tribalAffiliations languages disabilities "
                 "cohortYears studentIndicators studentIdentificationCodes loginId "
                 "profileThumbnail ancestryEthnicOrigins primaryLearningDeviceAwayFromSchool"
                 "Descriptor primaryLearningDeviceAccessDescriptor "
                 "primaryLearningDeviceProviderDescriptor internetAccessInResidence "
                 "barrierToInternetAccessInResidenceDescriptor "
                 "internetAccessTypeInResidenceDescriptor "
                 "internetPerformanceInResidenceDescriptor "
                 "supporterMilitaryConnectionDescriptor displacedStudents")},
    "studentMigrantEducationProgramAssociations": {
        "studentReference": _OBJ, "programReference": _OBJ,
        "educationOrganizationReference": _OBJ, "beginDate": _STR, "endDate": _STR,
        "priorityForServices": _BOOL, "lastQualifyingMove": _STR,
        "qualifyingArrivalDate": _STR, "eligibilityExpirationDate": _STR,
        "stateResidencyDate": _STR, "continuationOfServicesReasonDescriptor": _STR,
        **_known("reasonExitedDescriptor servedOutsideOfRegularSession "
                 "programParticipationStatuses usInitialEntry usMostRecentEntry "
                 "usInitialSchoolEntry migrantEducationProgramServices")},
    "studentProgramAssociations": {
        "studentReference": _OBJ, "programReference": _OBJ,
        **_known("educationOrganizationReference beginDate endDate reasonExitedDescriptor "
                 "servedOutsideOfRegularSession programParticipationStatuses services")},
    "studentSpecialEducationProgramAssociations": {
        "studentReference": _OBJ, "ideaEligibility": _BOOL,
        **_known("programReference educationOrganizationReference beginDate endDate "
                 "reasonExitedDescriptor servedOutsideOfRegularSession "
                 "programParticipationStatuses specialEducationSettingDescriptor "
                 "serviceProviders specialEducationHoursPerWeek schoolHoursPerWeek "
                 "shortenedSchoolDayIndicator reductionInHoursPerWeekComparedToPeers "
                 "multiplyDisabled medicallyFragile lastEvaluationDate iepReviewDate "
                 "iepBeginDate iepEndDate disabilities specialEducationProgramServices "
                 "specialEducationExitReasonDescriptor specialEducationExitDate "
                 "specialEducationExitExplained")},
    "studentSchoolAssociations": {
        "studentReference": _OBJ, "schoolReference": _OBJ, "entryDate": _STR,
        "exitWithdrawDate": _STR, "entryGradeLevelDescriptor": _STR,
        **_known("primarySchool schoolYearTypeReference entryGradeLevelReasonDescriptor "
                 "entryTypeDescriptor repeatGradeIndicator classOfSchoolYearTypeReference "
                 "schoolChoiceTransfer exitWithdrawTypeDescriptor educationPlans "
                 "residencyStatusDescriptor graduationPlanReference alternativeGraduationPlans "
                 "employedWhileEnrolled calendarReference fullTimeEquivalency "
                 "termCompletionIndicator nextYearSchoolReference nextYearGradeLevelDescriptor "
                 "schoolChoice schoolChoiceBasisDescriptor enrollmentTypeDescriptor")},
    "courseTranscripts": {
        "studentAcademicRecordReference": _OBJ, "courseReference": _OBJ, "courseTitle": _STR,
        "attemptedCredits": _NUM, "earnedCredits": _NUM, "finalLetterGradeEarned": _STR,
        "finalNumericGradeEarned": _NUM, "courseAttemptResultDescriptor": _STR,
        "academicSubjects": _LIST, "partialCourseTranscriptAwards": _LIST,
        **_known("attemptedCreditTypeDescriptor attemptedCreditConversion "
                 "earnedCreditTypeDescriptor earnedCreditConversion earnedAdditionalCredits "
                 "whenTakenGradeLevelDescriptor methodCreditEarnedDescriptor "
                 "courseRepeatCodeDescriptor sections responsibleTeacherStaffReference "
                 "coursePrograms alternativeCourseTitle externalEducationOrganizationReference "
                 "externalEducationOrganizationNameOfInstitution "
                 "alternativeCourseIdentificationCodes assigningOrganizationIdentificationCode "
                 "courseCatalogURL creditCategories")},
    "studentAssessments": {
        "studentReference": _OBJ, "assessmentReference": _OBJ,
        "studentAssessmentIdentifier": _STR, "administrationDate": _STR,
        "scoreResults": _LIST, "performanceLevels": _LIST,
        **_known("administrationEndDate serialNumber administrationLanguageDescriptor "
                 "administrationEnvironmentDescriptor accommodations "
                 "retestIndicatorDescriptor reasonNotTestedDescriptor "
                 "whenAssessedGradeLevelDescriptor eventCircumstanceDescriptor "
                 "eventDescription items studentObjectiveAssessments schoolYearTypeReference "
                 "platformTypeDescriptor period assessedMinutes reportedSchoolReference "
                 "reportedSchoolIdentifier")},
    "studentHealths": {
        "studentReference": _OBJ, "requiredImmunizations": _LIST,
        "additionalImmunizations": _LIST,
        **_known("educationOrganizationReference asOfDate "
                 "nonMedicalImmunizationExemptionDescriptor "
                 "nonMedicalImmunizationExemptionDate")},
    "contacts": {
        "contactUniqueId": _STR, "firstName": _STR, "lastSurname": _STR, "sexDescriptor": _STR,
        "telephones": _LIST, "electronicMails": _LIST,
        **_known("personalTitlePrefix middleName generationCodeSuffix maidenName "
                 "preferredFirstName preferredLastSurname genderIdentity addresses "
                 "internationalAddresses loginId languages personReference "
                 "highestCompletedLevelOfEducationDescriptor otherNames "
                 "personalIdentificationDocuments")},
    "studentContactAssociations": {
        "studentReference": _OBJ, "contactReference": _OBJ, "relationDescriptor": _STR,
        "primaryContactStatus": _BOOL, "contactPriority": _NUM, "legalGuardian": _BOOL,
        **_known("livesWith emergencyContactStatus contactRestrictions")},
}
for _schema in SCHEMAS.values():
    _schema.update(_COMMON)

#: the resources of a pull: the program associations and organization associations
#: first (they say who the migrant students are), then the others
RESOURCES = ("studentMigrantEducationProgramAssociations", "studentProgramAssociations",
             "studentEducationOrganizationAssociations",
             "studentSpecialEducationProgramAssociations", "students",
             "studentSchoolAssociations", "courseTranscripts", "studentAssessments",
             "studentHealths", "studentContactAssociations", "contacts")
DECIDING = frozenset(RESOURCES[:3])
_TYPES: dict[str, tuple[type, ...]] = {_STR: (str,), _BOOL: (bool,), _NUM: (int, float),
                                       _LIST: (list,), _OBJ: (dict,)}
_SHOWN = {_STR: "text", _BOOL: "true or false", _NUM: "a number", _LIST: "a list",
          _OBJ: "an object"}


def check_item(resource: str, item: Mapping[str, Any]) -> list[tuple[str, str]]:
    schema = SCHEMAS[resource]
    found = []
    for key, value in item.items():
        kind = schema.get(key)
        if kind is None:
            found.append((key, f"unknown field (not in the Ed-Fi 5.x {resource} resource)"))
        elif kind != _ANY and value is not None and (
                type(value) not in _TYPES[kind] or (kind == _NUM and isinstance(value, bool))):
            found.append((key, f"expected {_SHOWN[kind]}, got {kind_of(value)}"))
    return found


def kind_of(value: Any) -> str:
    """The JSON name of a value's type, for a reason (never the value itself)."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null"
