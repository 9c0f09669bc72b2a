"""Answers to inbound peer messages (DESIGN.md "Messages"), after the envelope opened.

Each handler takes the services, the sending peer and the opened message, and
returns the reply message and the local student ids it discloses (for the
exchange log). The holder decides per purpose and role what a reply contains
(data minimization): `find` releases only the demographics needed to decide
identity; `fetch` releases the record tables the purpose needs. A handle given only
as a `near_match` (maybe another child: a sibling, a twin) is released to a data
administrator resolving the match (purpose `data_quality`), and otherwise only once an
active link names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from node import clock
from node.federation.links import ADMIN_ROLE, LINK_PURPOSE, linked_handle
from node.matching.index import TermFrequencies, blocking_keys, score_norms
from node.services import Services
from node.store import federation_tables as fed
from node.store.record_reads import candidate_norms, identity_rows, read_student
from protocol.envelope import OpenedEnvelope
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import (
    Candidate,
    Demographics,
    Fetch,
    FetchReply,
    Find,
    FindReply,
    Message,
    MoveNotice,
    Receipt,
    search_refusal,
)
from protocol.record_snapshot import RecordSnapshot

#: Record parts released per purpose of use ("*" = the whole record).
RELEASE: dict[str, frozenset[str]] = {
    "enrollment": frozenset({"*"}),
    "placement": frozenset({"*"}),
    "data_quality": frozenset({"*"}),
    "credit_accrual": frozenset({"enrollments", "assessments"}),
    "mep_services": frozenset({"qualifying_moves", "enrollments"}),
    "move_notice": frozenset(),
}
#: Roles of the requesting person allowed to receive records at all.
RECORD_ROLES = frozenset({"staff", "data_admin"})
#: Parents' contacts: released only to enroll the child (the school must reach them).
CONTACT_FIELDS = frozenset({"parent1_email", "parent1_phone", "parent2_email",
                            "parent2_phone"})
CANDIDATE_POOL = 200
DEMOGRAPHIC_FIELDS = ("first_name", "last_name_1", "middle_name", "last_name_2", "suffix",
                      "sex", "birth_date", "birth_city", "birth_state", "birth_country",
                      "multiple_birth")


@dataclass(frozen=True)
class Answer:
    reply: Message
    student_ids: tuple[str, ...] = ()


def demographics_of(record: dict[str, Any]) -> Demographics:
    values: dict[str, Any] = {k: record.get(k) for k in DEMOGRAPHIC_FIELDS}
    values = {k: (v[:100] if isinstance(v, str) else v) for k, v in values.items()
              if v not in (None, "")}
    values.setdefault("first_name", "")
    values.setdefault("last_name_1", "")
    return Demographics(**values)


def query_of(find: Find) -> dict[str, Any]:
    """The matcher's query dict from find criteria (parents as 'Role: First Last')."""
    query: dict[str, Any] = {k: v for k, v in find.criteria.person.to_body().items()}
    for text in find.criteria.parent_names:
        role, _, name = text.partition(":")
        first, _, last = name.strip().partition(" ")
        prefix = {"male": "male_parent", "female": "female_parent"}.get(role.strip().lower())
        if prefix:
            query[f"{prefix}_first_name"] = first
            query[f"{prefix}_last_name"] = last
    for kind, value in find.criteria.ids:
        if kind == "state_student_id":
            query["state_student_id"] = value
    return query


def _forbid(message: str) -> ProtocolError:
    return ProtocolError(message, code=ErrorCode.FORBIDDEN)


def term_frequencies(db: Any) -> TermFrequencies:
    """Name frequencies of this state's records, for the common-name adjustment."""
    rows = db.execute("SELECT first_name, middle_name, last_name_1, last_name_2 FROM students")
    return TermFrequencies.from_records(
        {"first_name": r[0], "middle_name": r[1], "last_name_1": r[2], "last_name_2": r[3]}
        for r in rows)


async def refresh_term_frequencies(services: Services) -> int:
    """Scheduled (and at startup): recompute the frequency table the find handler uses."""
    tf = await services.store.run(term_frequencies)
    services.term_frequencies = tf
    return tf.total


def _find(db: Any, peer: str, find: Find, limit: int, tf: TermFrequencies | None) -> Answer:
    if find.requester.role not in RECORD_ROLES:
        raise _forbid(f"role {find.requester.role} may not search for students")
    refusal = search_refusal(find.purpose, find.requester.role)
    if refusal is not None:
        raise _forbid(refusal)
    query = query_of(find)
    found = candidate_norms(db, blocking_keys(query), CANDIDATE_POOL)
    hits = [h for h in score_norms(query, [n for _, n in found],
                                   limit=min(limit, find.max_candidates), tf=tf)
            if h.outcome != "no_match"]
    records = identity_rows(db, [found[h.position][0] for h in hits])
    out, ids = [], []
    for hit in hits:
        row = records.get(found[hit.position][0])
        if row is None:  # deleted meanwhile (not in this transaction: cannot happen)
            continue
        sid = row["state_student_id"]
        out.append(Candidate(
            handle=fed.handle_for(db, peer, sid, matched=hit.outcome == "match"),
            score=round(hit.score * 1000),
            outcome=hit.outcome,
            demographics=demographics_of(row),
            agreements=tuple(sorted((k, str(v)[:20]) for k, v in hit.agreements.items())),
        ))
        ids.append(sid)
    return Answer(FindReply(tuple(out)), tuple(ids))


def release(record: dict[str, Any], purpose: str) -> dict[str, Any]:
    """The part of a record released for a purpose (demographics always)."""
    parts = RELEASE.get(purpose, frozenset())
    out = {k: v for k, v in record.items() if not isinstance(v, list)
           and (purpose == "enrollment" or k not in CONTACT_FIELDS)}
    for key, value in record.items():
        if isinstance(value, list) and ("*" in parts or key in parts):
            out[key] = value
    return out


def _resolving(fetch: Fetch) -> bool:
    """A data administrator resolving a near match (identity, not enrollment)."""
    return fetch.requester.role == ADMIN_ROLE and fetch.purpose == LINK_PURPOSE


def _fetch(db: Any, peer: str, fetch: Fetch, services: Services) -> Answer:
    if fetch.requester.role not in RECORD_ROLES:
        raise _forbid(f"role {fetch.requester.role} may not read student records")
    snaps, missing, ids = [], [], []
    now = clock.now_ms()
    for handle in fetch.handles:
        found = fed.resolve_handle_matched(db, peer, handle)
        if found is None:
            missing.append(handle)
            continue
        sid, matched = found
        if not (matched or _resolving(fetch) or linked_handle(db, peer, handle)):
            raise _forbid(f"record {handle} was given to {peer} only as a near match: it is "
                          "released once data administrators have linked the child (worklist, "
                          f"two-person rule), or to a data administrator for {LINK_PURPOSE}")
        try:
            record = read_student(db, sid)
        except Exception:  # deleted since the find
            missing.append(handle)
            continue
        version = int(record.pop("record_version", 1) or 1)
        record.pop("owner_state", None)
        snaps.append(RecordSnapshot.create(
            services.keys.signing, owner=services.node_id, record_id=handle, version=version,
            issued_at_ms=now, record=release(record, fetch.purpose)))
        ids.append(sid)
    return Answer(FetchReply(tuple(snaps), tuple(missing)), tuple(ids))


def _move_notice(db: Any, peer: str, opened: OpenedEnvelope) -> Answer:
    notice = opened.message
    assert isinstance(notice, MoveNotice)
    _new, received_ms, body_hash = fed.inbox_add(
        db, sender=peer, message_id=opened.header.message_id, body_hash=opened.body_hash,
        notice=notice.to_body(), received_ms=clock.now_ms())
    return Answer(Receipt(body_hash, received_ms))


async def answer(services: Services, peer: str, opened: OpenedEnvelope) -> Answer:
    """Dispatch one opened request to its handler; ProtocolError becomes an error reply."""
    msg = opened.message
    store = services.store
    if isinstance(msg, Find):
        # durable=False: a power cut may lose the record handles of the last finds (not
        # their exchanges, which the exchange log holds durably); a later find makes them
        # again, and a fetch of a lost one answers it as missing
        return await store.run(_find, peer, msg, services.cfg.matching.max_candidates,
                               services.term_frequencies, durable=False)
    if isinstance(msg, Fetch):
        return await store.run(_fetch, peer, msg, services)
    if isinstance(msg, MoveNotice):
        return await store.run(_move_notice, peer, opened)
    handler = services.message_handlers.get(opened.header.type)
    if handler is not None:
        result: Answer = await handler(services, peer, opened)
        return result
    raise ProtocolError(f"this node does not accept {opened.header.type} requests",
                        code=ErrorCode.MALFORMED)


async def stored_receipt(services: Services, peer: str, message_id: bytes) -> Receipt | None:
    """For a retried move notice already in the inbox: the same receipt again."""
    found = await services.store.run(lambda db: fed.inbox_lookup(db, peer, message_id))
    if found is None:
        return None
    return Receipt(found[1], found[0])
