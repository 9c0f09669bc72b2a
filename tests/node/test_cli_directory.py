"""`statenode directory ...` through click's CliRunner (and `serve` as a real process)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from node.authority.registry import Authority
from node.authority.web_service import create_authority_app
from node.cli import cli
from protocol.directory import verify_snapshot
from tests.node.dirfixtures import random_info

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), obj={})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def authority_dir(tmp_path: Path) -> Path:
    code, out, _ = run("directory", "init", str(tmp_path / "auth"), "--name", "Test")
    assert code == 0, out
    return tmp_path / "auth"


def write_info(tmp_path: Path, node_id: str) -> Path:
    path = tmp_path / f"{node_id}.json"
    path.write_text(random_info(node_id).to_json())
    return path


def test_init_prints_key_and_refuses_overwrite(tmp_path: Path, authority_dir: Path) -> None:
    cfg = str(authority_dir / "directory.toml")
    code, out, _ = run("directory", "show-key", "-c", cfg)
    assert code == 0 and len(base64.b64decode(out.strip())) == 32
    code, _, err = run("directory", "init", str(authority_dir))
    assert code == 1 and err.count("\n") == 1 and "refusing to overwrite" in err


def test_enroll_list_suspend_revoke(tmp_path: Path, authority_dir: Path) -> None:
    cfg = str(authority_dir / "directory.toml")
    code, out, _ = run("directory", "enroll", "-c", cfg, str(write_info(tmp_path, "TX")))
    assert code == 0 and "enrolled TX" in out and "serial 1" in out
    code, _, err = run("directory", "enroll", "-c", cfg, str(write_info(tmp_path, "TX")))
    assert code == 1 and "--replace" in err and err.count("\n") == 1
    code, out, _ = run("directory", "enroll", "-c", cfg, "--replace",
                       str(write_info(tmp_path, "TX")))
    assert code == 0 and "serial 2" in out
    assert run("directory", "suspend", "-c", cfg, "tx")[0] == 0
    code, out, _ = run("directory", "list", "-c", cfg, "--json")
    listed = json.loads(out)
    assert listed["serial"] == 3 and listed["entries"][0]["status"] == "suspended"
    assert run("directory", "reinstate", "-c", cfg, "TX")[0] == 0
    assert run("directory", "revoke", "-c", cfg, "TX")[0] == 0
    code, out, _ = run("directory", "list", "-c", cfg)
    assert code == 0 and "TX  revoked" in out and "serial 5" in out
    code, _, err = run("directory", "revoke", "-c", cfg, "CA")
    assert code == 1 and "CA is not enrolled" in err


def test_bad_inputs_are_one_line_errors(tmp_path: Path, authority_dir: Path) -> None:
    cfg = str(authority_dir / "directory.toml")
    bad = tmp_path / "bad.json"
    bad.write_text('{"node_id": "TX", "name": "x"}')
    for args, needle in [
        (("directory", "enroll", "-c", cfg, str(bad)), "bad.json: node info"),
        (("directory", "enroll", "-c", cfg, str(tmp_path / "none.json")), "not found"),
        (("directory", "list", "-c", str(tmp_path / "missing.toml")), "not found"),
        (("directory", "promote-key", "-c", cfg, "TX"), "TX is not enrolled"),
        (("directory", "announce-key", "-c", cfg, "TX", "--next-signing-key", "x"),
         "not base64"),
    ]:
        code, _, err = run(*args)
        assert code == 1 and needle in err and err.count("\n") == 1, (args, err)


def test_key_rotation_commands(tmp_path: Path, authority_dir: Path) -> None:
    cfg = str(authority_dir / "directory.toml")
    run("directory", "enroll", "-c", cfg, str(write_info(tmp_path, "TX")))
    nxt = base64.b64encode(random_info("TX").signing_key).decode()
    code, out, _ = run("directory", "announce-key", "-c", cfg, "TX", "--next-signing-key", nxt)
    assert code == 0 and "serial 2" in out
    assert "next key announced" in run("directory", "list", "-c", cfg)[1]
    code, out, _ = run("directory", "promote-key", "-c", cfg, "TX")
    assert code == 0 and "serial 3" in out
    code, out, _ = run("directory", "set-endpoints", "-c", cfg, "TX", "http://10.1.1.1:8443")
    assert code == 0 and "serial 4" in out


async def test_enroll_while_serving_is_seen_without_restart(tmp_path: Path, authority_dir: Path,
                                                            aiohttp_client) -> None:
    cfg = authority_dir / "directory.toml"
    authority = Authority.open(cfg)
    client = await aiohttp_client(create_authority_app(authority))
    resp = await client.get("/federation/v1/directory")
    snap = verify_snapshot(await resp.read(), authority.public_key, now_ms=authority.now_ms())
    assert snap.entries == ()
    assert run("directory", "enroll", "-c", str(cfg), str(write_info(tmp_path, "OR")))[0] == 0
    resp = await client.get("/federation/v1/directory")
    snap2 = verify_snapshot(await resp.read(), authority.public_key, now_ms=authority.now_ms(),
                            previous_serial=snap.serial)
    assert [e.node_id for e in snap2.entries] == ["OR"]


def test_serve_prints_listening_and_serves(authority_dir: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with subprocess.Popen(
        [sys.executable, "-m", "node", "directory", "serve", "-c",
         str(authority_dir / "directory.toml"), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    ) as proc:
        try:
            assert proc.stdout is not None and proc.stderr is not None
            line = proc.stdout.readline()
            assert line.startswith("listening on http://127.0.0.1:"), proc.stderr.read()
            url = line.split()[-1]
            with urllib.request.urlopen(url + "/healthz", timeout=5) as resp:
                assert json.loads(resp.read())["status"] == "ok"
            with urllib.request.urlopen(url + "/federation/v1/directory", timeout=5) as resp:
                assert resp.headers["Content-Type"] == "application/msgpack"
        finally:
            proc.terminate()
            proc.communicate(timeout=10)


def test_keys_show_json_enrolls(tmp_path: Path, authority_dir: Path) -> None:
    """The document `statenode keys show --json` prints is what `directory enroll` takes."""
    cfg = str(authority_dir / "directory.toml")
    key = run("directory", "show-key", "-c", cfg)[1].strip()
    code, out, _ = run("init", str(tmp_path / "nm"), "--state", "NM", "--endpoint",
                       "http://127.0.0.1:8123", "--authority-key", key)
    assert code == 0, out
    code, out, _ = run("keys", "show", "-c", str(tmp_path / "nm/node.toml"), "--json")
    (tmp_path / "nm.json").write_text(out)
    code, out, err = run("directory", "enroll", "-c", cfg, str(tmp_path / "nm.json"))
    assert code == 0 and "enrolled NM" in out, err
