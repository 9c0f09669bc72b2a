"""Node status page for operators: directory, peers, keys, scheduled jobs, clock skew.

DESIGN.md "Web UI" (peers and directory status), "Discovery" (a signed, expiring
directory snapshot) and "Scheduled jobs"; PROTOCOL-ANCHORS.md §1.5 (operational
monitoring). `GET /status` renders what `node.control.metrics.collect` gathers for
`/local/v1/status` and `statenode doctor` (no student data, no key material beyond
public key ids): directory serial, age and expiry with the last refresh; each peer's
directory status, last contact, latency, failures and backoff, clock skew; this node's
signing key and encryption keys with their validity; every scheduled job with its last
and next run; rejections by reason, outbox depth and the exchange log's size.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from node import clock
from node.web.site import add_nav, render, requires

OPERATOR = "operator"


def _age(seconds: float | None) -> str:
    """A duration for people: 45 s, 12 min, 3.5 h, 2.0 d."""
    if seconds is None:
        return "—"
    s = abs(seconds)
    if s < 90:
        text = f"{s:.0f} s"
    elif s < 5400:
        text = f"{s / 60:.0f} min"
    elif s < 172800:
        text = f"{s / 3600:.1f} h"
    else:
        text = f"{s / 86400:.1f} d"
    return text if seconds >= 0 else f"-{text}"


def annotate(status: dict[str, Any], now: float) -> dict[str, Any]:
    """Add the human-readable values the template shows."""
    for p in status["peers"]:
        p["contact_age"] = _age(now - p["last_contact"]) if p["last_contact"] else "never"
        p["state"] = ("backoff" if p["in_backoff"] else "failing" if p["failures"]
                      else "ok" if p["last_contact"] else "unknown")
    for k in status["keys"]["encryption"]:
        k["current"] = k["valid_from"] <= now < k["valid_until"]
        k["left"] = _age(k["valid_until"] - now)
    for j in status["jobs"]:
        j["interval"] = _age(j.get("interval_s"))
        j["next_in"] = _age(j["next_run"] - now) if j.get("next_run") else "—"
    status["rotation"] = next((j for j in status["jobs"] if j["name"] == "key_rotation"), None)
    d = status["directory"]
    d["age"], d["expires_in"] = _age(d.get("age_s")), _age(d.get("expires_in_s"))
    status["uptime"] = _age(status["uptime_s"])
    return status


@requires(OPERATOR)
async def status_page(request: web.Request) -> web.StreamResponse:
    from node.control.metrics import collect

    status = annotate(await collect(request.app), clock.now())
    return render(request, "status.html", {"s": status}, title="Node status")


def setup(app: web.Application) -> None:
    add_nav(app, "/status", "Node status", OPERATOR)
    app.router.add_get("/status", status_page, name="status")
