"""Languages of the staff web UI: gettext catalogues, the request's locale, locale filters.

The catalogues live in `node/web/locale/<lang>/LC_MESSAGES/messages.{po,mo}`; the `.mo`
files are compiled from the `.po` files by `python scripts/i18n.py compile` and shipped
(package data), so a node needs no build step. `python scripts/i18n.py update` extracts
every string of `templates/*.html` and of the web modules (babel.cfg) and merges it into
the catalogues; tests/node/test_i18n.py fails when a string is not translated.

A request's language is, in order: the `statenode_lang` cookie (set by the language
switch in the header, `POST /language`), else the browser's Accept-Language, else
English. `render` makes it current (`use_locale`) while a template renders, so
`{{ _("…") }}`, `{% trans %}` and the filters below speak that language.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES: dict[str, str] = {"en": "English", "es": "Español"}
DEFAULT = "en"
LANG_COOKIE = "statenode_lang"

_current: contextvars.ContextVar[str] = contextvars.ContextVar("statenode_lang",
                                                               default=DEFAULT)


def N_(message: str) -> str:
    """Mark a string for the catalogue; it is translated where it is shown."""
    return message


@cache
def translations(lang: str) -> NullTranslations:
    if lang == DEFAULT:
        return NullTranslations()
    return Translations.load(str(LOCALE_DIR), [lang], domain="messages")


def current() -> str:
    return _current.get()


def use_locale(lang: str) -> contextvars.Token[str]:
    return _current.set(lang if lang in LANGUAGES else DEFAULT)


def reset_locale(token: contextvars.Token[str]) -> None:
    _current.reset(token)


def gettext(message: str) -> str:
    """`message` in the current language (Jinja2 fills in its %(name)s variables)."""
    return translations(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current()).ngettext(singular, plural, n)


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The language of a request: its cookie, else its browser's best choice, else English."""
    if cookie in LANGUAGES:
        return cookie
    best: tuple[float, str] | None = None
    for part in (accept_language or "").split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        lang = tag.strip().lower().split("-")[0]
        q = 1.0
        match = re.search(r"q=([0-9.]+)", params)
        if match:
            try:
                q = float(match.group(1))
            except ValueError:
                q = 0.0
        if lang in LANGUAGES and q > 0 and (best is None or q > best[0]):
            best = (q, lang)
    return best[1] if best else DEFAULT


# ---- filters ---------------------------------------------------------------------------------

def _locale() -> Locale:
    return Locale.parse(current())


def format_timestamp(ts: float | None) -> str:
    """A Unix time as a local date and time in the page's language."""
    if not ts:
        return "—"
    when = dt.datetime.fromtimestamp(ts).astimezone()
    return format_datetime(when, "short" if current() != DEFAULT else "yyyy-MM-dd HH:mm",
                           tzinfo=when.tzinfo, locale=_locale())


def format_day(value: Any) -> str:
    """An ISO date (YYYY-MM-DD) in the page's language: 4 mar 2009; English keeps ISO."""
    if value in (None, "") or not isinstance(value, str | dt.date):
        return "—"
    try:
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(value[:10])
    except ValueError:
        return str(value)
    if current() == DEFAULT:
        return day.isoformat()
    return format_date(day, "medium", locale=_locale())


def format_number(value: Any, places: int | None = None) -> str:
    if value in (None, ""):
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if places is None:
        fmt = "#,##0.###"
    else:
        fmt = "#,##0." + "0" * places if places else "#,##0"
    return format_decimal(number, format=fmt, locale=_locale())


def format_phone(value: Any) -> str:
    """A US number as (555) 010-0100, with +1 when it was given; anything else unchanged."""
    if value in (None, ""):
        return "—"
    text = str(value)
    digits = re.sub(r"\D", "", text)
    if re.fullmatch(r"[\d\s().+-]+", text.strip()):
        if len(digits) == 11 and digits.startswith("1"):
            return f"+1 ({digits[1:4]}) {digits[4:7]}-{digits[7:]}"
        if len(digits) == 10:
            return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return text


#: codes the pages show, said in words (translated where shown)
CODE_LABELS: dict[str, str] = {
    # enrollment types
    "basic_school": N_("regular school year"),
    "summer_mep": N_("summer migrant program"),
    "intersession": N_("intersession program"),
    "year_round": N_("year-round program"),
    "residency_only": N_("residency only (not enrolled)"),
    "mep_project": N_("migrant program project"),
    # sexes
    "F": N_("female"), "M": N_("male"), "X": N_("not specified"),
    "year_round_mep": N_("year-round migrant program"),
    "other_project": N_("other project"),
    # term types, course types, course statuses, reporting methods, graduation
    "full_year": N_("full year"), "semester": N_("semester"), "trimester": N_("trimester"),
    "quarter": N_("quarter"), "summer": N_("summer"), "other": N_("other"),
    "regular": N_("regular"), "honors": N_("honors"), "ap": N_("Advanced Placement"),
    "ib": N_("International Baccalaureate"), "dual_credit": N_("dual credit"),
    "remedial": N_("remedial"), "vocational": N_("vocational"),
    "special_ed": N_("special education"), "in_progress": N_("in progress"),
    "completed": N_("completed"), "withdrawn": N_("withdrawn"),
    "letter_grade": N_("letter grade"), "percent": N_("percent"),
    "percentile": N_("percentile"), "scale_score": N_("scale score"),
    "pass_fail": N_("pass or fail"), "proficiency_level": N_("proficiency level"),
    "graduated": N_("graduated"), "hse": N_("high school equivalency"),
    # purposes of use
    "enrollment": N_("enrollment"),
    "placement": N_("grade or course placement"),
    "credit_accrual": N_("credit accrual"),
    "mep_services": N_("migrant program services"),
    "data_quality": N_("data quality"),
    "move_notice": N_("move notice"),
    "link": N_("link"),
    "audit": N_("audit"),
    # message types of the exchange log
    "find": N_("search"),
    "find_reply": N_("search reply (identity only)"),
    "fetch": N_("record request"),
    "fetch_reply": N_("record sent (full record)"),
    "move_notice_reply": N_("move notice received"),
    "link_reply": N_("link answered"),
    "cosign": N_("cosigning request"),
    "cosign_reply": N_("cosignature"),
    "error": N_("error"),
    # statuses
    "pending": N_("pending"),
    "pending_remote": N_("waiting for the other state"),
    "pending_local": N_("waiting for a second administrator"),
    "open": N_("open"),
    "held": N_("held (waiting for a check)"),
    "confirmed": N_("confirmed"),
    "rejected": N_("rejected"),
    "validated": N_("validated"),
    "active": N_("active"),
    "disabled": N_("disabled"),
    "deactivated": N_("deactivated"),
    "new": N_("new"),
    "acknowledged": N_("acknowledged"),
    "assigned": N_("assigned"),
    "handled": N_("handled"),
    "sent": N_("sent"),
    "delivered": N_("delivered"),
    "failed": N_("failed"),
    "queued": N_("queued"),
    "ok": N_("ok"),
    "down": N_("down"),
    "degraded": N_("degraded"),
    "unknown": N_("unknown"),
    "in": N_("received"),
    "out": N_("sent"),
    # scheduled jobs
    "checkpoint": N_("checkpoint"), "directory_refresh": N_("directory refresh"),
    "drop_import": N_("drop-folder import"), "key_rotation": N_("key rotation"),
    "outbox": N_("outbox delivery"), "replay_prune": N_("replay cache cleanup"),
    "retention": N_("retention purge"), "term_frequencies": N_("name frequencies"),
    "tls_peers": N_("peer TLS certificates"),
    # what a recorded view showed
    "search": N_("search result"),
    "record": N_("record"),
    "consolidated": N_("consolidated record"),
    "print": N_("print view"),
    # roles
    "staff": N_("School staff"),
    "data_admin": N_("Data administrator"),
    "auditor": N_("Auditor"),
    "operator": N_("Operator"),
    # outcomes
    "match": N_("match"),
    "near_match": N_("near match"),
    "no_match": N_("no match"),
    # medical alerts
    "none": N_("none"),
    "chronic": N_("chronic condition"),
    "acute": N_("acute condition"),
}


#: grade levels that are not numbers
GRADE_LABELS: dict[str, str] = {
    "IT": N_("infant or toddler"), "PR": N_("preschool"), "PK": N_("prekindergarten"),
    "TK": N_("transitional kindergarten"), "KG": N_("kindergarten"), "UG": N_("ungraded"),
    "OS": N_("out-of-school youth"),
}


def grade_label(code: Any) -> str:
    """A grade level in words: 11 stays 11, KG → kindergarten, OS → out-of-school youth."""
    if code in (None, ""):
        return "—"
    text = str(code)
    return gettext(GRADE_LABELS[text]) if text in GRADE_LABELS else text.lstrip("0") or text


def code_label(code: Any) -> str:
    """A code in words, translated: `summer_mep` → "summer migrant program"."""
    if code in (None, ""):
        return "—"
    text = str(code)
    return gettext(CODE_LABELS[text]) if text in CODE_LABELS else text.replace("_", " ")


#: English phrases that other rooms compose into longer texts (outcome words, agreement
#: of each field, alert chips); `phrases` translates each inside such a text
PHRASES: set[str] = set()


def register_phrases(phrases: Iterable[str]) -> None:
    PHRASES.update(p for p in phrases if p)
    _phrase_pattern.cache_clear()


@cache
def _phrase_pattern(lang: str) -> tuple[re.Pattern[str] | None, dict[str, str]]:
    table = {p: translations(lang).gettext(p) for p in PHRASES}
    table = {p: t for p, t in table.items() if t != p}
    if not table:
        return None, table
    alternatives = "|".join(re.escape(p) for p in sorted(table, key=len, reverse=True))
    return re.compile(rf"(?<![\w])(?:{alternatives})(?![\w])"), table


def phrases(text: Any) -> str:
    """A text composed of registered English phrases, each said in the current language."""
    if text in (None, ""):
        return ""
    pattern, table = _phrase_pattern(current())
    value = str(text)
    if pattern is None:
        return value
    return pattern.sub(lambda m: table[m.group(0)], value)


#: messages with variables (an error naming a student id …): raised in English, their
#: catalogue form recognised and translated where they are shown (`message`)
PATTERNS: dict[str, re.Pattern[str]] = {}


def register_patterns(msgids: Iterable[str]) -> None:
    for msgid in msgids:
        body = re.escape(msgid)
        body = re.sub(r"%\\\((\w+)\\\)s", r"(?P<\1>.+?)", body)
        PATTERNS[msgid] = re.compile(f"^{body}$", re.S)


def message(text: Any) -> str:
    """A message shown to a person, translated: a catalogue string, or one of the
    registered patterns with its variables filled in."""
    if text in (None, ""):
        return ""
    value = str(text)
    said = gettext(value)
    if said != value or current() == DEFAULT:
        return said
    for msgid, pattern in PATTERNS.items():
        match = pattern.match(value)
        if match:
            return gettext(msgid) % match.groupdict()
    return value


def install(env: Any) -> None:
    """Give a Jinja2 environment (with jinja2.ext.i18n) the catalogues and filters."""
    env.install_gettext_callables(gettext, ngettext, newstyle=True)
    env.globals["languages"] = LANGUAGES
    env.globals["N_"] = N_
    env.globals["current_language"] = current
    env.filters["datetime"] = format_timestamp
    env.filters["day"] = format_day
    env.filters["number"] = format_number
    env.filters["phone"] = format_phone
    env.filters["label"] = code_label
    env.filters["grade"] = grade_label
    env.filters["words"] = phrases
    env.filters["msg"] = message
    env.filters["t"] = gettext  # a catalogue string held in a variable; no % formatting
    env.filters["yesno"] = lambda v: gettext("Yes") if v else gettext("No")
