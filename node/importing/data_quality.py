"""Data-quality report: completeness of the required elements by age band and grade.

Follows the MSIX goal "upload all required MDEs that are applicable to a child's age and
grade level" (MSIX.md §1.3, "Data submission and data quality"): each element below has
a rule saying to which children it applies (every child, school-age children, children
in a basic school enrollment, secondary grades 09-12, tested grades 03-12), and the
report counts, per age band and per grade of the latest enrollment, how many children it
applies to and how many have it. Also lists the latest import runs and their rejected
rows (file, line, field, reason; never the row's data). Reads the store's tables
(`node.store.database`); runs on the store's thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import PurePath
from typing import Any

from sqlite_utils import Database

AGE_BANDS = ((0, 2, "0–2"), (3, 5, "3–5"), (6, 10, "6–10"), (11, 13, "11–13"),
             (14, 17, "14–17"), (18, 21, "18–21"), (22, 200, "22 and over"))
GRADE_ORDER = ("IT", "PR", "PK", "TK", "KG", *(f"{n:02d}" for n in range(1, 14)), "UG", "OS")
SECONDARY = frozenset({"09", "10", "11", "12"})
TESTED = frozenset(f"{n:02d}" for n in range(3, 13))
NO_GRADE = "none"

Row = dict[str, Any]


def _has(*names: str) -> Callable[[Row], bool]:
    return lambda r: all(r.get(n) not in (None, "") for n in names)


def _any(*names: str) -> Callable[[Row], bool]:
    return lambda r: any(r.get(n) not in (None, "") for n in names)


def _always(_r: Row) -> bool:
    return True


# (label, applies to this child?, is it present?)
ELEMENTS: tuple[tuple[str, Callable[[Row], bool], Callable[[Row], bool]], ...] = (
    ("Name", _always, _has("first_name", "last_name_1")),
    ("Sex", _always, _has("sex")),
    ("Birth date", _always, _has("birth_date")),
    ("Birth place", _always, _any("birth_city", "birth_country")),
    ("Parent name", _always, _any("male_parent_first_name", "male_parent_last_name",
                                  "female_parent_first_name", "female_parent_last_name")),
    ("Arrival date (QAD)", _always, lambda r: r["qad"] > 0),
    ("Eligibility expiry", _always, lambda r: r["eed"] > 0),
    ("Enrollment", _always, _has("enrollment_date", "school_or_project_name")),
    ("Grade level", lambda r: 3 <= r["age"] <= 21, _has("grade_level")),
    ("School NCES id", lambda r: r.get("enrollment_type") == "basic_school",
     _has("school_nces_id")),
    ("Course history", lambda r: r["grade"] in SECONDARY, lambda r: r["courses"] > 0),
    ("Credits or grade", lambda r: r["grade"] in SECONDARY and r["courses"] > 0,
     lambda r: r["courses_open"] == 0),
    ("Assessment", lambda r: r["grade"] in TESTED, lambda r: r["tests"] > 0),
)
LABELS = tuple(e[0] for e in ELEMENTS)

STUDENTS_SQL = """
SELECT s.id, s.state_student_id, s.first_name, s.last_name_1, s.sex, s.birth_date,
  s.birth_city, s.birth_country,
  s.male_parent_first_name, s.male_parent_last_name, s.female_parent_first_name,
  s.female_parent_last_name,
  (SELECT count(*) FROM qualifying_moves m WHERE m.student_id = s.id
     AND m.qualifying_arrival_date IS NOT NULL) AS qad,
  (SELECT count(*) FROM qualifying_moves m WHERE m.student_id = s.id
     AND m.eligibility_expiration_date IS NOT NULL) AS eed,
  (SELECT count(*) FROM assessments a WHERE a.student_id = s.id) AS tests,
  (SELECT count(*) FROM courses c JOIN enrollments e ON c.enrollment_row = e.id
     WHERE e.student_id = s.id) AS courses,
  (SELECT count(*) FROM courses c JOIN enrollments e ON c.enrollment_row = e.id
     WHERE e.student_id = s.id AND c.credits_granted IS NULL
     AND NOT (coalesce(c.course_status, '') = 'in_progress'
              AND c.grade_to_date IS NOT NULL)) AS courses_open
FROM students s
"""
LATEST_ENROLLMENT_SQL = """
SELECT student_id, grade_level, enrollment_type, school_or_project_name, enrollment_date,
  school_nces_id
FROM enrollments ORDER BY student_id, coalesce(enrollment_date, ''), seq
"""


@dataclass
class Group:
    """One line of the report: a group of children and, per element, (have, applies)."""

    label: str
    children: int = 0
    counts: dict[str, list[int]] = field(default_factory=lambda: {k: [0, 0] for k in LABELS})

    def cell(self, label: str) -> tuple[int, int, float | None]:
        have, applies = self.counts[label]
        return have, applies, (100.0 * have / applies if applies else None)

    def add(self, row: Row) -> None:
        self.children += 1
        for label, applies, present in ELEMENTS:
            if applies(row):
                self.counts[label][1] += 1
                if present(row):
                    self.counts[label][0] += 1


@dataclass
class Report:
    total: Group
    by_age: list[Group]
    by_grade: list[Group]
    runs: list[Row]
    rejects: dict[int, list[Row]]
    elements: tuple[str, ...] = LABELS


def age_on(birth: str | None, today: date) -> int:
    try:
        b = date.fromisoformat(birth or "")
    except ValueError:
        return -1
    return today.year - b.year - ((today.month, today.day) < (b.month, b.day))


def age_band(age: int) -> str:
    for low, high, label in AGE_BANDS:
        if low <= age <= high:
            return label
    return "unknown"


def _files(value: Any) -> str:
    """The file names (not folders) of an import run, from its JSON list."""
    try:
        names = json.loads(value) if isinstance(value, str) else list(value or [])
    except ValueError:
        return str(value)
    return ", ".join(PurePath(str(n)).name for n in names)


def completeness(db: Database, today: date, *, runs: int = 10,
                 rejects_per_run: int = 100) -> Report:
    """The report for every stored student, as of `today`."""
    total = Group("All children")
    ages: dict[str, Group] = {}
    grades: dict[str, Group] = {}
    for row in student_rows(db, today):
        total.add(row)
        ages.setdefault(row["band"], Group(row["band"])).add(row)
        grades.setdefault(row["grade"], Group(row["grade"])).add(row)
    return Report(total=total, by_age=sort_bands(ages.values()),
                  by_grade=sort_grades(grades.values()), **import_runs(db, runs=runs,
                  rejects_per_run=rejects_per_run))


BAND_ORDER = [b[2] for b in AGE_BANDS] + ["unknown"]
GRADE_KEYS = [*GRADE_ORDER, NO_GRADE]


def sort_bands(groups: Iterable[Group]) -> list[Group]:
    return sorted(groups, key=lambda g: BAND_ORDER.index(g.label)
                  if g.label in BAND_ORDER else len(BAND_ORDER))


def sort_grades(groups: Iterable[Group]) -> list[Group]:
    return sorted(groups, key=lambda g: GRADE_KEYS.index(g.label)
                  if g.label in GRADE_KEYS else len(GRADE_KEYS))


def student_rows(db: Database, today: date) -> Iterator[Row]:
    """Every stored student with what the element rules read: the latest enrollment's
    fields, `age` (on `today`), `band` (its age band) and `grade` (`none` if no grade)."""
    latest: dict[int, Row] = {}
    for row in db.query(LATEST_ENROLLMENT_SQL):
        latest[row["student_id"]] = row
    for row in db.query(STUDENTS_SQL):
        enr = latest.get(row["id"], {})
        row.update({k: v for k, v in enr.items() if k != "student_id"})
        row["age"] = age_on(row.get("birth_date"), today)
        row["grade"] = enr.get("grade_level") or NO_GRADE
        row["band"] = age_band(row["age"])
        yield row


def import_runs(db: Database, *, runs: int = 10, rejects_per_run: int = 100,
                ) -> dict[str, Any]:
    """The latest import runs and their rejected rows (small: read on every request)."""
    run_rows = list(db.query("SELECT * FROM import_runs ORDER BY id DESC LIMIT ?", [runs]))
    rejects: dict[int, list[Row]] = {}
    for run in run_rows:
        run["files_display"] = _files(run.get("files"))
        run["started_display"] = str(run.get("started_at") or "").replace("T", " ")[:16]
        rejects[run["id"]] = list(db.query(
            "SELECT file, line, field, reason FROM import_rejects WHERE run_id = ? "
            "ORDER BY file, line, id LIMIT ?", [run["id"], rejects_per_run]))
    return {"runs": run_rows, "rejects": rejects}
