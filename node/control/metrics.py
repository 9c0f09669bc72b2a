"""Live numbers of a running node: `GET /metrics` (Prometheus) and `GET /local/v1/status`.

Spec: PROTOCOL-ANCHORS.md §1.5 (operational monitoring) and §5.1 items 20, 22, 23
(diagnostics naming the failing dependency; clock discipline). The Prometheus text
exposition format 0.0.4 is written by hand (no client library): one `# HELP` and
`# TYPE` line per family, label values escaped (backslash, double quote, newline).

`/metrics` carries only operational facts (counts, latencies, sizes, ages; label values are
state codes, message types and error codes), never student data. It answers clients whose
address is in `server.metrics_from` (default: loopback only) and 403 to others.
`/local/v1/status` is behind the control API's bearer token (control.json) and gives
`statenode doctor` the live view: directory, peers' health and clock skew, jobs, key
ring, rejections by reason, outbox depth and the exchange log's size and last checkpoint.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import math
import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from node import __version__, clock
from node.appkeys import SERVICES
from node.federation.discover_status import discover_status
from node.http_inputs import client_address
from node.services import Services
from node.store import federation_tables as fed

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def escape_label(value: str) -> str:
    """A label value as the exposition format wants it (\\, " and newline escaped)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return format(float(value), ".12g")


@dataclass
class Family:
    """One metric family: name, type, help and its samples (labels, value)."""

    name: str
    kind: str  # counter | gauge
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> Family:
        self.samples.append((labels, float(value)))
        return self

    def render(self) -> str:
        lines = [f"# HELP {self.name} {_escape_help(self.help)}", f"# TYPE {self.name} {self.kind}"]
        for labels, value in self.samples:
            text = ",".join(f'{k}="{escape_label(str(v))}"' for k, v in sorted(labels.items()))
            lines.append(f"{self.name}{{{text}}} {_number(value)}" if text
                         else f"{self.name} {_number(value)}")
        return "\n".join(lines) + "\n"


def render(families: Iterable[Family]) -> str:
    return "".join(f.render() for f in families)


def rss_bytes(pid: int | str = "self") -> int | None:
    """Resident memory of a process from /proc/PID/status (None off Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


@dataclass(frozen=True)
class LogFacts:
    entries: int
    bytes: int
    last_checkpoint_size: int | None
    last_checkpoint_ms: int | None


def log_facts(path: Path) -> LogFacts:
    """Size and latest checkpoint of an exchange log file, read on a separate read-only
    connection (WAL lets it read beside the node's writer)."""
    size_bytes = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    if not path.exists():
        return LogFacts(0, 0, None, None)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        top = conn.execute("SELECT MAX(idx) FROM leaves").fetchone()[0]
        row = conn.execute("SELECT size, signed_ms FROM checkpoints "
                           "ORDER BY size DESC LIMIT 1").fetchone()
    except sqlite3.Error:
        return LogFacts(0, size_bytes, None, None)
    finally:
        conn.close()
    return LogFacts(0 if top is None else int(top) + 1, size_bytes,
                    None if row is None else int(row[0]), None if row is None else int(row[1]))


def _jobs(app: web.Application) -> Any:
    from node.appkeys import JOBS
    return app.get(JOBS)


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return repr(value)[:200]


async def collect(app: web.Application) -> dict[str, Any]:
    """Everything `/local/v1/status` shows (no student data, no key material)."""
    services: Services = app[SERVICES]
    cfg = services.cfg
    now = clock.now()
    facts = await asyncio.to_thread(log_facts, cfg.storage.exchange_log)
    try:
        depth = await services.store.run(fed.outbox_depth)
    except Exception as exc:  # a locked or read-only database must not break status
        depth = -1
        services.status_error = str(exc)
    directory = services.directory.status(now)
    entries: dict[str, Any] = {}
    if services.directory.snapshot is not None:
        entries = {e.node_id: e for e in services.directory.snapshot.entries}
    bound = cfg.exchange.max_clock_skew
    peers = []
    for node_id in sorted(set(entries) | set(services.peers.peers)):
        if node_id == cfg.node.id:
            continue
        h = services.peers.get(node_id)
        e = entries.get(node_id)
        peers.append({
            "peer": node_id, "status": e.status if e else "not in directory",
            "endpoints": list(e.endpoints) if e else [],
            "failures": h.failures, "in_backoff": h.in_backoff(now),
            "retry_in_s": round(max(0.0, h.next_attempt_at - now), 1) if h.failures else 0.0,
            "last_contact": h.last_contact, "last_error": h.last_error,
            "latency_ms": None if h.latency_ms is None else round(h.latency_ms, 1),
            "clock_skew_s": None if h.clock_skew_s is None else round(h.clock_skew_s, 3),
            "skew_over_bound": h.clock_skew_s is not None and abs(h.clock_skew_s) > bound,
        })
    keys = services.keys
    jobs = _jobs(app)
    try:
        discover: dict[str, Any] | None = await discover_status(services)
    except Exception as exc:  # a locked database must not break status
        discover = None
        services.status_error = str(exc)
    return {
        "node": cfg.node.id, "version": __version__, "pid": os.getpid(), "time": now,
        "uptime_s": round(now - services.started, 1), "rss_bytes": rss_bytes(),
        "directory": directory, "peers": peers,
        "clock": {"max_skew_s": bound,
                  "rejected_expired": services.metrics.rejections.get("expired", 0),
                  "rejected_not_yet_valid": services.metrics.rejections.get("not_yet_valid", 0),
                  "peers_over_bound": [p["peer"] for p in peers if p["skew_over_bound"]]},
        "rejections": dict(services.metrics.rejections),
        "jobs": _json_safe(jobs.describe()) if jobs is not None else [],
        "keys": {
            "signing_key_id": keys.signing.key_id,
            "signing_key": base64.b64encode(keys.signing.public).decode(),
            "encryption": [{"key_id": e.key_id, "valid_from": e.valid_from,
                            "valid_until": e.valid_until} for e in keys.published(now)],
        },
        "outbox_depth": depth,
        "discover": discover,
        "log": {"entries": facts.entries, "bytes": facts.bytes,
                "last_checkpoint_size": facts.last_checkpoint_size,
                "last_checkpoint_age_s": None if facts.last_checkpoint_ms is None
                else round(now - facts.last_checkpoint_ms / 1000, 1)},
    }


def families(status: dict[str, Any], services: Services) -> list[Family]:
    m = services.metrics
    out = [Family("statenode_build_info", "gauge", "Node id and software version.")
           .add(1, node=status["node"], version=status["version"])]
    out.append(Family("statenode_uptime_seconds", "gauge", "Seconds since the node started.")
               .add(status["uptime_s"]))
    req = Family("statenode_requests_total", "counter",
                 "Inbound federation requests by message type and outcome.")
    for (kind, outcome), n in sorted(m.requests.items()):
        req.add(n, type=kind, outcome=outcome)
    rej = Family("statenode_rejections_total", "counter",
                 "Inbound messages rejected, by reason (error code).")
    for reason, n in sorted(m.rejections.items()):
        rej.add(n, reason=reason)
    outgoing = Family("statenode_outgoing_requests_total", "counter",
                      "Requests this node sent to peers, by peer, type and outcome.")
    for (peer, kind, outcome), n in sorted(m.outgoing.items()):
        outgoing.add(n, peer=peer, type=kind, outcome=outcome)
    out += [req, rej, outgoing]
    lat = Family("statenode_peer_latency_seconds", "gauge",
                 "Round-trip time of the last successful request to each peer.")
    fails = Family("statenode_peer_failures", "gauge", "Consecutive failures per peer.")
    backoff = Family("statenode_peer_in_backoff", "gauge", "1 while a peer is in retry backoff.")
    skew = Family("statenode_peer_clock_skew_seconds", "gauge",
                  "Peer clock minus ours, from its last signed reply.")
    for p in status["peers"]:
        if p["latency_ms"] is not None:
            lat.add(p["latency_ms"] / 1000, peer=p["peer"])
        fails.add(p["failures"], peer=p["peer"])
        backoff.add(1 if p["in_backoff"] else 0, peer=p["peer"])
        if p["clock_skew_s"] is not None:
            skew.add(p["clock_skew_s"], peer=p["peer"])
    out += [lat, fails, backoff, skew]
    out.append(Family("statenode_outbox_depth", "gauge",
                      "Queued move notices and links not yet delivered.")
               .add(status["outbox_depth"]))
    log = status["log"]
    out.append(Family("statenode_exchange_log_entries", "gauge",
                      "Entries in the signed exchange log.").add(log["entries"]))
    out.append(Family("statenode_exchange_log_bytes", "gauge",
                      "Bytes of the exchange log file and its WAL.").add(log["bytes"]))
    age = Family("statenode_last_checkpoint_age_seconds", "gauge",
                 "Seconds since the latest checkpoint of the exchange log was signed.")
    if log["last_checkpoint_age_s"] is not None:
        age.add(log["last_checkpoint_age_s"])
    out.append(age)
    d = status["directory"]
    out.append(Family("statenode_directory_usable", "gauge",
                      "1 when the node holds a trusted, unexpired directory snapshot.")
               .add(1 if d["usable"] else 0))
    exp = Family("statenode_directory_expires_in_seconds", "gauge",
                 "Seconds until the cached directory snapshot expires.")
    if d["expires_in_s"] is not None:
        exp.add(d["expires_in_s"])
    out.append(exp)
    runs = Family("statenode_job_runs_total", "counter", "Runs of each scheduled job.")
    jfail = Family("statenode_job_failures_total", "counter", "Failed runs of each scheduled job.")
    for j in status["jobs"]:
        runs.add(j["runs"], job=j["name"])
        jfail.add(j["failures"], job=j["name"])
    out += [runs, jfail]
    rss = Family("process_resident_memory_bytes", "gauge", "Resident memory of the node process.")
    if status["rss_bytes"] is not None:
        rss.add(status["rss_bytes"])
    out.append(rss)
    return out


def allowed(remote: str | None, allow: Iterable[str]) -> bool:
    """Whether a client address is in `server.metrics_from` (addresses or networks)."""
    if remote is None:
        return False
    try:
        addr = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    for item in allow:
        try:
            if addr in ipaddress.ip_network(item, strict=False):
                return True
        except ValueError:
            continue
    return False


async def metrics_handler(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    if not allowed(client_address(request), services.cfg.server.metrics_from):
        return web.json_response({"error": "metrics are not served to this address "
                                           "(server.metrics_from)"}, status=403)
    status = await collect(request.app)
    return web.Response(text=render(families(status, services)),
                        headers={"Content-Type": CONTENT_TYPE})


async def status_handler(request: web.Request) -> web.Response:
    return web.json_response(await collect(request.app))


def setup_metrics_routes(app: web.Application) -> None:
    """`GET /metrics`; `GET /local/v1/status` (the control API's token guards /local/)."""
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/local/v1/status", status_handler)
