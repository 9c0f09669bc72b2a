"""Synthetic migrant student records for demos, tests and benchmarks.

Owns `generate_students` (one state's records: families of siblings sharing surnames,
parents and birth city; twins; qualifying moves; enrollments with NCES-like ids;
secondary courses with credits; assessments) and `derive_overlap` (the same children as
seen by another state, with the differences real records have). Output follows the
nested record shape of `protocol.records` (MSIX Minimum Data Elements, MSIX.md §4).
Name pools come from Faker's es_MX and en_US person providers, read once; all sampling
uses `random.Random`, so a (state, count, seed) triple always gives the same records.

Two error profiles for `derive_overlap` (issue 13 item 1). ``"gentle"`` (the default, used
by the demo) keeps the differences of the first release: dropped accents, swapped,
hyphenated or missing maternal surnames, nicknames, a rare typo, day/month swaps, a
missing birth city. ``"realistic"`` adds the error kinds real cross-state records have, at
rates of the order reported for school and civil registers (a few per cent per field):
typos of every kind (insertion, deletion, transposition, keyboard substitution, OCR
confusions such as rn/m and cl/d, Spanish phonetic confusions such as b/v, s/z/c, y/ll,
j/g, a dropped h) in given names and surnames; surnames reordered, hyphen-joined,
space-joined in one field, only the maternal one, the maternal one missing; compound
given names split into first and middle, shortened to one part, or joined; digit typos,
digit swaps, off-by-one days and years in birth dates (always a valid past date); missing
parents, birth city and birth country; a parent's name with a typo. `derive_overlap_labelled`
also returns the error kinds applied to each record (tests and benches pin them), and
`generate_students(..., twin_rate=...)` makes twins commoner for harder labelled sets.
"""

from __future__ import annotations

import copy
import random
import unicodedata
from datetime import date, timedelta
from functools import cache
from itertools import accumulate
from typing import Any

from faker.providers.person.en_US import Provider as EnglishNames
from faker.providers.person.es_MX import Provider as SpanishNames

REFERENCE_DATE = date(2025, 8, 1)  # "today" of the synthetic world, fixed for determinism

STATE_FIPS = {
    "AL": "01", "AK": "02", "AZ": "04", "AR": "05", "CA": "06", "CO": "08", "CT": "09",
    "DE": "10", "DC": "11", "FL": "12", "GA": "13", "HI": "15", "ID": "16", "IL": "17",
    "IN": "18", "IA": "19", "KS": "20", "KY": "21", "LA": "22", "ME": "23", "MD": "24",
    "MA": "25", "MI": "26", "MN": "27", "MS": "28", "MO": "29", "MT": "30", "NE": "31",
    "NV": "32", "NH": "33", "NJ": "34", "NM": "35", "NY": "36", "NC": "37", "ND": "38",
    "OH": "39", "OK": "40", "OR": "41", "PA": "42", "RI": "44", "SC": "45", "SD": "46",
    "TN": "47", "TX": "48", "UT": "49", "VT": "50", "VA": "51", "WA": "53", "WV": "54",
    "WI": "55", "WY": "56", "PR": "72",
}
US_CITIES = {
    "TX": ["McAllen", "Brownsville", "Harlingen", "Laredo", "El Paso", "Pharr", "Edinburg",
           "Weslaco", "Eagle Pass", "Del Rio", "Mission", "San Juan"],
    "CA": ["Salinas", "Fresno", "Bakersfield", "Oxnard", "Watsonville", "Delano", "Madera",
           "Visalia", "Santa Maria", "Indio", "King City", "Coachella"],
    "FL": ["Immokalee", "Homestead", "Belle Glade", "Plant City", "Wimauma", "Apopka",
           "Ruskin", "Dover"],
    "WA": ["Yakima", "Wenatchee", "Pasco", "Mount Vernon", "Sunnyside", "Othello"],
    "OR": ["Hood River", "Woodburn", "Hermiston", "Salem", "Medford"],
    "MI": ["Holland", "Sparta", "Traverse City", "Benton Harbor", "Hart"],
    "NC": ["Dunn", "Mount Olive", "Clinton", "Wilson", "Hendersonville"],
    "GA": ["Tifton", "Moultrie", "Dalton", "Vidalia", "Valdosta"],
    "ID": ["Nampa", "Caldwell", "Twin Falls", "Burley", "Rupert"],
    "AZ": ["Yuma", "San Luis", "Somerton", "Casa Grande", "Willcox"],
    "NY": ["Albion", "Sodus", "Geneva", "Middletown", "Riverhead"],
}
GENERIC_US_CITIES = ["Springfield", "Riverside", "Fairview", "Franklin", "Greenville",
                     "Clinton", "Madison", "Georgetown", "Salem", "Marion"]
MEXICAN_CITIES = [
    ("Guadalajara", "MEX"), ("Morelia", "MEX"), ("Oaxaca de Juárez", "MEX"), ("Zamora", "MEX"),
    ("Uruapan", "MEX"), ("Celaya", "MEX"), ("León", "MEX"), ("Irapuato", "MEX"),
    ("Puebla", "MEX"), ("Acapulco", "MEX"), ("Culiacán", "MEX"), ("Hermosillo", "MEX"),
    ("Zacatecas", "MEX"), ("Fresnillo", "MEX"), ("Apatzingán", "MEX"), ("Querétaro", "MEX"),
    ("San Luis Potosí", "MEX"), ("Chilpancingo", "MEX"), ("Tlaxiaco", "MEX"),
    ("Huehuetenango", "GTM"), ("Quetzaltenango", "GTM"), ("San Pedro Sula", "HND"),
]
COMMON_SURNAMES = ["García", "Hernández", "Martínez", "López", "González", "Rodríguez",
                   "Pérez", "Sánchez", "Ramírez", "Flores", "Gómez", "Torres", "Díaz",
                   "Cruz", "Morales", "Reyes", "Gutiérrez", "Ortiz", "Jiménez", "Ruiz",
                   "Mendoza", "Vásquez", "Castillo", "Romero", "Ramos", "de la Cruz"]
COMMON_SPANISH_GIVEN = {
    "M": ["José", "Juan", "Jesús", "Luis", "Francisco", "Carlos", "Miguel", "Alejandro",
          "Jorge", "Eduardo", "Ignacio", "Roberto", "Manuel", "Guillermo", "Enrique"],
    "F": ["María", "Guadalupe", "Ana", "Rosa", "Dolores", "Concepción", "Rosario",
          "Consuelo", "Juana", "Leticia", "Margarita", "Isabel", "Sofía", "Ximena"],
}
NICKNAMES = {
    "Guadalupe": "Lupe", "Jesús": "Chuy", "José": "Pepe", "Francisco": "Paco",
    "Ignacio": "Nacho", "Enrique": "Quique", "Roberto": "Beto", "Alberto": "Beto",
    "Eduardo": "Lalo", "Concepción": "Concha", "Dolores": "Lola", "Rosario": "Chayo",
    "Consuelo": "Chelo", "Manuel": "Manolo", "Guillermo": "Memo", "Alejandro": "Alex",
    "Margarita": "Margo", "Isabel": "Chabela", "William": "Bill", "Robert": "Bob",
    "Elizabeth": "Liz", "Margaret": "Maggie", "James": "Jim", "Richard": "Rick",
    "Michael": "Mike", "Katherine": "Kate", "Christopher": "Chris", "Jennifer": "Jen",
    "Joseph": "Joe", "Daniel": "Danny", "Anthony": "Tony", "Thomas": "Tom",
    "Nicholas": "Nick", "Matthew": "Matt", "Samuel": "Sam", "Benjamin": "Ben",
    "Andrew": "Andy", "Abigail": "Abby", "Victoria": "Vicky", "Rebecca": "Becky",
}
SCHOOL_WORDS = ["Lincoln", "Washington", "Roosevelt", "César Chávez", "Dolores Huerta",
                "Benito Juárez", "Jefferson", "Riverside", "Valley View", "Sunrise",
                "Oak Grove", "Mesa Verde", "Emiliano Zapata", "Sam Houston", "Kennedy"]
HS_COURSES = [("English I", "English Language Arts"), ("English II", "English Language Arts"),
              ("Algebra I", "Mathematics"), ("Geometry", "Mathematics"),
              ("Algebra II", "Mathematics"), ("Biology", "Science"), ("Chemistry", "Science"),
              ("World History", "Social Studies"), ("U.S. History", "Social Studies"),
              ("Spanish I", "World Languages"), ("Physical Education", "Physical Education"),
              ("Art I", "Fine Arts"), ("Agricultural Science", "Career and Technical")]
LETTER_GRADES = ["A", "A-", "B+", "B", "B-", "C+", "C", "C-", "D", "F"]
INTERPRETATIONS = ["Advanced", "Proficient", "Basic", "Below Basic", "Far Below Basic"]


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _weighted(names: Any) -> tuple[list[str], list[float]]:
    if isinstance(names, dict):
        return list(names), list(accumulate(names.values()))
    return [" ".join(n.split()) for n in names], list(accumulate([1.0] * len(names)))


@cache
def _pools() -> dict[str, tuple[list[str], list[float]]]:
    """Name pools with cumulative weights, built once from Faker's provider data."""
    pools: dict[str, tuple[list[str], list[float]]] = {}
    for sex, attr in (("M", "first_names_male"), ("F", "first_names_female")):
        names, _ = _weighted(getattr(SpanishNames, attr))
        names = COMMON_SPANISH_GIVEN[sex] * 6 + names  # the common names are much commoner
        pools[f"es_{sex}"] = names, list(accumulate([1.0] * len(names)))
        pools[f"en_{sex}"] = _weighted(getattr(EnglishNames, attr))
    es_last, _ = _weighted(SpanishNames.last_names)
    es_last = COMMON_SURNAMES * 12 + es_last
    pools["es_last"] = es_last, list(accumulate([1.0] * len(es_last)))
    pools["en_last"] = _weighted(EnglishNames.last_names)
    return pools


class _Gen:
    def __init__(self, state: str, seed: int, purpose: str = "synthetic") -> None:
        self.state = state.upper()
        self.rng = random.Random(f"statenode-{purpose}:{self.state}:{seed}")
        self.pools = _pools()
        self.fips = STATE_FIPS.get(self.state, "99")
        self.cities = US_CITIES.get(self.state, GENERIC_US_CITIES)
        self.used_ids: set[str] = set()
        self.schools = [self._school(i) for i in range(40)]

    def pick(self, pool: str) -> str:
        names, cum = self.pools[pool]
        return self.rng.choices(names, cum_weights=cum)[0]

    def student_id(self) -> str:
        while True:
            sid = f"{self.state}{self.rng.randrange(10**10):010d}"
            if sid not in self.used_ids:
                self.used_ids.add(sid)
                return sid

    def _school(self, i: int) -> dict[str, Any]:
        rng = self.rng
        lea = f"{self.fips}{rng.randrange(100000):05d}"
        city = rng.choice(self.cities)
        return {"lea": lea, "nces": f"{lea}{rng.randrange(100000):05d}", "city": city,
                "word": rng.choice(SCHOOL_WORDS), "district": f"{city} ISD",
                "zip": f"{rng.randrange(10000, 99999)}"}

    def date_between(self, start: date, end: date) -> date:
        days = max((end - start).days, 0)
        return start + timedelta(days=self.rng.randint(0, days))

    # ---- families -------------------------------------------------------------------
    def family(self, size: int, twin_rate: float = 0.015) -> list[dict[str, Any]]:
        rng = self.rng
        spanish = rng.random() < 0.8
        english_given = not spanish or rng.random() < 0.3
        if spanish:
            father = (self.pick("es_M"), self.pick("es_last"), self.pick("es_last"))
            mother = (self.pick("es_F"), self.pick("es_last"), self.pick("es_last"))
            city, country = rng.choice(MEXICAN_CITIES) if rng.random() < 0.6 else (
                rng.choice(self.cities), "USA")
        else:
            father = (self.pick("en_M"), self.pick("en_last"), "")
            mother = (self.pick("en_F"), father[1], "")
            city, country = rng.choice(self.cities), "USA"
        birth_state = self.state if country == "USA" else ""
        moves = self.moves()
        kids: list[dict[str, Any]] = []
        youngest = REFERENCE_DATE - timedelta(days=365 * 3)
        birth = self.date_between(REFERENCE_DATE - timedelta(days=365 * 21),
                                  youngest - timedelta(days=330 * (size - 1)))
        while len(kids) < size:
            twins = 2 if rng.random() < twin_rate else 1
            for _ in range(twins):
                sex = "X" if rng.random() < 0.003 else rng.choice("FM")
                kids.append(self.child(sex, birth, twins > 1, spanish, english_given, father,
                                       mother, city, birth_state, country, moves))
            birth = min(birth + timedelta(days=rng.randint(330, 1100)), youngest)
        return kids

    def moves(self) -> list[dict[str, Any]]:
        rng = self.rng
        out = []
        qad = self.date_between(REFERENCE_DATE - timedelta(days=365 * 3), REFERENCE_DATE)
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
            if rng.random() < 0.5:
                city, country = rng.choice(MEXICAN_CITIES)
                from_state = ""
            else:
                from_state = rng.choice([s for s in US_CITIES if s != self.state])
                city, country = rng.choice(US_CITIES[from_state]), "USA"
            out.append({"qualifying_arrival_date": qad, "move_from_city": city,
                        "move_from_state": from_state, "move_from_country": country,
                        "move_to_city": rng.choice(self.cities), "move_to_state": self.state})
            qad = qad - timedelta(days=rng.randint(120, 500))
        return out

    def child(self, sex: str, birth: date, twin: bool, spanish: bool, english_given: bool,
              father: tuple[str, str, str], mother: tuple[str, str, str], city: str,
              birth_state: str, country: str, moves: list[dict[str, Any]]) -> dict[str, Any]:
        rng = self.rng
        g = "F" if sex == "F" else "M" if sex == "M" else rng.choice("FM")
        pool = f"en_{g}" if english_given else f"es_{g}"
        first = self.pick(pool)
        middle = self.pick(pool) if rng.random() < 0.4 else ""
        if middle == first:
            middle = ""
        suffix = "Jr." if not spanish and sex == "M" and rng.random() < 0.03 else ""
        student: dict[str, Any] = {
            "state_student_id": self.student_id(), "state_student_id_type": "02",
            "owner_state": self.state, "first_name": first, "middle_name": middle,
            "last_name_1": father[1], "last_name_2": mother[1] if spanish else "",
            "suffix": suffix, "sex": sex, "birth_date": birth.isoformat(),
            "multiple_birth": twin, "birth_city": city, "birth_state": birth_state,
            "birth_country": country, "male_parent_first_name": father[0],
            "male_parent_last_name": father[1] if rng.random() < 0.7
            else f"{father[1]} {father[2]}".strip(),
            "female_parent_first_name": mother[0], "female_parent_last_name": mother[1],
            "parent1_phone": f"{rng.randrange(200, 999)}{rng.randrange(10**7):07d}",
        }
        student["qualifying_moves"] = self.moves_of(moves, birth)
        student["enrollments"] = self.enrollments(birth)
        student["assessments"] = self.assessments(birth)
        return student

    def moves_of(self, moves: list[dict[str, Any]], birth: date) -> list[dict[str, Any]]:
        """The family's `moves` (latest first) made in the life of a child born on `birth`:
        always at least one, since a child without a qualifying move is not a migrant
        child (the import rejects such a record). Every child is born by the earliest
        possible latest move; one born later would still arrive with the latest move."""
        kept = [m for m in moves if m["qualifying_arrival_date"] >= birth]
        if not kept:
            kept = [{**moves[0], "qualifying_arrival_date": birth}]
        return [self.move_for(m, birth) for m in kept]

    def move_for(self, move: dict[str, Any], birth: date) -> dict[str, Any]:
        qad: date = move["qualifying_arrival_date"]
        expires = min(_add_months(qad, 36), _add_months(birth, 22 * 12))
        return {**move, "qualifying_arrival_date": qad.isoformat(),
                "eligibility_expiration_date": expires.isoformat()}

    def enrollments(self, birth: date) -> list[dict[str, Any]]:
        rng = self.rng
        out = []
        start = REFERENCE_DATE - timedelta(days=rng.randint(30, 900))
        for n in range(rng.choice((1, 1, 2, 2, 3))):
            if (start - birth).days < 365 * 3:
                break
            school = rng.choice(self.schools)
            age = (start - birth).days // 365
            grade = "OS" if age >= 19 else "PK" if age < 5 else "KG" if age == 5 \
                else f"{age - 5:02d}"
            level = "High" if age >= 14 else "Middle" if age >= 11 else "Elementary"
            end = start + timedelta(days=rng.randint(60, 280))
            open_ended = n == 0 and end > REFERENCE_DATE
            out.append({
                "enrollment_id": f"E{n + 1}", "enrollment_date": start.isoformat(),
                "withdrawal_date": "" if open_ended else min(end, REFERENCE_DATE).isoformat(),
                "enrollment_type": rng.choice(("basic_school", "basic_school", "summer_mep",
                                               "residency_only")),
                "school_or_project_name": f"{school['word']} {level} School",
                "school_nces_id": school["nces"], "district_nces_id": school["lea"],
                "district_name": school["district"], "facility_city": school["city"],
                "facility_state": self.state, "facility_zip": school["zip"],
                "grade_level": grade, "english_learner": rng.random() < 0.55,
                "idea_indicator": rng.random() < 0.1,
                "medical_alert": rng.choices(("none", "acute", "chronic"), (90, 4, 6))[0],
                "priority_for_services": rng.random() < 0.3,
                "immunization_record_flag": rng.random() < 0.8,
                "courses": self.courses(start, open_ended) if grade in
                ("09", "10", "11", "12", "OS") else [],
            })
            start = start - timedelta(days=rng.randint(200, 400))
        return out

    def courses(self, start: date, in_progress: bool) -> list[dict[str, Any]]:
        rng = self.rng
        year = start.year if start.month >= 8 else start.year - 1
        out = []
        for title, subject in rng.sample(HS_COURSES, rng.randint(2, 6)):
            attempted = rng.choice((0.5, 0.5, 1.0))
            course: dict[str, Any] = {
                "course_title": title, "subject_area": subject, "course_type": "regular",
                "begin_academic_year": year, "end_academic_year": year + 1,
                "course_section": "full_year" if attempted == 1.0 else "section_a",
                "term_type": "full_year" if attempted == 1.0 else "semester",
                "credits_attempted": attempted,
            }
            if in_progress and rng.random() < 0.7:
                course.update(course_status="in_progress", clock_hours=rng.randint(10, 90),
                              grade_to_date=rng.choice(LETTER_GRADES[:8]))
            else:
                final = rng.choice(LETTER_GRADES)
                course.update(course_status="completed", final_grade=final,
                              credits_granted=0.0 if final == "F" else attempted)
            out.append(course)
        return out

    def assessments(self, birth: date) -> list[dict[str, Any]]:
        rng = self.rng
        if (REFERENCE_DATE - birth).days < 365 * 8:
            return []
        out = []
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            content = rng.choice(("Reading", "Mathematics", "Science"))
            when = self.date_between(REFERENCE_DATE - timedelta(days=700), REFERENCE_DATE)
            interp = rng.choice(INTERPRETATIONS)
            out.append({
                "assessment_title": f"{self.state} State Assessment {content}",
                "assessment_content": content, "assessment_type": "01",
                "administration_month": f"{when.year:04d}-{when.month:02d}",
                "reporting_method": "scale_score", "score_result": str(rng.randint(1200, 1800)),
                "interpretation": interp, "interpretation_raw": interp,
            })
        return out


def _add_months(d: date, months: int) -> date:
    total = d.year * 12 + d.month - 1 + months
    year, month = divmod(total, 12)
    day = min(d.day, 28) if month + 1 == 2 else min(d.day, 30 if month + 1 in (4, 6, 9, 11)
                                                     else 31)
    return date(year, month + 1, day)


def generate_students(state: str, count: int, seed: int, *,
                      twin_rate: float = 0.015) -> list[dict[str, Any]]:
    """`count` synthetic students owned by `state`, deterministic for (state, count, seed).

    `twin_rate` is the chance that a birth in a family is of twins (1.5% by default, about
    the US rate; labelled benches raise it to stress the twin guard).
    """
    gen = _Gen(state, seed)
    out: list[dict[str, Any]] = []
    while len(out) < count:
        size = gen.rng.choices((1, 2, 3, 4), (35, 30, 20, 15))[0]
        out.extend(gen.family(size, twin_rate))
    return out[:count]


# ---- the same children seen by another state ---------------------------------------

def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.randrange(3)
    if kind == 0:  # transposition
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    if kind == 1:  # deletion
        return text[:i] + text[i + 1:]
    return text[:i] + rng.choice("aeioulnrst") + text[i + 1:]  # substitution


def _perturb(rng: random.Random, s: dict[str, Any]) -> None:
    if rng.random() < 0.4:  # the other state's system has no accents
        for key in ("first_name", "middle_name", "last_name_1", "last_name_2", "birth_city",
                    "male_parent_first_name", "male_parent_last_name",
                    "female_parent_first_name", "female_parent_last_name"):
            s[key] = _strip_accents(s.get(key, ""))
    if s["last_name_2"]:
        roll = rng.random()
        if roll < 0.06:
            s["last_name_1"], s["last_name_2"] = s["last_name_2"], s["last_name_1"]
        elif roll < 0.14:
            s["last_name_1"], s["last_name_2"] = f"{s['last_name_1']}-{s['last_name_2']}", ""
        elif roll < 0.30:
            s["last_name_2"] = ""
    nick = NICKNAMES.get(s["first_name"]) or NICKNAMES.get(_strip_accents(s["first_name"]))
    if nick and rng.random() < 0.35:
        s["first_name"] = nick
    if rng.random() < 0.25:
        s["middle_name"] = ""
    if rng.random() < 0.08:
        key = rng.choice(("first_name", "last_name_1"))
        s[key] = _typo(rng, s[key])
    y, m, d = (int(p) for p in s["birth_date"].split("-"))
    if d <= 12 and d != m and rng.random() < 0.04:
        s["birth_date"] = date(y, d, m).isoformat()
    if rng.random() < 0.3:
        s["birth_city"] = ""


ERROR_PROFILES = ("gentle", "realistic")
# OCR and handwriting confusions (either direction) and Spanish phonetic spellings.
_OCR = (("rn", "m"), ("cl", "d"), ("ri", "n"), ("li", "h"), ("vv", "w"), ("e", "c"),
        ("o", "a"), ("u", "v"), ("i", "l"), ("n", "h"))
_PHONETIC = (("b", "v"), ("s", "z"), ("z", "s"), ("c", "s"), ("ll", "y"), ("y", "ll"),
             ("j", "g"), ("g", "j"), ("qu", "k"), ("ch", "sh"), ("x", "j"), ("ñ", "n"),
             ("ph", "f"))
_KEYBOARD = {c: n for c, n in zip("qwertyuiopasdfghjklzxcvbnm",
                                  ("wa", "qes", "wrd", "etf", "ryg", "tuh", "yij", "uok",
                                   "ipl", "ok", "qsz", "awdx", "sefc", "drgv", "fthb",
                                   "gyjn", "hukm", "jilm", "kop", "asx", "zsdc", "xdfv",
                                   "cfgb", "vghn", "bhjm", "njk"), strict=True)}
_DATE_KINDS = ("date_digit", "date_digit_swap", "date_day_off", "date_year_off")


def _realistic_typo(rng: random.Random, text: str) -> tuple[str, str]:
    """One realistic typo in a name; returns (new text, kind). Keeps the first letter more
    often than not, as real typos do, and never returns the text unchanged."""
    if len(text) < 3:
        return text + rng.choice("aeio"), "typo_insert"
    lower = text.lower()
    for _ in range(8):
        kind = rng.choices(("typo_insert", "typo_delete", "typo_transpose", "typo_keyboard",
                            "typo_ocr", "typo_phonetic"), (18, 20, 18, 16, 12, 16))[0]
        start = 1 if rng.random() < 0.9 else 0
        if kind in ("typo_ocr", "typo_phonetic"):
            pairs = [(a, b) for a, b in (_OCR if kind == "typo_ocr" else _PHONETIC)
                     if a in lower[start:]]
            if kind == "typo_ocr":
                pairs += [(b, a) for a, b in _OCR if b in lower[start:]]
            if kind == "typo_phonetic" and lower.startswith("h") and rng.random() < 0.5:
                return text[1:], kind  # a dropped silent h: Hernández -> Ernández
            if not pairs:
                continue
            a, b = rng.choice(pairs)
            at = lower.index(a, start)
            new = text[:at] + b + text[at + len(a):]
        else:
            i = rng.randrange(start, len(text) - (1 if kind == "typo_transpose" else 0))
            if kind == "typo_insert":
                new = text[:i] + rng.choice(text.lower() + "aeinrs") + text[i:]
            elif kind == "typo_delete":
                new = text[:i] + text[i + 1:]
            elif kind == "typo_transpose":
                new = text[:i] + text[i + 1] + text[i] + text[i + 2:]
            else:
                near = _KEYBOARD.get(_strip_accents(text[i]).lower(), "aeio")
                new = text[:i] + rng.choice(near) + text[i + 1:]
        if new != text and new.strip():
            return new, kind
    return text[:1] + text[2:] if len(text) > 3 else text + "a", "typo_delete"


def _date_error(rng: random.Random, birth: date) -> tuple[date, str] | None:
    """A valid past date one keying error away from `birth` (None if none was found)."""
    for _ in range(20):
        kind = rng.choice(_DATE_KINDS)
        y, m, d = birth.year, birth.month, birth.day
        text = f"{y:04d}{m:02d}{d:02d}"
        if kind == "date_digit":
            i = rng.choice((2, 3, 4, 5, 6, 7))
            text = text[:i] + str(rng.randrange(10)) + text[i + 1:]
        elif kind == "date_digit_swap":
            i = rng.choice((2, 4, 6))
            text = text[:i] + text[i + 1] + text[i] + text[i + 2:]
        try:
            new = date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            continue
        if kind == "date_day_off":
            new = birth + timedelta(days=rng.choice((-1, 1)))
        elif kind == "date_year_off":
            try:
                new = birth.replace(year=birth.year + rng.choice((-1, 1)))
            except ValueError:
                continue
        if new != birth and date(1990, 1, 1) <= new <= REFERENCE_DATE:
            return new, kind
    return None


def _perturb_realistic(rng: random.Random, s: dict[str, Any]) -> list[str]:
    """Apply the realistic profile to record `s` in place; returns the kinds applied."""
    kinds: list[str] = []
    if rng.random() < 0.4:
        kinds.append("accents")
        for key in ("first_name", "middle_name", "last_name_1", "last_name_2", "birth_city",
                    "male_parent_first_name", "male_parent_last_name",
                    "female_parent_first_name", "female_parent_last_name"):
            s[key] = _strip_accents(s.get(key, ""))
    # Compound given names: "María Guadalupe" or first + middle.
    first, middle = s["first_name"], s.get("middle_name", "")
    parts = first.split()
    roll = rng.random()
    if len(parts) >= 2 and not middle:  # a compound first name (María José)
        if roll < 0.35:
            s["first_name"], s["middle_name"] = parts[0], " ".join(parts[1:])
            kinds.append("given_split")
        elif roll < 0.50:
            s["first_name"] = parts[0]
            kinds.append("given_shortened")
    elif middle:
        if roll < 0.10:
            s["first_name"], s["middle_name"] = f"{first} {middle}", ""
            kinds.append("given_joined")
        elif roll < 0.15:
            s["first_name"], s["middle_name"] = middle, ""  # known by the middle name
            kinds.append("given_shortened")
        elif roll < 0.35:
            s["middle_name"] = ""
            kinds.append("middle_missing")
    nick = NICKNAMES.get(s["first_name"]) or NICKNAMES.get(_strip_accents(s["first_name"]))
    if nick and rng.random() < 0.3:
        s["first_name"] = nick
        kinds.append("nickname")
    if rng.random() < 0.09:
        s["first_name"], kind = _realistic_typo(rng, s["first_name"])
        kinds.append(f"given_{kind}")
    if rng.random() < 0.10:
        key = "last_name_2" if s["last_name_2"] and rng.random() < 0.35 else "last_name_1"
        s[key], kind = _realistic_typo(rng, s[key])
        kinds.append(f"surname_{kind}")
    if s["last_name_2"]:
        roll = rng.random()
        l1, l2 = s["last_name_1"], s["last_name_2"]
        if roll < 0.07:
            s["last_name_1"], s["last_name_2"] = l2, l1
            kinds.append("surnames_reordered")
        elif roll < 0.14:
            s["last_name_1"], s["last_name_2"] = f"{l1}-{l2}", ""
            kinds.append("surnames_hyphen_joined")
        elif roll < 0.18:
            s["last_name_1"], s["last_name_2"] = f"{l1} {l2}", ""
            kinds.append("surnames_space_joined")
        elif roll < 0.22:
            s["last_name_1"], s["last_name_2"] = l2, ""
            kinds.append("surname_only_maternal")
        elif roll < 0.40:
            s["last_name_2"] = ""
            kinds.append("surname_maternal_missing")
    birth = date.fromisoformat(s["birth_date"])
    roll = rng.random()
    if birth.day <= 12 and birth.day != birth.month and roll < 0.04:
        s["birth_date"] = date(birth.year, birth.day, birth.month).isoformat()
        kinds.append("date_day_month_swap")
    elif roll < 0.12:
        changed = _date_error(rng, birth)
        if changed is not None:
            s["birth_date"] = changed[0].isoformat()
            kinds.append(changed[1])
    if rng.random() < 0.15:
        s["male_parent_first_name"] = s["male_parent_last_name"] = ""
        kinds.append("father_missing")
    if rng.random() < 0.08:
        s["female_parent_first_name"] = s["female_parent_last_name"] = ""
        kinds.append("mother_missing")
    for who in ("male_parent_first_name", "female_parent_last_name"):
        if s[who] and rng.random() < 0.04:
            s[who], _kind = _realistic_typo(rng, s[who])
            kinds.append("parent_typo")
    if rng.random() < 0.3:
        s["birth_city"] = ""
        kinds.append("birth_city_missing")
    elif s["birth_city"] and rng.random() < 0.05:
        s["birth_city"], _kind = _realistic_typo(rng, s["birth_city"])
        kinds.append("birth_city_typo")
    if rng.random() < 0.1:
        s["birth_country"] = s["birth_state"] = ""
        kinds.append("birth_country_missing")
    return kinds


def derive_overlap_labelled(source: list[dict[str, Any]], state: str, share: float,
                            seed: int, error_profile: str = "gentle",
                            ) -> list[tuple[dict[str, Any], str, tuple[str, ...]]]:
    """`derive_overlap` with the error kinds applied to each record (realistic profile;
    the gentle profile reports none)."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be between 0 and 1, not {share}")
    if error_profile not in ERROR_PROFILES:
        raise ValueError(f"error_profile must be one of {ERROR_PROFILES}, not {error_profile}")
    gen = _Gen(state, seed, "overlap" if error_profile == "gentle" else "overlap-realistic")
    picked = gen.rng.sample(range(len(source)), round(share * len(source)))
    out = []
    for index in sorted(picked):
        src = source[index]
        rec = {k: copy.deepcopy(v) for k, v in src.items()
               if k not in ("enrollments", "assessments", "qualifying_moves")}
        rec["state_student_id"] = gen.student_id()
        rec["owner_state"] = gen.state
        kinds: list[str] = []
        if error_profile == "gentle":
            _perturb(gen.rng, rec)
        else:
            kinds = _perturb_realistic(gen.rng, rec)
        # Moves and enrollments after both birth dates, so the record stays valid.
        birth = max(date.fromisoformat(src["birth_date"]), date.fromisoformat(rec["birth_date"]))
        rec["qualifying_moves"] = gen.moves_of(gen.moves(), birth)
        rec["enrollments"] = gen.enrollments(birth)
        rec["assessments"] = gen.assessments(birth)
        out.append((rec, src["state_student_id"], tuple(kinds)))
    return out


def derive_overlap(source: list[dict[str, Any]], state: str, share: float,
                   seed: int, error_profile: str = "gentle",
                   ) -> list[tuple[dict[str, Any], str]]:
    """Records of `state` for a `share` of the children in `source`.

    Each new record has this state's own id, enrollments and assessments, and the
    kinds of differences real records have (`error_profile`, see the module docstring).
    Returns (record, source state_student_id).
    """
    return [(rec, sid) for rec, sid, _kinds in
            derive_overlap_labelled(source, state, share, seed, error_profile)]
