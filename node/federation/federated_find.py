"""The one federated find: one query builder and one path from a person's search to every
state's answer, used by the web UI (`node.web.search_pages`) and the control API
(`node.control.api`) alike (DESIGN.md "Messages" `find`, "Web UI" federated search).

`build_criteria` turns the fields a person gave (names, birth date, sex, birth place,
parents, ids) into `FindCriteria`, refusing a bad field with a `BadRequest` that names it.
`federated_find` asks every active peer at once and yields, as each state answers, one
answer line (status, latency, candidates) after the find hook of the rooms above
(`Services.find_hook`: links applied, near matches filed on the worklist), then one
summary line naming the states that answered, timed out or failed.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from node.errors import BadRequest, Forbidden
from node.federation.answers import CANDIDATE_POOL, demographics_of, query_of
from node.federation.peer_client import FindSummary, PeerAnswer, find_all
from node.matching.index import TermFrequencies
from node.services import Services
from node.store.record_reads import match_candidates
from protocol.messages import (
    SEXES,
    Demographics,
    Find,
    FindCriteria,
    FindReply,
    Requester,
    search_refusal,
)

DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
#: the criteria fields a search may carry, as `Demographics` names them
PERSON_FIELDS = tuple(Demographics.__dataclass_fields__)
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
        if not isinstance(value, str):
            raise BadRequest(f"{name}: must be text (got {type(value).__name__})")
        value = value.strip()[:MAX_FIELD_LEN]
        if value:
            given[name] = value
    if not given.get("first_name") or not given.get("last_name_1"):
        raise BadRequest("Given name and first surname are needed to search.")
    if "birth_date" in given and not DATE_RE.match(given["birth_date"]):
        raise BadRequest("Birth date must be a date like 2012-05-31.")
    if "sex" in given and given["sex"] not in SEXES:
        raise BadRequest("Sex must be F, M or X.")
    parent_list = tuple(str(p).strip()[:200] for p in parents if str(p).strip())
    id_list = tuple((str(k)[:64], str(v).strip()[:64]) for k, v in ids if str(v).strip())
    return FindCriteria(Demographics(**given), parent_list, id_list)


def answer_line(answer: PeerAnswer) -> dict[str, Any]:
    """One state's answer as the web UI and the CLI receive it (JSON-ready)."""
    out: dict[str, Any] = {"state": answer.state, "status": str(answer.status),
                           "latency_ms": round(answer.latency_ms, 1), "error": answer.error}
    if isinstance(answer.reply, FindReply):
        out["candidates"] = [c.to_body() for c in answer.reply.candidates]
    return out


def local_candidates(db: Any, find: Find, tf: TermFrequencies | None) -> list[dict[str, Any]]:
    """This node's own students matching the criteria, scored as a peer's `find` would be
    (runs on the store's thread); `record` is the local state student id."""
    query = query_of(find)
    out = []
    for hit, row in match_candidates(db, query, LOCAL_LIMIT, tf, CANDIDATE_POOL):
        if hit.outcome == "no_match":
            continue
        out.append({"record": row["state_student_id"], "score": round(hit.score * 1000),
                    "outcome": hit.outcome, "demographics": demographics_of(row).to_body(),
                    "agreements": {k: str(v) for k, v in hit.agreements.items()}})
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
    if include_local:
        find = Find(criteria, requester, purpose, services.cfg.matching.max_candidates)
        local = await services.store.run(local_candidates, find, services.term_frequencies)
        yield {"type": "answer", "state": services.node_id, "local": True,
               "status": "answered", "error": "", "candidates": local}
    summary = FindSummary()
    hook, find_id = services.find_hook, os.urandom(8).hex()
    async for answer in find_all(services, criteria, requester=requester, purpose=purpose,
                                 peers=peers, summary=summary, timeout=timeout):
        line = answer_line(answer)
        if hook is not None:
            line = await hook(services, line, criteria, requester, find_id)
        yield {"type": "answer", **line}
    yield {"type": "summary", "answered": summary.answered, "timed_out": summary.timed_out,
           "failed": summary.failed}
