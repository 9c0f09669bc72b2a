"""How a match decision is said to a person: words, not raw scores (pure).

Issue 13 item 9. School staff read "almost certainly this child (99.9%)" or "possibly
this child" with the agreement of each field ("given name: nickname · birth date: same");
raw scores are for data administrators and `--json`. The web pages (and, through the
words the page hands it, `static/search.js`) and the CLI all say it with this module.

`candidate_words` decides the words of one candidate of a find answer (a JSON dict as
`node.federation.federated_find` yields it: `score` is the match weight × 1000,
`outcome`, `agreements`, maybe `probability`, `linked`). The probability is the
candidate's own when it carries one (a `Hit.probability`, read with `getattr` so a
calibrated one is used as soon as the matcher gives it), else derived from the score with
the frozen parameters every state scores with.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: the words of each outcome
OUTCOME_WORDS: Mapping[str, str] = {
    "match": "almost certainly this child",
    "near_match": "possibly this child",
    "no_match": "probably not this child",
    "linked": "this child: linked by data administrators",
}
#: why a match with a low matcher probability is still a match (the id rule)
SAME_ID = "same student id"
#: a probability is shown as a percentage from this much on (a near match's is not)
SHOW_PERCENT_FROM = 0.99
#: how each comparison level is said
AGREEMENT_LEVELS: Mapping[str, str] = {
    "exact": "same", "agree": "same", "alias": "nickname", "jw_high": "very similar",
    "jw_mid": "similar", "conflict": "conflicting", "differ": "different",
    "swapped": "swapped", "partial": "partly the same", "fuzzy": "similar spelling",
    "one_differs": "one differs", "swap": "day and month swapped",
    "near": "a few days apart", "missing": "not compared",
}
#: how each compared field is said
AGREEMENT_FIELDS: Mapping[str, str] = {
    "given": "given name", "surnames": "surnames", "birth_date": "birth date", "sex": "sex",
    "birth_city": "birth city", "birth_region": "birth state", "mother": "mother",
    "father": "father", "state_student_id": "student id",
}
GOOD_LEVELS = frozenset({"exact", "agree"})
BAD_LEVELS = frozenset({"differ", "conflict"})


def tone(level: str) -> str:
    """good, bad, none (not compared) or mid: how a level is coloured on a page."""
    if level in GOOD_LEVELS:
        return "good"
    if level in BAD_LEVELS:
        return "bad"
    return "none" if level == "missing" else "mid"


def percent(probability: float) -> str:
    """99.9% rather than 100%: rounded down to a tenth, never shown as certain."""
    return f"{min(math.floor(probability * 1000) / 10, 99.9):.1f}%"


def score_probability(score_milli: float) -> float | None:
    """The probability of a wire score (match weight × 1000) under the frozen parameters."""
    from node.matching.index import default_scorer

    scorer = default_scorer()
    convert = getattr(scorer, "probability", None)
    if convert is None:
        return None
    value = convert(float(score_milli) / 1000)
    return float(value) if isinstance(value, int | float) else None


def probability_of(candidate: Any) -> float | None:
    """The candidate's own probability (a dict's `probability` or an object's attribute),
    else the one its score gives; None when neither is known."""
    if isinstance(candidate, Mapping):
        own, score = candidate.get("probability"), candidate.get("score")
    else:
        own, score = getattr(candidate, "probability", None), None
    if isinstance(own, int | float) and not isinstance(own, bool) and 0 <= own <= 1:
        return float(own)
    if isinstance(score, int | float) and not isinstance(score, bool):
        return score_probability(score)
    return None


def outcome_words(outcome: str, *, probability: float | None = None, linked: bool = False,
                  same_id: bool = False) -> str:
    """The words of one outcome: "almost certainly this child (99.9%)", "possibly this
    child", …"""
    if linked:
        return OUTCOME_WORDS["linked"]
    words = OUTCOME_WORDS.get(outcome, outcome.replace("_", " "))
    if outcome != "match":
        return words
    if probability is not None and probability >= SHOW_PERCENT_FROM:
        return f"{words} ({percent(probability)})"
    return f"{words} ({SAME_ID})" if same_id else words


def agreement_text(agreements: Mapping[str, Any] | None) -> str:
    """"given name: nickname · birth date: same" (fields not compared left out)."""
    return " · ".join(f"{AGREEMENT_FIELDS.get(f, f)}: {AGREEMENT_LEVELS.get(str(v), v)}"
                      for f, v in (agreements or {}).items() if v != "missing")


def candidate_words(candidate: Mapping[str, Any]) -> str:
    """The words of one candidate of a find answer (see the module docstring)."""
    agreements = candidate.get("agreements") or {}
    return outcome_words(str(candidate.get("outcome", "")),
                         probability=probability_of(candidate),
                         linked=bool(candidate.get("linked")),
                         same_id=agreements.get("state_student_id") == "agree")


def id_only(candidate: Mapping[str, Any]) -> bool:
    """Whether the candidate was found by its student id alone (nothing else compared)."""
    agreements = candidate.get("agreements") or {}
    compared = {k for k, v in agreements.items() if v != "missing"}
    return compared == {"state_student_id"}
