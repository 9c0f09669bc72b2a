"""Cost of one envelope seal+open next to the raw primitives it is built from, per suite.

For each HPKE suite (the default MLKEM768-X25519 in a version 2 envelope, and X25519 in
a version 1 envelope, what peers without a hybrid key get), prints medians over N
iterations (default 2000, capped at ~20 s per suite) for: the full `seal_envelope` +
`open_envelope` of a realistic `find` query and of a ~2 KiB `find_reply` (5
candidates), and the sum of the primitives measured in the same run on the same sizes
(Ed25519 sign + verify over the signed bytes, HPKE seal + open of the sealed plaintext
in that suite). The ratio is the cost of our framing, canonical msgpack and validation on
top of the cryptography (targets with the default suite: 1.3x for the find, 1.5x for the
reply). Sizes: the body, the sealed plaintext and the bytes on the wire. Prints figures
only; never asserts.

Run: PYTHONPATH=. python bench/crypto_bench.py [iterations]
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

from crypto.keys import generate_encryption_key, generate_hybrid_key, generate_signing_key
from crypto.seal import HYBRID, X25519, open_sealed, seal
from crypto.sign import sign_raw, verify_raw
from protocol.codec import pack
from protocol.envelope import (
    ReplayCache,
    open_envelope,
    seal_envelope,
    seal_info,
    signed_message,
)
from protocol.messages import (
    Candidate,
    Demographics,
    Find,
    FindCriteria,
    FindReply,
    Message,
    Requester,
    pack_body,
)

TIME_BUDGET_S = 20.0
NOW = 1_760_000_000_000


def medians_us(fns: dict[str, Callable[[], object]], n: int,
               deadline: float) -> dict[str, float]:
    """Median µs of each function, timed round-robin (one call of each per round)."""
    samples: dict[str, list[int]] = {k: [] for k in fns}
    clock = time.perf_counter_ns
    for i in range(n):
        for name, fn in fns.items():
            t0 = clock()
            fn()
            samples[name].append(clock() - t0)
        if i >= 50 and time.monotonic() > deadline:
            break
    return {k: statistics.median(v) / 1000 for k, v in samples.items()}


def person(i: int) -> Demographics:
    return Demographics("María Guadalupe", "Hernández", middle_name="de los Ángeles",
                        last_name_2="Villarreal", sex="F", birth_date=f"2012-03-{i + 1:02d}",
                        birth_city="San Andrés Tuxtla", birth_state="VZ",
                        birth_country="MX", multiple_birth=False)


def find_query() -> Find:
    return Find(
        FindCriteria(person(0), ("Rosa María Villarreal Ochoa", "Juan Carlos Hernández Ruiz"),
                     (("TX", "S123456789"), ("msix", "123456789012"))),
        Requester("staff-4711", "staff", "Lincoln Elementary School, Fresno Unified (0613630)"),
        "enrollment")


def find_reply() -> FindReply:
    agreements = (("birth_date", "agree"), ("first_name", "agree"), ("last_name_1", "agree"),
                  ("last_name_2", "partial"), ("birth_city", "agree"), ("mother", "missing"))
    return FindReply(tuple(Candidate(f"h_{i:04d}abcdefghijklmnop", 14_250 - i * 900,
                                     "near_match", person(i), agreements) for i in range(5)))


def bench(name: str, message: Message, n: int, deadline: float, reply: bool,
          suite: str) -> tuple[float, float]:
    sk = generate_signing_key()
    ek = generate_hybrid_key() if suite == HYBRID else generate_encryption_key()
    version = 2 if suite == HYBRID else 1
    seen = ReplayCache(max_entries=10 * n + 10)
    kw = dict(signing_key=sk, sender="TX", recipient="CA", recipient_key=ek.public,
              recipient_key_id=ek.key_id, message=message, now_ms=NOW, ttl_ms=60_000,
              purpose="enrollment", reply_to=b"\x01" * 16 if reply else None, suite=suite,
              version=version)

    def seal_once():  # type: ignore[no-untyped-def]
        return seal_envelope(**kw)  # type: ignore[arg-type]

    my_keys = {ek.key_id: ek}
    public = sk.public  # what the directory hands out: raw key bytes

    def open_once(wire: bytes) -> None:
        open_envelope(wire, my_id="CA", my_keys=my_keys, sender_key_lookup=lambda s: public,
                      now_ms=NOW, seen=seen)

    def full() -> None:
        open_once(seal_once().wire)

    sample = seal_once()
    body = pack_body(message)
    signed = signed_message(sample.header_bytes, sample.body_hash)
    plaintext = pack([sample.header_bytes, body, sample.signature])
    info = seal_info(message.TYPE, "TX", "CA", suite=suite if version == 2 else None)
    ct = seal(ek.public, plaintext, info=info, suite=suite)

    wires = iter([seal_once().wire for _ in range(2 * n + 10)])
    # interleaved: every round times each operation once, so a change in the machine's
    # background load (other processes on a shared host) hits all of them alike
    t = medians_us({
        "full": full, "seal": seal_once, "open": lambda: open_once(next(wires)),
        "sign": lambda: sign_raw(sk, signed),
        "verify": lambda: verify_raw(public, signed, sample.signature),
        "hseal": lambda: seal(ek.public, plaintext, info=info, suite=suite),
        "hopen": lambda: open_sealed(ek, ct, info=info),
    }, n, deadline)
    t_full, t_seal, t_open = t["full"], t["seal"], t["open"]
    t_sign, t_verify, t_hseal, t_hopen = t["sign"], t["verify"], t["hseal"], t["hopen"]
    raw = t_sign + t_verify + t_hseal + t_hopen
    print(f"\n{name}, {suite} (envelope v{version}): body {len(body)} B, sealed plaintext "
          f"{len(plaintext)} B, wire {len(sample.wire)} B")
    print(f"  envelope seal                      {t_seal:8.1f} µs")
    print(f"  envelope open (+replay cache)      {t_open:8.1f} µs")
    print(f"  envelope seal+open                 {t_full:8.1f} µs")
    print(f"  Ed25519 sign / verify              {t_sign:8.1f} / {t_verify:.1f} µs")
    print(f"  HPKE seal / open                   {t_hseal:8.1f} / {t_hopen:.1f} µs")
    print(f"  sum of raw primitives              {raw:8.1f} µs")
    print(f"  ratio seal+open / primitives       {t_full / raw:8.2f}x "
          f"(overhead {t_full - raw:.1f} µs)")
    return t_full, raw


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    print(f"statenode envelope benchmark: median of up to {n} iterations, "
          f"budget {TIME_BUDGET_S:.0f} s per suite")
    summary = []
    for suite, target in ((HYBRID, (1.3, 1.5)), (X25519, (None, None))):
        deadline = time.monotonic() + TIME_BUDGET_S / 2
        f_full, f_raw = bench("find query", find_query(), n, deadline, reply=False,
                              suite=suite)
        deadline = time.monotonic() + TIME_BUDGET_S / 2
        r_full, r_raw = bench("find_reply, 5 candidates (~2 KiB)", find_reply(), n, deadline,
                              reply=True, suite=suite)
        summary.append((suite, f_full / f_raw, r_full / r_raw, target))
    print("\nsummary (seal+open / primitives):")
    for suite, find, rep, (tf, tr) in summary:
        goal = f"   targets {tf}x / {tr}x" if tf else ""
        print(f"  {suite:<40} find {find:5.2f}x   reply {rep:5.2f}x{goal}")


if __name__ == "__main__":
    main()
