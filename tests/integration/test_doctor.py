"""`statenode doctor` against a real running federation (TX, CA, FL).

All green when healthy; a loosened key file and a stopped peer are each named with their
fix. The expired directory snapshot is covered by
test_faults.py::test_directory_unreachable_then_expired (doctor warns, then fails).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from config import load_config
from tests.integration.harness import Federation

pytestmark = pytest.mark.integration
ANA = {"first_name": "Ana", "last_name_1": "Ruiz", "birth_date": "2011-05-06"}


def _doctor(fed: Federation, state: str) -> tuple[int, str, dict[str, object]]:
    text = fed.cli("doctor", "-c", str(fed.config(state)), check=False)
    data = fed.cli("doctor", "-c", str(fed.config(state)), "--json", check=False)
    return text.returncode, text.stdout, json.loads(data.stdout)


def test_healthy_node_is_all_green(federation: Federation) -> None:
    federation.find("TX", first_name="Ana", last_name_1="Ruiz")
    code, out, data = _doctor(federation, "TX")
    assert code == 0, out
    assert data["status"] == "ok", out
    assert "WARN" not in out and "FAIL" not in out
    areas = {c["area"] for c in data["checks"]}  # type: ignore[attr-defined]
    assert areas >= {"config", "key files", "keys", "node", "directory", "peers", "clock",
                     "database", "disk", "jobs"}


def test_loosened_key_file_is_named_with_its_fix(federation: Federation) -> None:
    key = load_config(federation.config("TX")).keys.signing_key
    key.chmod(0o644)
    try:
        code, out, _ = _doctor(federation, "TX")
    finally:
        key.chmod(0o600)
    assert code == 1
    assert f"{key} is accessible by other users (mode 0644)" in out
    assert f"fix: chmod 600 {key}" in out


def test_stopped_peer_is_named_with_its_fix(federation: Federation) -> None:
    federation.nodes["FL"].stop()
    try:
        federation.find("TX", first_name="Ana", last_name_1="Ruiz", timeout=2)
        code, out, _ = _doctor(federation, "TX")
    finally:
        federation.start_node("FL")
    assert code == 0  # a peer being down is a warning: this node still works
    assert "WARN  peers      FL is unreachable" in out
    assert "consecutive failures" in out
    assert "ask FL's operator to start it (statenode serve)" in out
    assert "OK    peers      CA reachable" in out


def test_signing_key_rotation_through_the_directory(tmp_path: Path) -> None:
    """prepare → announce → switch (the running node reloads) → promote; exchanges work at
    every step and doctor names the next step of the rotation."""
    fed = Federation(tmp_path, ["TX", "CA"], background=5).create().start()
    try:
        tx = str(fed.config("TX"))
        # exchanges signed with TX's old key, in both logs (checked by the audit below)
        assert "CA" in fed.find("TX", **ANA, timeout=5)[1]["answered"]
        assert "TX" in fed.find("CA", **ANA, timeout=5)[1]["answered"]
        result = fed.run_job("TX", "cosign")  # CA cosigns a checkpoint signed by the old key
        assert result["ok"], result
        out = fed.cli("keys", "rotate-signing", "-c", tx, "--prepare").stdout
        public = out.split("next signing key: ", 1)[1].split()[0]
        refused = fed.cli("keys", "rotate-signing", "-c", tx, "--switch", check=False)
        assert refused.returncode == 1 and "announce-key" in refused.stderr
        assert "not announced" in fed.cli("doctor", "-c", tx, check=False).stdout
        fed.cli("directory", "announce-key", "-c", str(fed.directory_config), "TX",
                "--next-signing-key", public)
        for state in ("TX", "CA"):
            fed.run_job(state, "directory_refresh")
        out = fed.cli("keys", "rotate-signing", "-c", tx, "--switch").stdout
        assert "reloaded its keys" in out
        assert fed.control("TX", "/local/v1/status")["keys"]["signing_key"] == public
        assert "CA" in fed.find("TX", **ANA, timeout=5)[1]["answered"]  # CA accepts the new key
        assert "TX" in fed.find("CA", **ANA, timeout=5)[1]["answered"]
        assert "promote-key" in fed.cli("doctor", "-c", tx, check=False).stdout
        fed.cli("directory", "promote-key", "-c", str(fed.directory_config), "TX")
        for state in ("TX", "CA"):
            fed.run_job(state, "directory_refresh")
        assert "CA" in fed.find("TX", **ANA, timeout=5)[1]["answered"]
        assert "TX" in fed.find("CA", **ANA, timeout=5)[1]["answered"]
        code = fed.cli("doctor", "-c", tx, check=False)
        assert code.returncode == 0 and "FAIL" not in code.stdout, code.stdout
        # the logs still verify: TX's entries and checkpoints signed with the old key (and
        # CA's copies of TX's old-key envelopes) check against the directory's retired key
        for state in ("TX", "CA"):
            out_dir = tmp_path / f"export-{state}"
            fed.cli("audit", "export", "-c", str(fed.config(state)), str(out_dir))
            verified = fed.cli("audit", "verify", str(out_dir), check=False)
            assert verified.returncode == 0, verified.stdout + verified.stderr
        assert (tmp_path / "export-TX" / "verifier-key").read_text().split("+", 2)[2].strip() == (
            base64.b64encode(b"\x01" + base64.b64decode(public)).decode())
    finally:
        fed.stop()
