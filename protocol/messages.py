"""Message bodies carried inside envelopes, with strict decoding, and their registry.

Spec: DESIGN.md "Messages" (find, fetch, move_notice, link, discover, error and their
replies; the `cosign` bodies live in `protocol.cosign_messages` and the signed
`RecordSnapshot` a `fetch_reply` carries in `protocol.record_snapshot`). Every
message is a frozen dataclass with a `TYPE`; `to_body` gives the plain map that
`codec.pack` encodes and `from_body` rebuilds any registered message type
(including cosign ones) from an untrusted decoded map, raising `MalformedMessage`
that names the offending field (e.g. `find.criteria.sex`). Unknown fields are
rejected. Scores are integers (match weight × 1000): floats are not allowed on
the wire.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

from protocol.codec import Reader, as_bytes, as_str, check_tree, pack, pack_presorted
from protocol.cosign_messages import Cosign, CosignReply
from protocol.errors import ErrorCode, MalformedMessage
from protocol.record_snapshot import RecordSnapshot

PURPOSES: tuple[str, ...] = (
    "enrollment",
    "placement",
    "credit_accrual",
    "mep_services",
    "move_notice",
    "data_quality",
)
ROLES: tuple[str, ...] = ("staff", "data_admin", "auditor", "operator")
#: purposes a `find` may carry: a move notice is sent, never searched with
SEARCH_PURPOSES: tuple[str, ...] = tuple(p for p in PURPOSES if p != "move_notice")
#: purposes only a data administrator may search with
ADMIN_SEARCH_PURPOSES: tuple[str, ...] = ("data_quality",)


#: roles whose users may search for students (auditors and operators read logs and run
#: the node; they do not look children up)
SEARCH_ROLES: tuple[str, ...] = ("staff", "data_admin")


def search_refusal(purpose: str, role: str) -> str | None:
    """Why a user of `role` may not search with `purpose`, or None when they may
    (DESIGN.md "Messages": purpose of use). Both the requester and the holder ask."""
    if role not in SEARCH_ROLES:
        return f"role {role} may not search for students"
    if purpose not in SEARCH_PURPOSES:
        return f"purpose {purpose!r} is not a purpose a search may have"
    if purpose in ADMIN_SEARCH_PURPOSES and role != "data_admin":
        return f"only a data administrator may search for the purpose {purpose}"
    return None
SEXES: tuple[str, ...] = ("F", "M", "X")
OUTCOMES: tuple[str, ...] = ("match", "near_match")
LINK_ACTIONS: tuple[str, ...] = ("assert", "revoke")

DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
HANDLE_RE = re.compile(r"[A-Za-z0-9_-]{8,128}")
NAME = 100  # max characters of a name field
TEXT = 2000  # max characters of a free-text field
MAX_HANDLES = 50
MAX_CANDIDATES = 50
#: What a `find` without names (a search by student id) carries in `first_name` and
#: `last_name_1`: every release's decoder requires text there, and the matcher folds it to
#: nothing, so a node one release behind answers such a find by its own rules, never with
#: an error.
NO_NAME = "-"


def _opt(r: Reader, key: str, max_len: int = NAME) -> str | None:
    return r.opt_text(key, max_len=max_len)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


@dataclass(frozen=True)
class Requester:
    """The person on whose behalf a node asks (logged for FERPA §99.32)."""

    user_id: str
    role: str
    school: str

    def to_body(self) -> dict[str, Any]:  # keys in sorted order (see `pack_body`)
        return {"role": self.role, "school": self.school, "user_id": self.user_id}

    @classmethod
    def read(cls, r: Reader) -> Requester:
        out = cls(r.text("user_id", max_len=NAME), r.text("role", choices=ROLES),
                  r.text("school", max_len=200))
        r.done()
        return out


_DEMOGRAPHIC_FIELDS = ("birth_city", "birth_country", "birth_date", "birth_state",
                       "first_name", "last_name_1", "last_name_2", "middle_name",
                       "multiple_birth", "sex", "suffix")


@dataclass(frozen=True)
class Demographics:
    """Names (both surnames), sex, birth date and place: what identity is decided on."""

    first_name: str
    last_name_1: str
    middle_name: str | None = None
    last_name_2: str | None = None
    suffix: str | None = None
    sex: str | None = None
    birth_date: str | None = None  # ISO YYYY-MM-DD
    birth_city: str | None = None
    birth_state: str | None = None
    birth_country: str | None = None
    multiple_birth: bool | None = None

    def to_body(self) -> dict[str, Any]:  # keys in sorted order (see `pack_body`)
        d = self.__dict__
        return {k: d[k] for k in _DEMOGRAPHIC_FIELDS if d[k] is not None}

    @classmethod
    def read(cls, r: Reader) -> Demographics:
        out = cls(
            first_name=r.text("first_name", max_len=NAME),
            last_name_1=r.text("last_name_1", max_len=NAME),
            middle_name=_opt(r, "middle_name"),
            last_name_2=_opt(r, "last_name_2"),
            suffix=r.opt_text("suffix", max_len=10),
            sex=r.opt_text("sex", choices=SEXES),
            birth_date=r.opt_text("birth_date", max_len=10, pattern=DATE_RE),
            birth_city=_opt(r, "birth_city"),
            birth_state=_opt(r, "birth_state"),
            birth_country=_opt(r, "birth_country"),
            multiple_birth=r.opt_flag("multiple_birth"),
        )
        r.done()
        return out


@dataclass(frozen=True)
class FindCriteria:
    """Demographics plus parents' names and known ids ((kind, value) pairs sorted by kind)."""

    person: Demographics
    parent_names: tuple[str, ...] = ()
    ids: tuple[tuple[str, str], ...] = ()

    def to_body(self) -> dict[str, Any]:  # keys in sorted order (see `pack_body`)
        return {
            "ids": dict(sorted(self.ids)),
            "parent_names": list(self.parent_names),
            "person": self.person.to_body(),
        }

    @classmethod
    def read(cls, r: Reader) -> FindCriteria:
        person = Demographics.read(r.sub("person"))
        parents = r.array("parent_names", max_len=4)
        ids = r.sub("ids")
        if len(ids.data) > 8:
            raise MalformedMessage(f"{ids.where}: more than 8 ids")
        pairs = tuple(
            (as_str(k, f"{ids.where} key", max_len=32), as_str(v, ids.path(k), max_len=64))
            for k, v in sorted(ids.data.items())
        )
        r.done()
        return cls(
            person,
            tuple(as_str(p, f"{r.where}.parent_names[{i}]", max_len=200)
                  for i, p in enumerate(parents)),
            pairs,
        )


@dataclass(frozen=True)
class Find:
    TYPE: ClassVar[str] = "find"
    criteria: FindCriteria
    requester: Requester
    purpose: str
    max_candidates: int = 10

    def to_body(self) -> dict[str, Any]:  # keys in sorted order (see `pack_body`)
        return {"criteria": self.criteria.to_body(), "max_candidates": self.max_candidates,
                "purpose": self.purpose, "requester": self.requester.to_body()}

    @classmethod
    def read(cls, r: Reader) -> Find:
        return cls(FindCriteria.read(r.sub("criteria")), Requester.read(r.sub("requester")),
                   r.text("purpose", choices=PURPOSES),
                   r.integer("max_candidates", min_value=1, max_value=MAX_CANDIDATES))


@dataclass(frozen=True)
class Candidate:
    """One possible match: an opaque handle for `fetch`, score, outcome, agreements."""

    handle: str
    score: int  # match weight × 1000
    outcome: str
    demographics: Demographics
    agreements: tuple[tuple[str, str], ...] = ()  # (field, comparison level)

    def to_body(self) -> dict[str, Any]:  # keys in sorted order (see `pack_body`)
        return {"agreements": dict(sorted(self.agreements)),
                "demographics": self.demographics.to_body(), "handle": self.handle,
                "outcome": self.outcome, "score": self.score}

    @classmethod
    def read(cls, r: Reader) -> Candidate:
        ag = r.sub("agreements")
        if len(ag.data) > 32:
            raise MalformedMessage(f"{ag.where}: more than 32 fields")
        out = cls(
            r.text("handle", pattern=HANDLE_RE, max_len=128),
            r.integer("score", min_value=-(10**9), max_value=10**9),
            r.text("outcome", choices=OUTCOMES),
            Demographics.read(r.sub("demographics")),
            tuple((as_str(k, f"{ag.where} key", max_len=40), as_str(v, ag.path(k), max_len=20))
                  for k, v in sorted(ag.data.items())),
        )
        r.done()
        return out


@dataclass(frozen=True)
class FindReply:
    TYPE: ClassVar[str] = "find_reply"
    candidates: tuple[Candidate, ...] = ()

    def to_body(self) -> dict[str, Any]:
        return {"candidates": [c.to_body() for c in self.candidates]}

    @classmethod
    def read(cls, r: Reader) -> FindReply:
        items = r.array("candidates", max_len=MAX_CANDIDATES)
        return cls(tuple(Candidate.read(Reader(c, f"{r.where}.candidates[{i}]"))
                         for i, c in enumerate(items)))


def _handles(r: Reader, key: str, min_len: int = 1) -> tuple[str, ...]:
    items = r.array(key, max_len=MAX_HANDLES, min_len=min_len)
    return tuple(as_str(h, f"{r.where}.{key}[{i}]", pattern=HANDLE_RE, max_len=128)
                 for i, h in enumerate(items))


@dataclass(frozen=True)
class Fetch:
    TYPE: ClassVar[str] = "fetch"
    handles: tuple[str, ...]
    requester: Requester
    purpose: str

    def to_body(self) -> dict[str, Any]:
        return {"handles": list(self.handles), "requester": self.requester.to_body(),
                "purpose": self.purpose}

    @classmethod
    def read(cls, r: Reader) -> Fetch:
        return cls(_handles(r, "handles"), Requester.read(r.sub("requester")),
                   r.text("purpose", choices=PURPOSES))


@dataclass(frozen=True)
class FetchReply:
    TYPE: ClassVar[str] = "fetch_reply"
    snapshots: tuple[RecordSnapshot, ...] = ()
    missing: tuple[str, ...] = ()  # handles not found or not released for this purpose

    def to_body(self) -> dict[str, Any]:
        return {"snapshots": [s.to_body() for s in self.snapshots],
                "missing": list(self.missing)}

    @classmethod
    def read(cls, r: Reader) -> FetchReply:
        items = r.array("snapshots", max_len=MAX_HANDLES)
        return cls(tuple(RecordSnapshot.read(Reader(s, f"{r.where}.snapshots[{i}]"))
                         for i, s in enumerate(items)), _handles(r, "missing", min_len=0))


@dataclass(frozen=True)
class MoveNotice:
    TYPE: ClassVar[str] = "move_notice"
    student: Demographics
    sent_by: Requester
    destination: str
    contact: str
    expected_arrival: str | None = None  # ISO date
    comment: str | None = None
    record_id: str | None = None  # the sender's record, for a later fetch or link

    def to_body(self) -> dict[str, Any]:
        return _drop_none({
            "student": self.student.to_body(), "sent_by": self.sent_by.to_body(),
            "destination": self.destination, "contact": self.contact,
            "expected_arrival": self.expected_arrival, "comment": self.comment,
            "record_id": self.record_id})

    @classmethod
    def read(cls, r: Reader) -> MoveNotice:
        return cls(
            Demographics.read(r.sub("student")), Requester.read(r.sub("sent_by")),
            r.text("destination", max_len=200), r.text("contact", max_len=200),
            r.opt_text("expected_arrival", max_len=10, pattern=DATE_RE),
            r.opt_text("comment", max_len=TEXT), r.opt_text("record_id", max_len=128))


@dataclass(frozen=True)
class Receipt:
    """Signed acknowledgement of a move notice or link: binds the exact body received."""

    TYPE: ClassVar[str] = "receipt"
    received_body_hash: bytes
    received_at_ms: int
    note: str | None = None

    def to_body(self) -> dict[str, Any]:
        return _drop_none({"received_body_hash": self.received_body_hash,
                           "received_at_ms": self.received_at_ms, "note": self.note})

    @classmethod
    def read(cls, r: Reader) -> Receipt:
        return cls(r.blob("received_body_hash", length=32), r.integer("received_at_ms"),
                   r.opt_text("note", max_len=TEXT))


@dataclass(frozen=True)
class Link:
    """Assert (or revoke) that `my_record` here is the same child as `your_record` there."""

    TYPE: ClassVar[str] = "link"
    my_record: str
    your_record: str
    asserted_by: Requester
    action: str = "assert"
    comment: str | None = None

    def to_body(self) -> dict[str, Any]:
        return _drop_none({"my_record": self.my_record, "your_record": self.your_record,
                           "asserted_by": self.asserted_by.to_body(), "action": self.action,
                           "comment": self.comment})

    @classmethod
    def read(cls, r: Reader) -> Link:
        return cls(r.text("my_record", max_len=128), r.text("your_record", max_len=128),
                   Requester.read(r.sub("asserted_by")), r.text("action", choices=LINK_ACTIONS),
                   r.opt_text("comment", max_len=TEXT))


#: Where a `link` assertion's comment carries the child as the asserting state knows it
#: (its own record, or what it searched for), so the receiving state's administrator can
#: compare before validating. Older releases show it as part of the comment.
LINK_CHILD_MARK = "\n\n[statenode child] "


def comment_with_child(comment: str | None, child: Demographics | None) -> str | None:
    """A `link` comment that also carries `child` (see `LINK_CHILD_MARK`), within `TEXT`."""
    if child is None:
        return comment
    note = LINK_CHILD_MARK + json.dumps(child.to_body(), ensure_ascii=False,
                                        separators=(",", ":"), sort_keys=True)
    return ((comment or "")[:TEXT - len(note)] + note) if len(note) < TEXT else comment


def child_of_comment(comment: str | None) -> tuple[str, Demographics | None]:
    """(the person's comment, the child it carries or None); a note that does not decode
    strictly as `Demographics` is left in the comment as text."""
    text = comment or ""
    head, mark, tail = text.rpartition(LINK_CHILD_MARK)
    if not mark:
        return text, None
    try:
        child = Demographics.read(Reader(json.loads(tail), "link.comment.child"))
    except (ValueError, RecursionError, MalformedMessage):
        return text, None
    return head, child


#: blinded elements in every discover message (node.matching.discover_keys'
#: DISCOVER_ELEMENTS; protocol/ imports nothing of node/, tests/protocol/test_discover_wire.py
#: keeps them equal)
DISCOVER_ELEMENTS = 7
ELEMENT_LEN = 32
PROOF_LEN = 64


def _elements(r: Reader, key: str) -> tuple[bytes, ...]:
    items = r.array(key, min_len=DISCOVER_ELEMENTS, max_len=DISCOVER_ELEMENTS)
    return tuple(as_bytes(e, f"{r.path(key)}[{i}]", length=ELEMENT_LEN)
                 for i, e in enumerate(items))


@dataclass(frozen=True)
class Discover:
    """The discover round (issue 14): exactly DISCOVER_ELEMENTS blinded ristretto255
    elements (the query's discover keys, padded with blinded random inputs); the holder
    evaluates them with its OPRF key. The elements' validity as group elements is checked
    by the holder's crypto (crypto.oprf) before it evaluates them."""

    TYPE: ClassVar[str] = "discover"
    elements: tuple[bytes, ...]
    requester: Requester
    purpose: str

    def to_body(self) -> dict[str, Any]:
        return {"elements": list(self.elements), "purpose": self.purpose,
                "requester": self.requester.to_body()}

    @classmethod
    def read(cls, r: Reader) -> Discover:
        return cls(_elements(r, "elements"), Requester.read(r.sub("requester")),
                   r.text("purpose", choices=SEARCH_PURPOSES))


@dataclass(frozen=True)
class DiscoverReply:
    """The holder's evaluations, in the order asked, with one batched DLEQ proof (RFC 9497
    §2.2) that it used the OPRF key pinned in its directory entry, and the version of the
    filter the requester must check the outputs against."""

    TYPE: ClassVar[str] = "discover_reply"
    evaluated: tuple[bytes, ...]
    proof: bytes
    filter_version: int

    def to_body(self) -> dict[str, Any]:
        return {"evaluated": list(self.evaluated), "filter_version": self.filter_version,
                "proof": self.proof}

    @classmethod
    def read(cls, r: Reader) -> DiscoverReply:
        return cls(_elements(r, "evaluated"), r.blob("proof", length=PROOF_LEN),
                   r.integer("filter_version", min_value=0))


@dataclass(frozen=True)
class Error:
    TYPE: ClassVar[str] = "error"
    code: ErrorCode
    message: str

    def to_body(self) -> dict[str, Any]:
        return {"code": self.code.value, "message": self.message}

    @classmethod
    def read(cls, r: Reader) -> Error:
        code = r.text("code", choices=frozenset(c.value for c in ErrorCode))
        return cls(ErrorCode(code), r.text("message", max_len=500))


Message: TypeAlias = (
    Find | FindReply | Fetch | FetchReply | MoveNotice | Receipt | Link | Cosign
    | CosignReply | Discover | DiscoverReply | Error
)
_CLASSES: dict[str, Any] = {
    c.TYPE: c for c in (Find, FindReply, Fetch, FetchReply, MoveNotice, Receipt, Link,
                        Cosign, CosignReply, Discover, DiscoverReply, Error)
}
MESSAGE_TYPES: tuple[str, ...] = tuple(_CLASSES)
REPLY_TYPES: frozenset[str] = frozenset(
    {"find_reply", "fetch_reply", "receipt", "cosign_reply", "discover_reply", "error"})


def to_body(msg: Message) -> dict[str, Any]:
    """The plain map for `codec.pack`."""
    return msg.to_body()


#: types whose `to_body` builds every map with its keys already in sorted order, of
#: nothing but str, int, bool, None and lists (so plain msgpack is canonical msgpack)
_PRESORTED = frozenset({"find", "find_reply"})


def pack_body(msg: Message) -> bytes:
    """Canonical msgpack of `msg`'s body (the same bytes as `codec.pack(to_body(msg))`;
    the busiest types skip the canonicalising walk because they are built canonical)."""
    if msg.TYPE in _PRESORTED:
        return pack_presorted(msg.to_body())
    return pack(msg.to_body())


def from_body(msg_type: str, body: object, *, checked: bool = True) -> Message:
    """Rebuild a message of `msg_type` from an untrusted decoded map (MalformedMessage).

    The busiest types (`find`, `find_reply`) first go through a single-pass check that
    accepts exactly what the field readers accept and builds the message directly; any
    doubt sends the body to the readers, which name the offending field. `checked=False`
    means `body` came from `codec.unpack(..., check=False)`: it is then tree-checked
    (depth, map keys, floats) before the readers see it.
    """
    cls = _CLASSES.get(msg_type)
    if cls is None:
        raise MalformedMessage(f"unknown message type {msg_type!r}")
    fast = _FAST_READERS.get(msg_type)
    if fast is not None:
        try:
            quick: Message | None = fast(body)
        except (TypeError, ValueError, KeyError, AttributeError):
            quick = None
        if quick is not None:
            return quick
    if not checked:
        check_tree(body)
    r = Reader(body, msg_type)
    msg: Message = cls.read(r)
    r.done()
    return msg


# --- the single-pass fast path of `from_body` ----------------------------------------------
# Each function returns the message when the body is valid by exactly the rules of the
# `read` methods above, and None otherwise (the readers then say why). They build the
# frozen dataclasses without their __init__ (the values are already checked).

_DEMOGRAPHIC_TEXT = {"middle_name": NAME, "last_name_2": NAME, "birth_city": NAME,
                     "birth_state": NAME, "birth_country": NAME, "suffix": 10}
_SEX = frozenset(SEXES)
_ROLE = frozenset(ROLES)
_PURPOSE = frozenset(PURPOSES)
_OUTCOME = frozenset(OUTCOMES)
_DATE_MATCH = DATE_RE.fullmatch
_HANDLE_MATCH = HANDLE_RE.fullmatch


def _new(cls: Any, values: dict[str, Any]) -> Any:
    obj = object.__new__(cls)
    obj.__dict__.update(values)
    return obj


def _text_ok(v: object, max_len: int) -> bool:
    return type(v) is str and 0 < len(v) <= max_len


def _fast_demographics(d: Any) -> Demographics | None:
    if type(d) is not dict:
        return None
    first, last = d.get("first_name"), d.get("last_name_1")
    if not (_text_ok(first, NAME) and _text_ok(last, NAME)):
        return None
    out: dict[str, Any] = {"first_name": first, "last_name_1": last, "middle_name": None,
                           "last_name_2": None, "suffix": None, "sex": None,
                           "birth_date": None, "birth_city": None, "birth_state": None,
                           "birth_country": None, "multiple_birth": None}
    for k, v in d.items():
        if k in ("first_name", "last_name_1") or v is None:
            continue
        limit = _DEMOGRAPHIC_TEXT.get(k)
        if limit is not None:
            if not _text_ok(v, limit):
                return None
        elif k == "sex":
            if type(v) is not str or v not in _SEX:
                return None
        elif k == "birth_date":
            if not _text_ok(v, 10) or not _DATE_MATCH(v):
                return None
        elif k == "multiple_birth":
            if type(v) is not bool:
                return None
        else:
            return None  # an unexpected field
        out[k] = v
    result: Demographics = _new(Demographics, out)
    return result


def _fast_requester(d: Any) -> Requester | None:
    if type(d) is not dict or len(d) != 3:
        return None
    user, role, school = d.get("user_id"), d.get("role"), d.get("school")
    if not (_text_ok(user, NAME) and type(role) is str and role in _ROLE
            and _text_ok(school, 200)):
        return None
    result: Requester = _new(Requester, {"user_id": user, "role": role, "school": school})
    return result


def _fast_pairs(d: Any, max_items: int, key_len: int, value_len: int
                ) -> tuple[tuple[str, str], ...] | None:
    if type(d) is not dict or len(d) > max_items:
        return None
    for k, v in d.items():
        if not (_text_ok(k, key_len) and _text_ok(v, value_len)):
            return None
    return tuple(sorted(d.items()))


def _int_ok(v: object, lo: int, hi: int) -> bool:
    return type(v) is int and lo <= v <= hi


def _fast_find(d: Any) -> Find | None:
    if type(d) is not dict or len(d) != 4:
        return None
    c, purpose, most = d.get("criteria"), d.get("purpose"), d.get("max_candidates")
    if type(purpose) is not str or purpose not in _PURPOSE \
            or not _int_ok(most, 1, MAX_CANDIDATES):
        return None
    if type(c) is not dict or len(c) != 3:
        return None
    person = _fast_demographics(c.get("person"))
    parents = c.get("parent_names")
    ids = _fast_pairs(c.get("ids"), 8, 32, 64)
    requester = _fast_requester(d.get("requester"))
    if person is None or ids is None or requester is None or type(parents) is not list \
            or len(parents) > 4 or not all(_text_ok(p, 200) for p in parents):
        return None
    criteria = _new(FindCriteria, {"person": person, "parent_names": tuple(parents),
                                   "ids": ids})
    result: Find = _new(Find, {"criteria": criteria, "requester": requester,
                               "purpose": purpose, "max_candidates": most})
    return result


def _fast_candidate(d: Any) -> Candidate | None:
    if type(d) is not dict or len(d) != 5:
        return None
    handle, score, outcome = d.get("handle"), d.get("score"), d.get("outcome")
    if not (_text_ok(handle, 128) and _HANDLE_MATCH(handle)  # type: ignore[arg-type]
            and _int_ok(score, -(10**9), 10**9) and type(outcome) is str
            and outcome in _OUTCOME):
        return None
    person = _fast_demographics(d.get("demographics"))
    agreements = _fast_pairs(d.get("agreements"), 32, 40, 20)
    if person is None or agreements is None:
        return None
    result: Candidate = _new(Candidate, {"handle": handle, "score": score, "outcome": outcome,
                                         "demographics": person, "agreements": agreements})
    return result


def _fast_find_reply(d: Any) -> FindReply | None:
    if type(d) is not dict or len(d) != 1:
        return None
    items = d.get("candidates")
    if type(items) is not list or len(items) > MAX_CANDIDATES:
        return None
    out = []
    for item in items:
        c = _fast_candidate(item)
        if c is None:
            return None
        out.append(c)
    result: FindReply = _new(FindReply, {"candidates": tuple(out)})
    return result


_FAST_READERS: dict[str, Any] = {"find": _fast_find, "find_reply": _fast_find_reply}


def purpose_of(msg: Message) -> str | None:
    """The purpose a message states in its body, if it has one."""
    return msg.purpose if isinstance(msg, Find | Fetch | Discover) else None


__all__ = [
    "ADMIN_SEARCH_PURPOSES",
    "DISCOVER_ELEMENTS",
    "LINK_CHILD_MARK",
    "MESSAGE_TYPES",
    "NO_NAME",
    "PURPOSES",
    "REPLY_TYPES",
    "ROLES",
    "SEARCH_PURPOSES",
    "Candidate",
    "Demographics",
    "Discover",
    "DiscoverReply",
    "Error",
    "Fetch",
    "FetchReply",
    "Find",
    "FindCriteria",
    "FindReply",
    "Link",
    "Message",
    "MoveNotice",
    "Receipt",
    "Requester",
    "child_of_comment",
    "comment_with_child",
    "from_body",
    "purpose_of",
    "search_refusal",
    "to_body",
]
