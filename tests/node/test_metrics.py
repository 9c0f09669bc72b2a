"""GET /metrics (Prometheus text format) and GET /local/v1/status, in process."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from config import load_config
from node.app import create_app
from node.appkeys import SERVICES, TOKEN
from node.control.metrics import Family, allowed, escape_label, render, rss_bytes

SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-z_]+="([^"\\\n]|\\.)*",?)*\})? '
                    r"(-?[0-9.e+-]+|NaN|[+-]Inf)$")


def test_label_values_are_escaped() -> None:
    assert escape_label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    text = render([Family("x_total", "counter", "help with\nnewline").add(2, peer='T"X\\')])
    assert text.splitlines() == ["# HELP x_total help with\\nnewline", "# TYPE x_total counter",
                                 'x_total{peer="T\\"X\\\\"} 2']


def test_numbers_are_formatted() -> None:
    fam = Family("g", "gauge", "h").add(1.5).add(3.0).add(float("nan")).add(float("inf"))
    assert [line.split()[-1] for line in fam.render().splitlines()[2:]] == [
        "1.5", "3", "NaN", "+Inf"]


@pytest.mark.parametrize("remote,allow,ok", [
    ("127.0.0.1", ["127.0.0.1", "::1"], True),
    ("::1", ["127.0.0.1", "::1"], True),
    ("::ffff:127.0.0.1", ["127.0.0.1"], True),
    ("10.1.2.3", ["10.0.0.0/8"], True),
    ("192.168.1.9", ["127.0.0.1", "::1"], False),
    ("not an address", ["0.0.0.0/0"], False),
    (None, ["0.0.0.0/0"], False),
    ("127.0.0.1", ["bogus"], False),
])
def test_allowed(remote: str | None, allow: list[str], ok: bool) -> None:
    assert allowed(remote, allow) is ok


def test_rss_of_this_process() -> None:
    rss = rss_bytes()
    assert rss is None or rss > 1024 * 1024
    assert rss_bytes(999_999_999) is None


def _parse(text: str) -> dict[str, dict[str, Any]]:
    """Families by name: their TYPE, HELP and samples; asserts the format line by line."""
    fams: dict[str, dict[str, Any]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            current = line.split()[2]
            assert current not in fams, f"family {current} twice"
            fams[current] = {"help": line, "samples": []}
        elif line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            assert name == current and kind in ("counter", "gauge")
            fams[name]["type"] = kind
        else:
            assert SAMPLE.match(line), line
            assert current is not None and line.startswith(current)
            fams[current]["samples"].append(line)
    return fams


async def test_metrics_and_status_routes(node_dir: Path, aiohttp_client: Any) -> None:
    cfg = load_config(node_dir / "node.toml")
    app = create_app(cfg)
    client = await aiohttp_client(app)
    services = app[SERVICES]
    services.metrics.requests[("find", "ok")] += 3
    services.metrics.rejections["not_yet_valid"] += 2
    services.metrics.outgoing[("CA", "find", "timeout")] += 1
    services.peers.success("CA", latency_ms=12.5, clock_skew_s=-0.25)
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    fams = _parse(await resp.text())
    for name in ("statenode_requests_total", "statenode_rejections_total",
                 "statenode_peer_latency_seconds", "statenode_outbox_depth",
                 "statenode_exchange_log_entries", "statenode_last_checkpoint_age_seconds",
                 "statenode_directory_usable", "statenode_job_runs_total"):
        assert name in fams and "type" in fams[name], name
    assert 'statenode_requests_total{outcome="ok",type="find"} 3' in fams[
        "statenode_requests_total"]["samples"]
    assert 'statenode_rejections_total{reason="not_yet_valid"} 2' in fams[
        "statenode_rejections_total"]["samples"]
    assert 'statenode_peer_latency_seconds{peer="CA"} 0.0125' in fams[
        "statenode_peer_latency_seconds"]["samples"]
    assert fams["statenode_outbox_depth"]["samples"] == ["statenode_outbox_depth 0"]
    assert fams["statenode_directory_usable"]["samples"] == ["statenode_directory_usable 0"]

    assert (await client.get("/local/v1/status")).status == 403
    resp = await client.get("/local/v1/status",
                            headers={"Authorization": f"Bearer {app[TOKEN]}"})
    assert resp.status == 200
    status = await resp.json()
    assert status["node"] == "TX" and status["outbox_depth"] == 0
    assert status["clock"]["rejected_not_yet_valid"] == 2
    ca = next(p for p in status["peers"] if p["peer"] == "CA")
    assert ca["clock_skew_s"] == -0.25 and ca["in_backoff"] is False
    assert status["directory"]["usable"] is False and status["directory"]["reason"]
    assert {j["name"] for j in status["jobs"]} >= {"retention", "checkpoint", "outbox"}
    assert status["keys"]["signing_key_id"] == services.keys.signing.key_id


async def test_metrics_refused_to_other_addresses(node_dir: Path, aiohttp_client: Any) -> None:
    path = node_dir / "node.toml"
    path.write_text(path.read_text().replace("[server]\n",
                                             '[server]\nmetrics_from = ["10.0.0.0/8"]\n'))
    client = await aiohttp_client(create_app(load_config(path)))
    resp = await client.get("/metrics")
    assert resp.status == 403
    assert "metrics_from" in (await resp.json())["error"]
