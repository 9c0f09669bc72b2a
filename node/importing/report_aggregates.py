"""Computing the report aggregates (issue 15 item 5) once per import, not per request.

`recompute(db, today, state)` reads every stored student once and replaces the tables of
`node.store.reports` in one transaction:

- data quality: per group (all children, each age band, each grade of the latest
  enrollment) and element of `node.importing.data_quality.ELEMENTS`, how many children the
  element applies to and how many have it; and per student the bit masks behind each cell
  (the drill-down);
- child count, for the performance period holding `today` and the two before it
  (`performance_periods`), by the counting rules of `CHILD_COUNT_RULES`;
- mobility from the qualifying moves: arrivals in `state` by month of the qualifying
  arrival date and by the state (or country) moved from; departures from `state` by month
  and by the state moved to.

`importer.import_files` calls `refresh` after every run (the drop-folder job imports with
it too); `statenode reports recompute` calls it by hand; the hourly `refresh_job`
recomputes them once a day (ages move on) or when an import left them stale; and
`statenode doctor` says when they are older than the last import run.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from node import clock
from node.importing.data_quality import ELEMENTS, LABELS, student_rows
from node.store import reports

if TYPE_CHECKING:
    from node.services import Services

#: the counting rules, as the child-count page states them (ESEA §1303(e) and the ED
#: child-count instructions; MSIX.md §1.3 names the Child Count Reconciliation report)
CHILD_COUNT_RULES = {
    "cat1": ("Category 1: eligible migrant children aged 3 through 21 who were resident in "
             "the state for at least one day in the performance period (September 1 – "
             "August 31)."),
    "cat2": ("Category 2: the Category 1 children who were served in a summer or "
             "intersession MEP project during the performance period."),
}
#: how those rules read the stored record
CHILD_COUNT_READING = (
    "Eligible: a qualifying move whose arrival date is on or before the last day of the "
    "period and whose eligibility expiration date (36 months after the arrival date when "
    "none is recorded) is on or after its first day.",
    "Aged 3 through 21: the third birthday falls on or before the last day of the period "
    "and the twenty-second birthday after its first day.",
    "Resident at least one day: an enrollment of any type, residency only included, that "
    "began on or before the last day of the period and was not withdrawn before its first "
    "day.",
    "Served in a summer or intersession project: such an enrollment of type summer MEP, "
    "or whose MEP project type says summer or intersession.",
)
PERIODS_KEPT = 3


def performance_period(day: date) -> tuple[date, date]:
    """The performance period (September 1 – August 31) holding `day`."""
    start_year = day.year if day.month >= 9 else day.year - 1
    return date(start_year, 9, 1), date(start_year + 1, 8, 31)


def performance_periods(today: date, kept: int = PERIODS_KEPT) -> list[tuple[date, date]]:
    start, _end = performance_period(today)
    return [(date(start.year - i, 9, 1), date(start.year - i + 1, 8, 31))
            for i in range(kept)]


def period_label(start: date) -> str:
    return f"{start.year}-{(start.year + 1) % 100:02d}"


def _years_before(day: date, years: int) -> str:
    try:
        return day.replace(year=day.year - years).isoformat()
    except ValueError:  # February 29
        return day.replace(year=day.year - years, day=28).isoformat()


CHILD_COUNT_SQL = """
SELECT count(*) AS cat1, coalesce(sum(EXISTS (
  SELECT 1 FROM enrollments e WHERE e.student_id = s.id
   AND e.enrollment_date <= :end AND coalesce(e.withdrawal_date, '9999') >= :start
   AND (e.enrollment_type = 'summer_mep' OR lower(coalesce(e.mep_project_type, ''))
        LIKE '%summer%' OR lower(coalesce(e.mep_project_type, '')) LIKE '%intersession%'))),
  0) AS cat2
FROM students s
WHERE s.birth_date <= :born_by AND s.birth_date > :born_after
  AND EXISTS (SELECT 1 FROM qualifying_moves m WHERE m.student_id = s.id
   AND m.qualifying_arrival_date <= :end
   AND coalesce(m.eligibility_expiration_date,
                date(m.qualifying_arrival_date, '+36 months')) >= :start)
  AND EXISTS (SELECT 1 FROM enrollments e WHERE e.student_id = s.id
   AND e.enrollment_date <= :end AND coalesce(e.withdrawal_date, '9999') >= :start)
"""


def child_count(db: Database, start: date, end: date) -> tuple[int, int]:
    """(Category 1, Category 2) for the period [start, end]."""
    row = db.execute(CHILD_COUNT_SQL, {
        "start": start.isoformat(), "end": end.isoformat(),
        "born_by": _years_before(end, 3), "born_after": _years_before(start, 22),
    }).fetchone()
    return int(row[0]), int(row[1])


MOVES_SQL = """
SELECT substr(qualifying_arrival_date, 1, 7) AS month, move_from_state, move_from_country,
  move_to_state FROM qualifying_moves WHERE qualifying_arrival_date IS NOT NULL
"""


def recompute(db: Database, today: date, state: str) -> dict[str, str]:
    """Replace every aggregate (one transaction: the caller's); return the new meta."""
    cells: Counter[tuple[str, str, str]] = Counter()
    of: Counter[tuple[str, str, str]] = Counter()
    students: list[tuple[int, str, str, str, str, int, int]] = []
    for row in student_rows(db, today):
        applies = have = 0
        for i, (_label, applies_to, present) in enumerate(ELEMENTS):
            if applies_to(row):
                applies |= 1 << i
                if present(row):
                    have |= 1 << i
        groups = ("total", f"age:{row['band']}", f"grade:{row['grade']}")
        for g in groups:
            cells[("dq", g, "")] += 1
            for i, label in enumerate(LABELS):
                if applies >> i & 1:
                    of[("dq", g, label)] += 1
                    if have >> i & 1:
                        cells[("dq", g, label)] += 1
        name = " ".join(str(row.get(k) or "") for k in ("first_name", "last_name_1")).strip()
        students.append((row["id"], row["state_student_id"], name, row["band"],
                         row["grade"], applies, have))
    for key in of:
        cells.setdefault(key, 0)
    for start, end in performance_periods(today):
        cat1, cat2 = child_count(db, start, end)
        cells[("cc", start.isoformat(), "cat1")] = cat1
        cells[("cc", start.isoformat(), "cat2")] = cat2
    for move in db.query(MOVES_SQL):
        if move["move_to_state"] == state:
            where = move["move_from_state"] or move["move_from_country"] or "unknown"
            cells[("arr_month", move["month"], "")] += 1
            cells[("arr_from", where, "")] += 1
        if move["move_from_state"] == state:
            cells[("dep_month", move["month"], "")] += 1
            cells[("dep_to", move["move_to_state"] or "unknown", "")] += 1
    meta = {"computed_at": f"{clock.now():.3f}", "as_of": today.isoformat(),
            "import_run": str(reports.last_import_run(db)), "state": state,
            "students": str(len(students))}
    reports.replace_all(db, ((r, k1, k2, n, of.get((r, k1, k2))) for (r, k1, k2), n
                             in cells.items()), students, meta)
    return meta


def refresh(store: Any, state: str, today: date | None = None) -> dict[str, str]:
    """Recompute the aggregates in the store's writer (one transaction of their own, so
    an import already committed is never undone by a failure here)."""
    day = today or date.today()

    def work(db: Database) -> dict[str, str]:
        reports.apply_migrations(db)
        return recompute(db, day, state)

    result: dict[str, str] = store.call(work)
    return result


def needs_refresh(db: Database, today: date) -> str:
    """Why the aggregates should be recomputed now ('' if not): stale after an import
    (one that failed to refresh them), or computed on an earlier day (ages move on)."""
    why = reports.is_stale(db)
    if why:
        return why
    as_of = reports.meta(db).get("as_of", "")
    return f"computed for {as_of}, not today" if as_of != today.isoformat() else ""


async def refresh_job(services: Services) -> dict[str, str] | None:
    """Scheduler job (hourly): recompute the aggregates when `needs_refresh` says so —
    at most once a day unless an import left them stale."""
    today = date.today()
    state = services.cfg.node.id

    def work(db: Database) -> dict[str, str] | None:
        reports.apply_migrations(db)
        if not needs_refresh(db, today):
            return None
        return recompute(db, today, state)

    return await services.store.run(work)
