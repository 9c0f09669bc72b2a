"""Fellegi–Sunter scoring: comparison levels, frozen weights, TF adjustment, decisions.

Owns the comparison of a query with one candidate (graded levels per field), the total
log2 weight, the term-frequency adjustment for common names, the sibling/twin penalty and
the calibrated probability, and the match / near_match / no_match decision with its
twin/sibling guard (issue 4 items 4-5, issue 13 items 3 and 10, DESIGN.md "Identity
matching"); `Scorer.batch` scores many candidates in one loop. Parameters (m and u per
level, the calibration and the decision thresholds) are frozen in
node/matching/data/match_params.json, written by scripts/estimate_match_params.py, so
every state scores alike.

How the parameters and thresholds were chosen (issue 13)
-------------------------------------------------------
All on the *tuning* seed (7) of the synthetic generator's realistic error profile
(scripts/estimate_match_params.py); bench/match_bench.py reports on the evaluation seed
(11) and bench/febrl_bench.py on FEBRL 1–4, which nothing was fitted to.

* u (chance agreement) per level from 200,000 random record pairs; m per level from the
  labelled true pairs. (EM with u fixed, as the first release did, takes the blocked
  non-matches of typo-tolerant keys — siblings, same-name children — for matches.)
* score = Σ log2(m/u) over the fields present, plus the TF adjustment for common names,
  plus the sibling penalty (fixed, ``sibling_penalty`` = -20 bits: surnames and a parent
  or the birth city agree but the given names conflict or differ — siblings and twins
  share everything else, so without it they outscore a true match with a typo).
* Evidence of candidate i: z = s_i − log2(Σ_{j≠i} 2^s_j + N·2^k), its score against the
  other scored candidates and the state's N records (never fewer than
  ``min_population`` = 5,000; ``null_bits`` k chosen by likelihood);
  ``Hit.probability`` = the isotonic map of z fitted on the tuning set.
* ``match`` (only the best hit): probability ≥ ``match_probability`` (the lowest at which
  the tuning set's match precision stays ≥ 0.9995, never below 0.99), a lead of at
  least ``margin_bits`` (4) over the second candidate, and `twin_guard`.
* ``near_match`` for probability ≥ ``near_probability`` (the lowest at which ≤ 5% of the
  tuning set's absent children get a near match), ``no_match`` below.
Re-run scripts/estimate_match_params.py after changing normalization, levels or keys,
then both benches.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rapidfuzz.distance import JaroWinkler

from node.matching.normalize import Norm, canonical_names, nickname_equivalent

PARAMS_FILE = Path(__file__).parent / "data" / "match_params.json"
_jw_sim = JaroWinkler.similarity


def _jw(a: str, b: str, at_least: float = 0.8) -> float:
    """Jaro–Winkler similarity when ≥ `at_least`, else 0 (rapidfuzz stops early)."""
    return _jw_sim(a, b, score_cutoff=at_least)

FIELDS: tuple[str, ...] = ("given", "surnames", "sex", "birth_date", "birth_city",
                           "birth_region", "state_student_id", "father", "mother")
LEVELS: dict[str, tuple[str, ...]] = {
    "given": ("exact", "alias", "jw_high", "jw_mid", "conflict", "differ"),
    "surnames": ("exact", "swapped", "partial", "fuzzy", "one_differs", "differ"),
    "sex": ("agree", "differ"),
    "birth_date": ("exact", "swap", "near", "partial", "differ"),
    "birth_city": ("exact", "fuzzy", "differ"),
    "birth_region": ("agree", "differ"),
    "state_student_id": ("agree", "differ"),
    "father": ("exact", "fuzzy", "differ"),
    "mother": ("exact", "fuzzy", "differ"),
}
MISSING = -1
G_EXACT, G_ALIAS, G_JW_HIGH, G_JW_MID, G_CONFLICT, G_DIFFER = range(6)
S_EXACT, S_SWAPPED, S_PARTIAL, S_FUZZY, S_ONE_DIFFERS, S_DIFFER = range(6)
D_EXACT, D_SWAP, D_NEAR, D_PARTIAL, D_DIFFER = range(5)


def _given(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    if not a or not b:
        return MISSING
    if a == b:
        return G_EXACT
    single = len(a) == 1 or len(b) == 1
    if nickname_equivalent(a[0], b[0]):
        if single or nickname_equivalent(a[1], b[1]):
            return G_ALIAS
        # Same first name, other middle name: a typo, or a twin (Maria Fernanda/Maria José).
        return G_JW_HIGH if _jw(a[1], b[1], 0.9) else G_CONFLICT
    if not single and nickname_equivalent(a[1], b[1]):  # same middle name, first differs
        return G_JW_HIGH if _jw(a[0], b[0], 0.85) else G_CONFLICT
    if any(nickname_equivalent(x, y) for x in a for y in b):
        return G_ALIAS if single else G_CONFLICT
    sim = _jw(a[0], b[0], 0.85)
    if sim < 0.92 and not single:
        sim = max(sim, _jw(" ".join(a), " ".join(b), 0.85))
    if sim >= 0.92:
        return G_JW_HIGH
    return G_JW_MID if sim >= 0.85 else G_DIFFER


def _surnames(q: Norm, c: Norm) -> int:
    a1, a2, b1, b2 = q.l1, q.l2, c.l1, c.l2
    if not a1 or not b1:
        return MISSING
    if a1 == b1:
        if a2 == b2:
            return S_EXACT
        if not a2 or not b2:
            return S_PARTIAL
        return S_FUZZY if q.p2 == c.p2 or _jw(a2, b2, 0.9) else S_ONE_DIFFERS
    if a2 and b2 and a1 == b2 and a2 == b1:
        return S_SWAPPED
    if (not a2 and a1 == b2) or (not b2 and b1 == a2):
        return S_PARTIAL
    if (q.p1 == c.p1 or _jw(a1, b1, 0.9)) and (
            not a2 or not b2 or q.p2 == c.p2 or _jw(a2, b2, 0.9)):
        return S_FUZZY
    if a2 and b2 and q.p1 == c.p2 and q.p2 == c.p1:
        return S_FUZZY
    # One surname written with a space, or both run together ("bis hop", "cla rke",
    # "hernandezlopez"): compare the letters alone (they start alike).
    if a1[0] == b1[0]:
        ja, jb = (a1 + a2).replace(" ", ""), (b1 + b2).replace(" ", "")
        if ja == jb:
            return S_EXACT
        if _jw(ja, jb, 0.93):
            return S_FUZZY
    return S_ONE_DIFFERS if a2 and a2 == b2 else S_DIFFER


def _one_off(x: int, y: int) -> bool:
    """One keystroke apart: ±1, one digit changed, or two digits swapped (12/21)."""
    if abs(x - y) <= 1:
        return True
    sx, sy = f"{x:02d}", f"{y:02d}"
    if len(sx) != len(sy):
        return False
    diff = [i for i in range(len(sx)) if sx[i] != sy[i]]
    if len(diff) == 1:
        return True
    return (len(diff) == 2 and diff[1] == diff[0] + 1 and sx[diff[0]] == sy[diff[1]]
            and sx[diff[1]] == sy[diff[0]])


def _date(q: Norm, c: Norm) -> int:
    if not q.by or not c.by:
        return MISSING
    same_y, same_m, same_d = q.by == c.by, q.bm == c.bm, q.bd == c.bd
    if same_y and same_m and same_d:
        return D_EXACT
    if same_y and q.bm == c.bd and q.bd == c.bm:
        return D_SWAP
    if same_y + same_m + same_d == 2:
        if not same_d:
            near = _one_off(q.bd, c.bd)
        elif not same_m:
            near = _one_off(q.bm, c.bm)
        else:
            near = _one_off(q.by, c.by)
        return D_NEAR if near else D_PARTIAL
    return D_DIFFER


def _text(a: str, b: str, fuzzy: float) -> int:
    if not a or not b:
        return MISSING
    if a == b:
        return 0
    # A typo rarely hits the first letter; requiring it saves most similarity calls.
    return 1 if a[0] == b[0] and _jw(a, b, fuzzy) else 2


def _equal(a: str, b: str) -> int:
    if not a or not b:
        return MISSING
    return 0 if a == b else 1


def _fields_swapped(q: Norm, c: Norm) -> bool:
    """The given name was keyed as the surname and the surname as the given name."""
    if not q.given or not c.given or not q.l1 or not c.l1:
        return False
    g, l1 = q.given[0], q.l1
    return (g[0] == c.l1[0] and l1[0] == c.given[0][0] and g != l1
            and bool(_jw(g, c.l1, 0.9)) and bool(_jw(l1, c.given[0], 0.9)))


def compare(q: Norm, c: Norm) -> tuple[int, ...]:
    """Comparison level index per field (order of FIELDS); MISSING when either lacks it."""
    given, surnames = _given(q.given, c.given), _surnames(q, c)
    if given >= G_CONFLICT and surnames >= S_ONE_DIFFERS and _fields_swapped(q, c):
        given, surnames = G_JW_HIGH, S_FUZZY
    return (
        given,
        surnames,
        _equal(q.sex, c.sex),
        _date(q, c),
        _text(q.city, c.city, 0.9),
        _equal(q.region, c.region),
        _equal(q.ssid, c.ssid),
        _text(q.father, c.father, 0.88),
        _text(q.mother, c.mother, 0.88),
    )


def is_sibling_pattern(levels: tuple[int, ...]) -> bool:
    """Surnames and a parent or the birth city agree, but the given names do not."""
    given, surnames, father, mother, city = (levels[0], levels[1], levels[7], levels[8],
                                             levels[4])
    return (given in (G_CONFLICT, G_DIFFER) and S_EXACT <= surnames <= S_FUZZY
            and (father in (0, 1) or mother in (0, 1) or city == 0))


def twin_guard(levels: tuple[int, ...], q: Norm, c: Norm) -> bool:
    """True when the pair may be auto-matched as far as siblings and twins go.

    A twin shares parents, surnames, birth place and birth date with the child: only the
    given name (or the sex) tells them apart; a sibling differs by the birth date too. So
    a `match` needs

    * given names that agree: exactly, as nicknames, or a typo apart (Jaro–Winkler
      ≥ 0.85); never a conflict (María Fernanda / María José) or a different name;
    * sexes that do not differ, and no sibling pattern (see `is_sibling_pattern`);
    * when the pair looks like one family (a parent or the birth city agrees), birth
      dates that agree exactly, with day and month swapped, or one keystroke apart (a
      sibling named alike, José / José Luis, differs there), unless the state student
      ids agree. Without family evidence a differing date is left to the probability,
      which weighs a chance agreement of the names among the state's N records; a
      birth date missing on either side is never enough (names alone);
    * when either record is flagged as a multiple birth, the same number of given-name
      tokens, each equal or a nickname of the other: José and José Luis, a typo, or a
      missing given name may be the co-twin.

    A given name missing on one side of an unflagged pair is accepted: a twin in the
    index would tie with the child (no lead).
    """
    given = levels[0]
    if given in (G_CONFLICT, G_DIFFER) or levels[2] == 1 or is_sibling_pattern(levels):
        return False
    family = levels[7] in (0, 1) or levels[8] in (0, 1) or levels[4] == 0
    if levels[6] != 0 and (levels[3] == MISSING or (
            family and levels[3] not in (D_EXACT, D_SWAP, D_NEAR))):
        return False
    if q.twin or c.twin:
        a, b = q.given, c.given
        if len(a) != len(b) or not a or not all(
                nickname_equivalent(x, y) for x, y in zip(a, b, strict=True)):
            return False
    return True


@dataclass(frozen=True)
class Params:
    """Frozen Fellegi–Sunter parameters, the calibration and the decision thresholds."""

    m: Mapping[str, tuple[float, ...]]
    u: Mapping[str, tuple[float, ...]]
    prior: float  # λ, share of blocked pairs that match (EM)
    sibling_penalty: float
    match_probability: float  # calibrated probability a `match` needs
    near_probability: float  # calibrated probability a `near_match` needs
    margin_bits: float  # lead over the second candidate a `match` needs (a floor)
    tf_cap: float
    # Calibration: P(candidate is the child) = σ(c0 + c1·score + c2·lead), score and lead
    # in bits, lead = score − best other candidate's score (capped at ±lead_cap; a lone
    # candidate has lead_cap). Fitted on labelled synthetic data (see the module docstring).
    # Calibration. The evidence for candidate i is z = s_i − log2(Σ_{j≠i} 2^s_j + N·2^k):
    # its score against the other scored candidates and against the N − (scored)
    # records of the state that were not scored (under the Fellegi–Sunter model a random
    # non-matching record has E[2^s] = 1, so they weigh about N) plus "the child is not
    # here", both folded into `null_bits` k. The probability is a monotone map of z
    # (isotonic regression on the labelled tuning set) given as (z, probability) knots,
    # interpolated linearly; without knots, σ(c0 + c1·z).
    null_bits: float = 0.0
    # N is never taken below this: a small (demo, test) index does not make a chance
    # agreement rarer among all the children the searched one could be.
    min_population: int = 5_000
    calibration: tuple[float, float] = (0.0, 0.7)
    knots: tuple[tuple[float, float], ...] = ()

    @property
    def weights(self) -> tuple[tuple[float, ...], ...]:
        return tuple(tuple(math.log2(m / u) for m, u in zip(self.m[f], self.u[f], strict=True))
                     for f in FIELDS)

    @property
    def prior_log2_odds(self) -> float:
        return math.log2(self.prior / (1.0 - self.prior))

    def to_dict(self) -> dict[str, Any]:
        return {"levels": {f: list(LEVELS[f]) for f in FIELDS},
                "m": {f: list(self.m[f]) for f in FIELDS},
                "u": {f: list(self.u[f]) for f in FIELDS},
                "weights_log2": {f: [round(w, 3) for w in ws]
                                 for f, ws in zip(FIELDS, self.weights, strict=True)},
                "prior": self.prior, "sibling_penalty": self.sibling_penalty,
                "match_probability": self.match_probability,
                "near_probability": self.near_probability, "margin_bits": self.margin_bits,
                "tf_cap": self.tf_cap, "null_bits": self.null_bits,
                "min_population": self.min_population,
                "calibration": list(self.calibration), "knots": [list(k) for k in self.knots]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Params:
        for field in FIELDS:
            if list(data["levels"][field]) != list(LEVELS[field]):
                raise ValueError(f"match parameters: levels of field {field!r} do not match "
                                 "this code; re-run scripts/estimate_match_params.py")
        c0, c1 = (float(x) for x in data.get("calibration", (0.0, 0.7)))
        return cls(m={f: tuple(data["m"][f]) for f in FIELDS},
                   u={f: tuple(data["u"][f]) for f in FIELDS}, prior=data["prior"],
                   sibling_penalty=data["sibling_penalty"],
                   match_probability=data["match_probability"],
                   near_probability=data["near_probability"],
                   margin_bits=data["margin_bits"], tf_cap=data["tf_cap"],
                   null_bits=float(data.get("null_bits", 0.0)),
                   min_population=int(data.get("min_population", 5_000)),
                   calibration=(c0, c1),
                   knots=tuple((float(t), float(p)) for t, p in data.get("knots", ())))


def load_params(path: Path = PARAMS_FILE) -> Params:
    """Read the frozen parameters shipped with the package."""
    return Params.from_dict(json.loads(path.read_text(encoding="utf-8")))


def _sigmoid(x: float) -> float:
    if x < -700:
        return 0.0
    return 1.0 / (1.0 + math.exp(-x))


class Scorer:
    """Precomputed weight tables for fast scoring of many candidates."""

    def __init__(self, params: Params) -> None:
        self.params = params
        self.weights = params.weights
        self.prior_log2 = params.prior_log2_odds
        self.u_given_exact = params.u["given"][G_EXACT]
        self.u_surname_exact = params.u["surnames"][S_EXACT]
        self.knot_t = [t for t, _p in params.knots]
        # Weight tables with a 0.0 at the end, so that MISSING (-1) indexes no weight.
        self.tables = tuple((*w, 0.0) for w in self.weights)
        self.knot_p = [p for _t, p in params.knots]

    def score(self, levels: tuple[int, ...], tf_given: float | None = None,
              tf_surname: float | None = None) -> float:
        """Total log2 weight; tf_* are the value frequencies (0..1) when known."""
        total = 0.0
        for weights, level in zip(self.weights, levels, strict=True):
            if level >= 0:
                total += weights[level]
        cap = self.params.tf_cap
        if tf_given and levels[0] == G_EXACT:
            total += max(-cap, min(cap, math.log2(self.u_given_exact / tf_given)))
        if tf_surname and levels[1] in (S_EXACT, S_PARTIAL, S_SWAPPED):
            total += max(-cap, min(cap, math.log2(self.u_surname_exact / tf_surname)))
        if is_sibling_pattern(levels):
            total += self.params.sibling_penalty
        return total

    def batch(self, q: Norm, norms: Sequence[Norm], positions: Iterable[int],
              tf_given: float | None = None,
              tf_surname: float | None = None) -> list[tuple[float, int]]:
        """(score, position) of many candidates: the same totals as
        `score(compare(q, c))`, computed in one loop with the query's side prepared once
        and the common cases (exact, missing, clearly different) decided without calls.
        """
        (wg, ws, wx, wd, wc, wr, wi, wf, wm) = self.tables
        cap = self.params.tf_cap
        adj_g = (max(-cap, min(cap, math.log2(self.u_given_exact / tf_given)))
                 if tf_given else 0.0)
        adj_s = (max(-cap, min(cap, math.log2(self.u_surname_exact / tf_surname)))
                 if tf_surname else 0.0)
        penalty = self.params.sibling_penalty
        qg, qs, qcity, qreg, qid, qf, qm = q.given, q.sex, q.city, q.region, q.ssid, \
            q.father, q.mother
        qby, qbm, qbd, ql1 = q.by, q.bm, q.bd, q.l1
        qnames = frozenset().union(*(canonical_names(t) for t in qg)) if qg else frozenset()
        out: list[tuple[float, int]] = []
        append = out.append
        disjoint = qnames.isdisjoint
        qg0 = qg[0] if qg else ""
        q_multi = len(qg) > 1
        qjoined = " ".join(qg)
        ql2 = q.l2
        for pos in positions:
            c = norms[pos]
            (cg, cl1, cl2, _cp1, _cp2, cs, cby, cbm, cbd, cc, cr, ci, cf, cm, _ml,
             _tw) = c
            if not qg or not cg:
                lg = -1
            elif cg == qg:
                lg = 0
            elif all(disjoint(canonical_names(t)) for t in cg):
                # No token of either is a nickname of the other's: spelling alone.
                sim = _jw(qg0, cg[0], 0.85)
                if sim < 0.92 and q_multi and len(cg) > 1:
                    sim = max(sim, _jw(qjoined, " ".join(cg), 0.85))
                lg = G_JW_HIGH if sim >= 0.92 else G_JW_MID if sim >= 0.85 else G_DIFFER
            else:
                lg = _given(qg, cg)
            if not ql1 or not cl1:
                ls = -1
            elif cl1 == ql1 and cl2 == ql2:
                ls = 0
            else:
                ls = _surnames(q, c)
            if lg >= G_CONFLICT and ls >= S_ONE_DIFFERS and _fields_swapped(q, c):
                lg, ls = G_JW_HIGH, S_FUZZY
            total = wg[lg] + ws[ls]
            if lg == 0:
                total += adj_g
            if ls == 0 or ls == S_PARTIAL or ls == S_SWAPPED:
                total += adj_s
            if qs and cs:
                total += wx[0] if qs == cs else wx[1]
            if qby and cby:
                if qby == cby and qbm == cbm and qbd == cbd:
                    total += wd[0]
                else:
                    total += wd[_date(q, c)]
            if qcity and cc:
                lc = 0 if qcity == cc else 1 if qcity[0] == cc[0] and _jw(qcity, cc, 0.9) else 2
                total += wc[lc]
            else:
                lc = -1
            if qreg and cr:
                total += wr[0] if qreg == cr else wr[1]
            if qid and ci:
                total += wi[0] if qid == ci else wi[1]
            if qf and cf:
                lf = 0 if qf == cf else 1 if qf[0] == cf[0] and _jw(qf, cf, 0.88) else 2
                total += wf[lf]
            else:
                lf = -1
            if qm and cm:
                lm = 0 if qm == cm else 1 if qm[0] == cm[0] and _jw(qm, cm, 0.88) else 2
                total += wm[lm]
            else:
                lm = -1
            if (lg == G_CONFLICT or lg == G_DIFFER) and 0 <= ls <= S_FUZZY and (
                    lf == 0 or lf == 1 or lm == 0 or lm == 1 or lc == 0):
                total += penalty
            append((total, pos))
        return out

    def fs_probability(self, score: float) -> float:
        """The uncalibrated Fellegi–Sunter posterior with the EM prior λ."""
        exponent = -(score + self.prior_log2)
        if exponent > 1000:
            return 0.0
        return 1.0 / (1.0 + math.pow(2.0, exponent))

    def evidence(self, score: float, others: float, population: int) -> float:
        """z in bits: `score` against `others` (log2 of Σ 2^s over the other scored
        candidates, -inf if none) and the `population` of records searched."""
        null = math.log2(max(population, self.params.min_population, 1)) + \
            self.params.null_bits
        high, low = (others, null) if others > null else (null, others)
        return score - (high + math.log2(1.0 + math.pow(2.0, low - high)))

    def probability(self, z: float) -> float:
        """Calibrated probability that the candidate is the searched child, from its
        evidence z (see `evidence`)."""
        knots = self.knot_t
        if not knots:
            c0, c1 = self.params.calibration
            return _sigmoid(c0 + c1 * z)
        i = bisect.bisect_right(knots, z)
        if i == 0:
            return self.knot_p[0]
        if i == len(knots):
            return self.knot_p[-1]
        t0, t1, p0, p1 = knots[i - 1], knots[i], self.knot_p[i - 1], self.knot_p[i]
        return p0 + (p1 - p0) * (z - t0) / (t1 - t0) if t1 > t0 else p1

    def decide(self, probability: float, lead: float | None, levels: tuple[int, ...],
               query: Norm, candidate: Norm, first: bool) -> str:
        """match / near_match / no_match for one hit; only the best hit can be `match`."""
        params = self.params
        if (first and probability >= params.match_probability
                and (lead is None or lead >= params.margin_bits)
                and twin_guard(levels, query, candidate)):
            return "match"
        return "near_match" if probability >= params.near_probability else "no_match"


def describe(levels: tuple[int, ...]) -> dict[str, str]:
    """Per-field level names for the reviewer ('missing' where a side lacks the field)."""
    return {f: (LEVELS[f][lv] if lv >= 0 else "missing")
            for f, lv in zip(FIELDS, levels, strict=True)}
