"""The one federated find: one query builder and one path from a person's search to every
state's answer, used by the web UI (`node.web.search_pages`) and the control API
(`node.control.api`) alike (DESIGN.md "Messages" `find`, "Web UI" federated search).

`build_criteria` turns the fields a person gave (names, birth date, sex, birth place,
parents, ids) into `FindCriteria`, refusing a bad field with a `BadRequest` that names it.
A search needs the given name and first surname, or a student id of any state (names are
then optional: an id search carries `protocol.messages.NO_NAME` in the name fields).
`federated_find` asks every active peer at once and yields, as each state answers, one
answer line (status, latency, candidates) after the find hook of the rooms above
(`Services.find_hook`: links applied, near matches filed on the worklist), then one
summary line naming the states that answered, timed out or failed. Every candidate
carries `words` (`node.matching.outcome_words`: "almost certainly this child (99.9%)"),
so the web UI and the CLI say the same.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import date
from typing import Any

from node.errors import BadRequest, Forbidden
from node.federation.answers import demographics_of, find_hits
from node.federation.discover_round import Disclosure, Route, disclosure_answers
from node.federation.peer_client import FindSummary, PeerAnswer, active_peers
from node.matching.id_rule import ID_KIND, normalize_id
from node.matching.index import TermFrequencies
from node.matching.outcome_words import candidate_words, probability_of
from node.services import Services
from protocol.codec import Reader
from protocol.errors import ProtocolError
from protocol.messages import (
    NO_NAME,
    SEXES,
    Demographics,
    Find,
    FindCriteria,
    FindReply,
    Requester,
    search_refusal,
)

DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
#: a student id as a person may type it: letters and digits, maybe spaces or dashes
STUDENT_ID_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z \-]{0,31}$")
NEED_NAMES = ("Given name and first surname are needed to search, or a student id "
              "from any state.")
#: the criteria fields a search may carry, as `Demographics` names them
PERSON_FIELDS = tuple(Demographics.__dataclass_fields__)
#: the yes/no criteria (everything else a person types is text)
FLAG_FIELDS = ("multiple_birth",)
MAX_FIELD_LEN = 100
#: at most this many of our own students are shown for one search
LOCAL_LIMIT = 10


def build_criteria(person: Mapping[str, Any], *, parents: Iterable[str] = (),
                   ids: Iterable[tuple[str, str]] = ()) -> FindCriteria:
    """Criteria from what a person typed; BadRequest names the first bad field."""
    given: dict[str, Any] = {}
    for name, value in person.items():
        if name not in PERSON_FIELDS:
            raise BadRequest(f"{name}: not a search field")
        if value in (None, ""):
            continue
        if name in FLAG_FIELDS:
            if not isinstance(value, bool):
                raise BadRequest(f"{name}: must be true or false (got {type(value).__name__})")
            given[name] = value
            continue
        if not isinstance(value, str):
            raise BadRequest(f"{name}: must be text (got {type(value).__name__})")
        value = value.strip()[:MAX_FIELD_LEN]
        if value:
            given[name] = value
    id_list = []
    for kind, value in ids:
        kind, value = str(kind)[:32], str(value).strip()
        if not value:
            continue
        if kind == ID_KIND:
            if not STUDENT_ID_RE.match(value) or not normalize_id(value):
                raise BadRequest("Student id must be letters and digits, like TX0143790108.")
            value = normalize_id(value)
        id_list.append((kind, value[:64]))
    has_id = any(kind == ID_KIND for kind, _ in id_list)
    if not (given.get("first_name") and given.get("last_name_1")) and not has_id:
        raise BadRequest(NEED_NAMES)
    if "birth_date" in given and not _is_date(given["birth_date"]):
        raise BadRequest("Birth date must be a date like 2012-05-31.")
    if "sex" in given and given["sex"] not in SEXES:
        raise BadRequest("Sex must be F, M or X.")
    for name in ("first_name", "last_name_1"):  # an id search: every release needs text
        given.setdefault(name, NO_NAME)
    parent_list = tuple(str(p).strip()[:200] for p in parents if str(p).strip())
    criteria = FindCriteria(Demographics(**given), parent_list, tuple(sorted(id_list)))
    try:  # read back as every holder will: never sign and send what they must refuse
        FindCriteria.read(Reader(criteria.to_body(), "criteria"))
    except ProtocolError as exc:
        raise BadRequest(f"the search cannot be sent: {exc}") from None
    return criteria


def _is_date(text: str) -> bool:
    if not DATE_RE.match(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def with_words(candidates: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Candidates with their `words` (and the probability those came from, if known)."""
    out = []
    for cand in candidates:
        cand = dict(cand)
        probability = probability_of(cand)
        if probability is not None:
            cand["probability"] = round(probability, 6)
        cand["words"] = candidate_words(cand)
        out.append(cand)
    return out


def answer_line(answer: PeerAnswer) -> dict[str, Any]:
    """One state's answer as the web UI and the CLI receive it (JSON-ready)."""
    out: dict[str, Any] = {"state": answer.state, "status": str(answer.status),
                           "latency_ms": round(answer.latency_ms, 1), "error": answer.error}
    if isinstance(answer.reply, FindReply):
        out["candidates"] = [c.to_body() for c in answer.reply.candidates]
    return out


def local_candidates(db: Any, find: Find, tf: TermFrequencies | None) -> list[dict[str, Any]]:
    """This node's own students matching the criteria, scored as a peer's `find` is
    (`answers.find_hits`, the id rule included; runs on the store's thread); `record` is
    the local state student id."""
    out = []
    for hit in find_hits(db, find, LOCAL_LIMIT, tf):
        cand: dict[str, Any] = {
            "record": hit.row["state_student_id"], "score": hit.score,
            "outcome": hit.outcome, "demographics": demographics_of(hit.row).to_body(),
            "agreements": dict(sorted(hit.agreements.items()))}
        if hit.probability is not None:
            cand["probability"] = hit.probability
        out.append(cand)
    return out


async def federated_find(services: Services, criteria: FindCriteria, *,
                         requester: Requester, purpose: str, peers: list[str] | None = None,
                         timeout: float | None = None, include_local: bool = False,
                         ) -> AsyncIterator[dict[str, Any]]:
    """Yield `{"type": "answer", **answer_line}` as each state answers (our own students
    first, `"local": true`, when `include_local`), then
    `{"type": "summary", "answered": [...], "timed_out": [...], "failed": {...}}`."""
    refusal = search_refusal(purpose, requester.role)
    if refusal is not None:  # never sign and send a find the holders must refuse
        raise Forbidden(refusal)
    find = Find(criteria, requester, purpose, services.cfg.matching.max_candidates)
    local_matches: list[str] | None = None  # searched once, for the answer and the round
    if include_local:
        local = await services.store.run(local_candidates, find, services.term_frequencies)
        local_matches = [c["record"] for c in local if c["outcome"] == "match"]
        yield {"type": "answer", "state": services.node_id, "local": True,
               "status": "answered", "error": "", "candidates": with_words(local)}
    summary, disclosure = FindSummary(), Disclosure()
    hook, find_id = services.find_hook, os.urandom(8).hex()
    targets = active_peers(services) if peers is None else peers
    timeout = services.cfg.peers.timeout if timeout is None else timeout
    async for routed in disclosure_answers(services, find, targets, timeout=timeout,
                                           disclosure=disclosure, local_matches=local_matches):
        summary.add(routed.answer)
        line = answer_line(routed.answer)
        line["route"] = str(routed.route)
        if hook is not None and routed.route is not Route.NO_HIT:
            line = await hook(services, line, criteria, requester, find_id)
        if "candidates" in line:
            line = {**line, "candidates": with_words(line["candidates"])}
        yield {"type": "answer", **line}
    yield {"type": "summary", "answered": summary.answered, "timed_out": summary.timed_out,
           "failed": summary.failed, "disclosure": disclosure.to_summary()}
