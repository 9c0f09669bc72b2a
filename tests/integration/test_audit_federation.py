"""Issue 5 with real node processes: every exchange is in both logs, exports verify,
cross-checks agree, witnesses cosign, and a child's disclosure history is complete."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.harness import Federation

pytestmark = pytest.mark.integration

GUADALUPE = {"first_name": "Guadalupe", "last_name_1": "Hernandez", "last_name_2": "Lopez",
             "birth_date": "2009-03-04", "sex": "F", "purpose": "enrollment"}


def _export(fed: Federation, state: str, out: Path) -> Path:
    fed.cli("audit", "export", "-c", str(fed.config(state)), str(out))
    return out


def test_exports_verify_and_cross_check(federation: Federation, tmp_path: Path) -> None:
    answers, _ = federation.find("FL", **GUADALUPE)
    handle = answers["TX"]["candidates"][0]["handle"]
    federation.control("FL", "/local/v1/fetch", {"state": "TX", "handles": [handle],
                                                  "purpose": "enrollment", "user_id": "ms.ruiz",
                                                  "role": "staff"})
    # witnessing: every node asks its peers to cosign its checkpoint
    for state in federation.states:
        result = federation.run_job(state, "cosign")
        assert result["ok"], result
    fl = _export(federation, "FL", tmp_path / "fl")
    tx = _export(federation, "TX", tmp_path / "tx")
    for folder, witness in ((fl, "TX"), (tx, "FL")):
        vkey = federation.cli("audit", "checkpoint", "-c", str(federation.config(witness)))
        assert vkey.returncode == 0
        out = federation.cli("audit", "verify", str(folder))
        assert out.returncode == 0, out.stdout + out.stderr
    # FL's outgoing requests to TX are TX's incoming ones, byte for byte
    out = federation.cli("audit", "cross-check", str(fl), str(tx), check=False)
    assert out.returncode == 0, out.stdout + out.stderr

    # the child's disclosure history at TX names FL, the user, role and purpose
    hist = federation.cli("audit", "history", "-c", str(federation.config("TX")),
                          "--student", "TX900001")
    assert "FL" in hist.stdout and "ms.ruiz" in hist.stdout and "enrollment" in hist.stdout

    # dropping one exchange from FL's export is found by the cross-check
    lines = (fl / "entries.jsonl").read_text().splitlines()
    dropped = [ln for ln in lines if json.loads(ln).get("peer") == "TX"]
    (fl / "entries.jsonl").write_text("\n".join(ln for ln in lines if ln != dropped[0]) + "\n")
    out = federation.cli("audit", "cross-check", str(fl), str(tx), check=False)
    assert out.returncode == 1 and out.stdout.strip()
    out = federation.cli("audit", "verify", str(fl), check=False)
    assert out.returncode == 1


def test_checkpoint_and_verifier_key_are_public(federation: Federation) -> None:
    import urllib.request

    base = federation.nodes["TX"].url
    with urllib.request.urlopen(base + "/audit/v1/checkpoint", timeout=5) as r:
        note = r.read().decode()
        assert r.headers["Content-Type"].startswith("text/plain")
    assert note.splitlines()[0] == "127.0.0.1/TX/log"  # audit.origin as `init` wrote it
    with urllib.request.urlopen(base + "/audit/v1/verifier-key", timeout=5) as r:
        assert r.read().decode().startswith("127.0.0.1/TX/log+")
    with urllib.request.urlopen(base + "/audit/v1/witness-key", timeout=5) as r:
        assert r.read().decode().startswith("127.0.0.1/TX/witness+")


def test_receipt_is_a_tlog_proof(federation: Federation) -> None:
    federation.find("CA", **GUADALUPE)
    out = federation.cli("audit", "receipt", "-c", str(federation.config("CA")), "--index", "0")
    assert out.stdout.startswith("c2sp.org/tlog-proof@v1")
