"""Fuzz the peer endpoint of a real node process (bounded count and time, seeded).

Starts a directory and two node processes (TX, CA) with tests/integration/harness.py,
raises TX's per-peer rate limit so the cases reach the crypto, then POSTs to TX's
`/federation/v1/exchange`: valid envelopes from CA (each answered 200 once), valid
envelopes mutated (bit flips, byte sets, cuts, inserts, deletes, clear-field swaps),
plausible clear fields around garbage, and random bytes. Prints cases run, the
status histogram and failures: any 500, any status outside the defined set,
connection errors, and whether the node is still alive and answering a valid
envelope at the end. Exit status 1 when a failure was found.

`--target control` fuzzes TX's local control API and `--target web` its web forms
instead, within the same budget (bench/fuzz_local.py): responses by status, 500s and
tracebacks in the node logs.

    PYTHONPATH=. python bench/fuzz_exchange.py [--seconds 60] [--count 200000] [--seed 1]
    PYTHONPATH=. python bench/fuzz_exchange.py --target control|web [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import random
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import msgpack

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFINED = {200, 400, 401, 403, 409, 413, 421, 429, 503}


def make_sealer(fed: object) -> object:
    from config import load_config
    from node.directory.identity import load_keys
    from protocol.envelope import seal_envelope
    from protocol.messages import Demographics, Find, FindCriteria, Requester

    tx_keys = load_keys(load_config(fed.config("TX")))  # type: ignore[attr-defined]
    ca_keys = load_keys(load_config(fed.config("CA")))  # type: ignore[attr-defined]

    from crypto.seal import HYBRID
    from protocol.envelope import VERSION

    def seal(rng: random.Random) -> bytes:
        """A valid find CA -> TX sealed the way this release seals (hybrid, version 2)."""
        now = time.time()
        entry = tx_keys.published_hybrid(now)[0]
        first = rng.choice(["Ana", "Lupe", "José", "María", "Jesús"])
        born = f"20{rng.randint(5, 15):02d}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
        find = Find(FindCriteria(Demographics(first, rng.choice(["Ruiz", "López", "García"]),
                                              sex=rng.choice("FM"), birth_date=born)),
                    Requester("fuzz", "staff", "Lincoln"), "enrollment")
        return seal_envelope(signing_key=ca_keys.signing, sender="CA", recipient="TX",
                             recipient_key=tx_keys.hybrid[entry.key_id].public,
                             recipient_key_id=entry.key_id, message=find,
                             now_ms=int(now * 1000), ttl_ms=60_000, purpose="enrollment",
                             suite=HYBRID, version=VERSION).wire

    return seal


def mutate(rng: random.Random, wire: bytes) -> bytes:
    data = bytearray(wire)
    for _ in range(rng.randint(1, 5)):
        op = rng.choice(["flip", "set", "cut", "insert", "delete", "swap", "clear"])
        i = rng.randrange(max(1, len(data)))
        if op == "flip" and data:
            data[i] ^= 1 << rng.randrange(8)
        elif op == "set" and data:
            data[i] = rng.randrange(256)
        elif op == "cut":
            del data[i:]
        elif op == "insert":
            data[i:i] = rng.randbytes(rng.randint(1, 64))
        elif op == "delete":
            del data[i:i + rng.randint(1, 64)]
        elif op == "swap" and len(data) > 2:
            j = rng.randrange(len(data))
            data[i], data[j] = data[j], data[i]
        elif op == "clear":
            try:
                fields = msgpack.unpackb(bytes(data))
                key = rng.choice(["v", "type", "from", "to", "sealed", "extra"])
                fields[key] = rng.choice([1, 2, "find", "fetch", "TX", "CA", "NY", b"",
                                          rng.randbytes(8), None, [], {}, 2**64 - 1])
                data = bytearray(msgpack.packb(fields))
            except Exception:  # no longer a map: keep the bytes
                pass
    return bytes(data)


def case(rng: random.Random, seal: object) -> tuple[str, bytes]:
    kind = rng.choices(["valid", "mutated", "clear", "random"], weights=[1, 12, 3, 3])[0]
    if kind == "valid":
        return kind, seal(rng)  # type: ignore[operator]
    if kind == "mutated":
        return kind, mutate(rng, seal(rng))  # type: ignore[operator]
    if kind == "clear":
        return kind, msgpack.packb({"v": 1, "type": rng.choice(["find", "fetch", "link"]),
                                    "from": rng.choice(["CA", "FL", "tx"]), "to": "TX",
                                    "sealed": rng.randbytes(rng.randint(0, 400))})
    return kind, rng.randbytes(rng.randint(0, 4096))


async def fuzz(url: str, seal: object, *, seconds: float, count: int, seed: int,
               concurrency: int) -> dict[str, object]:
    statuses: collections.Counter[str] = collections.Counter()
    failures: list[str] = []
    done = 0
    deadline = time.monotonic() + seconds
    rngs = [random.Random(f"{seed}/{w}") for w in range(concurrency)]
    endpoint = url + "/federation/v1/exchange"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:

        async def worker(rng: random.Random) -> None:
            nonlocal done
            while done < count and time.monotonic() < deadline:
                done += 1
                kind, body = case(rng, seal)
                try:
                    async with http.post(endpoint, data=body,
                                         headers={"Content-Type": "application/msgpack"}) as r:
                        await r.read()
                        status = r.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    failures.append(f"{kind}: {type(exc).__name__} {exc}")
                    statuses["connection error"] += 1
                    continue
                statuses[f"{kind} {status}"] += 1
                if status not in DEFINED or (status == 200 and kind not in ("valid", "mutated")):
                    failures.append(f"{kind}: HTTP {status} for {body[:40].hex()}…")

        started = time.monotonic()
        await asyncio.gather(*(worker(r) for r in rngs))
        elapsed = time.monotonic() - started
        async with http.post(endpoint, data=seal(random.Random(seed)),  # type: ignore[operator]
                             headers={"Content-Type": "application/msgpack"}) as r:
            final = r.status
    return {"cases": done, "elapsed": elapsed, "statuses": statuses, "failures": failures,
            "final_valid_status": final}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="time bound (default 60)")
    ap.add_argument("--count", type=int, default=200_000, help="case bound (default 200000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--concurrency", type=int, default=None,
                    help="requests in flight (default 8 for exchange, 4 otherwise)")
    ap.add_argument("--target", choices=["exchange", "control", "web"], default="exchange",
                    help="the peer endpoint (default), the local control API, or the web UI")
    args = ap.parse_args()
    if args.target != "exchange":
        import fuzz_local  # sibling module: this folder is on sys.path

        return fuzz_local.run(args.target, seconds=args.seconds, count=args.count,
                              seed=args.seed, concurrency=args.concurrency or 4)
    args.concurrency = args.concurrency or 8

    from tests.integration.harness import Federation

    with tempfile.TemporaryDirectory() as tmp:
        fed = Federation(Path(tmp), ["TX", "CA"], background=20).create()
        cfg = fed.config("TX")
        cfg.write_text(cfg.read_text().replace('timeout = "3s"',
                                               'timeout = "3s"\nrate_limit = 100000000'))
        fed.start()
        try:
            seal = make_sealer(fed)
            out = asyncio.run(fuzz(fed.nodes["TX"].url, seal, seconds=args.seconds,
                                   count=args.count, seed=args.seed,
                                   concurrency=args.concurrency))
            alive = fed.nodes["TX"].running
            log = (fed.node_dir("TX") / "node.log").read_text()
        finally:
            fed.stop()
    tracebacks = log.count("Traceback")
    failures: list[str] = out["failures"]  # type: ignore[assignment]
    statuses: collections.Counter[str] = out["statuses"]  # type: ignore[assignment]
    print(f"seed {args.seed}: {out['cases']} cases in {out['elapsed']:.1f} s "
          f"({out['cases'] / max(out['elapsed'], 1e-9):.0f}/s), concurrency {args.concurrency}")
    print("status histogram (case kind, HTTP status):")
    for key, n in sorted(statuses.items()):
        print(f"  {key:<24} {n:>8}")
    print(f"node alive at the end: {alive}; a valid envelope afterwards: "
          f"HTTP {out['final_valid_status']}; tracebacks in the node log: {tracebacks}")
    print(f"failures found: {len(failures)}")
    for f in failures[:20]:
        print("  " + f)
    bad = failures or not alive or out["final_valid_status"] != 200 or tracebacks
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
