"""Cost of one envelope seal+open next to the raw primitives it is built from.

Prints medians over N iterations (default 2000, capped at ~20 s in total) for:
the full `seal_envelope` + `open_envelope` of a realistic `find` query and of a
~2 KiB `find_reply` (5 candidates), and the sum of the primitives measured in the same run on
the same sizes (Ed25519 sign + verify over the signed bytes, HPKE seal + open of
the sealed plaintext). The ratio is the cost of our framing, canonical msgpack
and validation on top of the cryptography. Prints figures only; never asserts.

Run: PYTHONPATH=/work/main /work/venv/bin/python bench/crypto_bench.py [iterations]
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

from crypto.keys import generate_encryption_key, generate_signing_key
from crypto.seal import open_sealed, seal
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
    to_body,
)

TIME_BUDGET_S = 20.0
NOW = 1_760_000_000_000


def median_us(fn: Callable[[], object], n: int, deadline: float) -> float:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - t0)
        if time.monotonic() > deadline and len(samples) >= 50:
            break
    return statistics.median(samples) / 1000


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


def bench(name: str, message: Message, n: int, deadline: float, reply: bool) -> None:
    sk, ek = generate_signing_key(), generate_encryption_key()
    seen = ReplayCache(max_entries=10 * n + 10)
    kw = dict(signing_key=sk, sender="TX", recipient="CA", recipient_key=ek.public,
              recipient_key_id=ek.key_id, message=message, now_ms=NOW, ttl_ms=60_000,
              purpose="enrollment", reply_to=b"\x01" * 16 if reply else None)

    def seal_once():  # type: ignore[no-untyped-def]
        return seal_envelope(**kw)  # type: ignore[arg-type]

    def open_once(wire: bytes) -> None:
        open_envelope(wire, my_id="CA", my_keys={ek.key_id: ek},
                      sender_key_lookup=lambda s: sk.public, now_ms=NOW, seen=seen)

    def full() -> None:
        open_once(seal_once().wire)

    sample = seal_once()
    body = pack(to_body(message))
    signed = signed_message(sample.header_bytes, sample.body_hash)
    plaintext = pack([sample.header_bytes, body, sample.signature])
    info = seal_info(message.TYPE, "TX", "CA")
    ct = seal(ek.public, plaintext, info=info)

    t_full = median_us(full, n, deadline)
    t_seal = median_us(seal_once, n, deadline)
    wires = [seal_once().wire for _ in range(n)]
    it = iter(wires)
    t_open = median_us(lambda: open_once(next(it)), n, deadline)
    t_sign = median_us(lambda: sign_raw(sk, signed), n, deadline)
    t_verify = median_us(lambda: verify_raw(sk.public, signed, sample.signature), n, deadline)
    t_hseal = median_us(lambda: seal(ek.public, plaintext, info=info), n, deadline)
    t_hopen = median_us(lambda: open_sealed(ek, ct, info=info), n, deadline)
    raw = t_sign + t_verify + t_hseal + t_hopen
    print(f"\n{name}: body {len(body)} B, sealed plaintext {len(plaintext)} B, "
          f"wire {len(sample.wire)} B")
    print(f"  envelope seal                      {t_seal:8.1f} µs")
    print(f"  envelope open (+replay cache)      {t_open:8.1f} µs")
    print(f"  envelope seal+open                 {t_full:8.1f} µs")
    print(f"  Ed25519 sign / verify              {t_sign:8.1f} / {t_verify:.1f} µs")
    print(f"  HPKE seal / open                   {t_hseal:8.1f} / {t_hopen:.1f} µs")
    print(f"  sum of raw primitives              {raw:8.1f} µs")
    print(f"  ratio seal+open / primitives       {t_full / raw:8.2f}x "
          f"(overhead {t_full - raw:.1f} µs)")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    deadline = time.monotonic() + TIME_BUDGET_S
    print(f"statenode envelope benchmark: median of up to {n} iterations, "
          f"budget {TIME_BUDGET_S:.0f} s")
    bench("find query", find_query(), n, deadline, reply=False)
    bench("find_reply, 5 candidates (~2 KiB)", find_reply(), n, deadline + TIME_BUDGET_S / 2,
          reply=True)


if __name__ == "__main__":
    main()
