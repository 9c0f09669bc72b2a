"""The fast paths of the envelope (issue 16: crypto paths near the floor) accept exactly
what the field-by-field readers accept, and pack the same bytes:

- `messages.pack_body` (presorted `find` / `find_reply` bodies, plain msgpack) gives the
  bytes of `codec.pack(to_body(...))`, the canonical packer;
- `messages.from_body`'s single-pass readers return the readers' result or nothing;
  whatever the readers refuse, the fast path never accepts (mutated bodies);
- `Header.decode` and `peek` agree with their slow twins on valid and mutated input.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import messages as m
from protocol.codec import Reader, pack, unpack
from protocol.envelope import Header, _fast_header, _peek, peek
from protocol.errors import ProtocolError

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
text = st.text(min_size=1, max_size=12)
opt_text = st.none() | text


@st.composite
def demographics(draw: st.DrawFn) -> m.Demographics:
    return m.Demographics(
        draw(text), draw(text), middle_name=draw(opt_text), last_name_2=draw(opt_text),
        suffix=draw(st.none() | st.text(min_size=1, max_size=4)),
        sex=draw(st.none() | st.sampled_from(m.SEXES)),
        birth_date=draw(st.none() | st.dates().map(lambda d: d.isoformat())),
        birth_city=draw(opt_text), birth_state=draw(opt_text), birth_country=draw(opt_text),
        multiple_birth=draw(st.none() | st.booleans()))


pairs = st.lists(st.tuples(st.text(min_size=1, max_size=8), st.text(min_size=1, max_size=8)),
                 max_size=6, unique_by=lambda p: p[0]).map(
    lambda items: tuple(sorted(items)))


@st.composite
def finds(draw: st.DrawFn) -> m.Find:
    criteria = m.FindCriteria(draw(demographics()),
                              tuple(draw(st.lists(text, max_size=4))), draw(pairs))
    return m.Find(criteria, m.Requester(draw(text), draw(st.sampled_from(m.ROLES)), draw(text)),
                  draw(st.sampled_from(m.PURPOSES)), draw(st.integers(1, m.MAX_CANDIDATES)))


@st.composite
def replies(draw: st.DrawFn) -> m.FindReply:
    cands = draw(st.lists(st.builds(
        m.Candidate, st.from_regex(r"[A-Za-z0-9_-]{8,20}", fullmatch=True),
        st.integers(-(10**9), 10**9), st.sampled_from(m.OUTCOMES), demographics(), pairs),
        max_size=5))
    return m.FindReply(tuple(cands))


@SETTINGS
@given(st.one_of(finds(), replies()))
def test_pack_body_is_canonical_pack(msg: m.Message) -> None:
    assert m.pack_body(msg) == pack(m.to_body(msg))
    assert m.from_body(msg.TYPE, unpack(m.pack_body(msg))) == msg


def _slow(msg_type: str, body: Any) -> m.Message | None:
    try:
        r = Reader(body, msg_type)
        out: m.Message = m._CLASSES[msg_type].read(r)
        r.done()
        return out
    except ProtocolError:
        return None


def _mutations(body: Any) -> list[Any]:
    """Bodies one change away: a value replaced by each of a few wrong things, a key
    added, a key removed."""
    out: list[Any] = []
    wrong = [None, 7, -1, True, "", "x" * 300, b"x", [], {}, 1.5, "2012-13-45"]

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node) \
            if isinstance(node, list) else ()
        for k, v in list(items):
            for w in wrong:
                new = copy.deepcopy(body)
                _set(new, (*path, k), w)
                out.append(new)
            walk(v, (*path, k))
        if isinstance(node, dict):
            extra = copy.deepcopy(body)
            _get(extra, path)["unexpected"] = "x"
            out.append(extra)
            for k in list(node):
                fewer = copy.deepcopy(body)
                del _get(fewer, path)[k]
                out.append(fewer)

    walk(body, ())
    return out


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for k in path:
        node = node[k]
    return node


def _set(node: Any, path: tuple[Any, ...], value: Any) -> None:
    _get(node, path[:-1])[path[-1]] = value


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(finds(), replies().filter(lambda r: len(r.candidates) <= 2)))
def test_the_fast_readers_accept_exactly_what_the_readers_accept(msg: m.Message) -> None:
    body = unpack(pack(m.to_body(msg)))
    for bad in [body, *_mutations(body)]:
        slow = _slow(msg.TYPE, bad)
        fast = m._FAST_READERS[msg.TYPE](bad)
        assert fast is None or fast == slow, bad
        if slow is None:
            with pytest.raises(ProtocolError):
                m.from_body(msg.TYPE, bad)
        else:
            assert m.from_body(msg.TYPE, bad) == slow


HEADERS = [
    [1, "find", "TX", "CA", "0123456789abcdef", b"m" * 16, None, 1000, 2000, "enrollment"],
    [2, "find_reply", "TX", "CA", "0123456789abcdef", "mlkem768x25519-sha256-chacha20poly1305",
     b"m" * 16, b"r" * 16, 1000, 2000, "placement"],
]


@pytest.mark.parametrize("items", HEADERS)
def test_header_fast_path_agrees(items: list[Any]) -> None:
    cases = [items]
    for i in range(len(items)):
        for w in (None, 3, -1, True, "", "x" * 70, b"x", "ZZZ", 2**64 - 1):
            bad = list(items)
            bad[i] = w
            cases.append(bad)
    cases += [items[:-1], [*items, 1]]
    for case in cases:
        try:
            slow: Header | None = Header._decode(list(case))
        except ProtocolError:
            slow = None
        fast = _fast_header(list(case))
        assert fast is None or fast == slow, case
        if slow is not None:
            assert Header.decode(pack(case)) == slow


def test_peek_fast_path_agrees() -> None:
    good = [{"v": 1, "type": "find", "from": "TX", "to": "CA", "sealed": b"s"},
            {"v": 2, "type": "find", "from": "TX", "to": "CA", "kid": "k", "sealed": b"s"}]
    for wire in good:
        cases = [wire]
        for k in [*wire, "kid", "x"]:
            for w in (None, 3, "", "tx", b"x", "x" * 40):
                bad = dict(wire)
                bad[k] = w
                cases.append(bad)
        for case in cases:
            clean = {k: v for k, v in case.items() if v is not None} if case.get("kid") is None \
                else case
            try:
                slow = _peek(unpack(pack(clean)))
            except ProtocolError:
                slow = None
            try:
                fast = peek(pack(clean))
            except ProtocolError:
                fast = None
            assert fast == slow, clean


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(finds(), replies()), st.sampled_from([1, 2]))
def test_sealed_envelopes_are_canonical_msgpack(msg: m.Message, version: int) -> None:
    """The wire map, the signed header and the body are each what `codec.pack` makes."""
    import msgpack

    from crypto.keys import generate_encryption_key, generate_hybrid_key, generate_signing_key
    from crypto.seal import HYBRID, X25519, open_sealed
    from protocol.envelope import seal_envelope, seal_info

    key = generate_hybrid_key() if version == 2 else generate_encryption_key()
    suite = HYBRID if version == 2 else X25519
    sealed = seal_envelope(signing_key=generate_signing_key(), sender="TX", recipient="CA",
                           recipient_key=key.public, recipient_key_id=key.key_id, message=msg,
                           now_ms=10**12, ttl_ms=1000, purpose=getattr(msg, "purpose",
                                                                        "enrollment"),
                           reply_to=b"r" * 16 if msg.TYPE == "find_reply" else None,
                           suite=suite, version=version)
    outer = msgpack.unpackb(sealed.wire)
    assert pack(outer) == sealed.wire
    assert pack(msgpack.unpackb(sealed.header_bytes)) == sealed.header_bytes
    info = seal_info(msg.TYPE, "TX", "CA", suite=suite if version == 2 else None)
    inner = open_sealed(key, outer["sealed"], info=info)
    assert pack(msgpack.unpackb(inner)) == inner
    assert msgpack.unpackb(inner)[1] == pack(m.to_body(msg))
