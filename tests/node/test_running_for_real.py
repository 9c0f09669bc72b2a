"""The files for running a node for real (issue 12 item 9; README "Running a node for real",
docs/SECURITY.md "Hardening (issue 12)"): contrib/statenode.service and
contrib/statenode-directory.service pass `systemd-analyze verify` and keep their
sandbox, and contrib/Containerfile runs the node unprivileged with its folder as a
volume and nothing secret inside.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from node.cli import cli
from node.ops.demo import free_port

ROOT = Path(__file__).resolve().parents[2]
CONTRIB = ROOT / "contrib"
UNITS = {  # unit file -> (account, its folder, the statenode arguments it runs)
    "statenode.service": ("statenode", "/srv/statenode",
                          ["serve", "-c", "/srv/statenode/node.toml"]),
    "statenode-directory.service": ("statenode-directory", "/srv/statenode-directory",
                                    ["directory", "serve", "-c",
                                     "/srv/statenode-directory/directory.toml"]),
}


def statenode() -> str:
    beside = Path(sys.prefix) / "bin" / "statenode"
    found = str(beside) if beside.exists() else shutil.which("statenode")
    assert found, "the statenode command is not installed (pip install -e .)"
    return found


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.fail("systemd-analyze is missing: these tests need it (apt-get install -y "
                    "systemd; .ci/run installs it)")
    return found


def directives(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) of every setting, in order (a key may repeat)."""
    out, section = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.append((section, key.strip(), value.strip()))
    return out


def settings(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for section, key, value in directives(path):
        out.setdefault(f"{section}.{key}", []).append(value)
    return out


def installed_copy(unit: str, folder: Path) -> Path:
    """The unit with ExecStart pointing at this installation's statenode (verify refuses
    a command that does not exist)."""
    text = (CONTRIB / unit).read_text(encoding="utf-8")
    rewritten, count = re.subn(r"^ExecStart=\S+/statenode ", f"ExecStart={statenode()} ", text,
                               flags=re.MULTILINE)
    assert count == 1, f"{unit}: one ExecStart running .../statenode expected"
    target = folder / unit
    target.write_text(rewritten, encoding="utf-8")
    return target


@pytest.mark.parametrize("unit", sorted(UNITS))
def test_the_units_pass_systemd_analyze_verify(unit: str, tmp_path: Path) -> None:
    path = installed_copy(unit, tmp_path)
    done = subprocess.run([systemd_analyze(), "verify", str(path)], capture_output=True,
                          text=True, timeout=60, check=False)
    # verify exits 0 even for unknown keys and bad values; those lines name the unit file
    about_unit = [line for line in (done.stdout + done.stderr).splitlines() if unit in line]
    assert done.returncode == 0 and about_unit == [], done.stdout + done.stderr


@pytest.mark.parametrize("unit", sorted(UNITS))
def test_the_units_keep_their_sandbox(unit: str, tmp_path: Path) -> None:
    account, folder, args = UNITS[unit]
    s = settings(CONTRIB / unit)
    expected = {
        "Service.User": [account], "Service.Group": [account],
        "Service.ProtectSystem": ["strict"], "Service.ReadWritePaths": [folder],
        "Service.NoNewPrivileges": ["yes"], "Service.PrivateTmp": ["yes"],
        "Service.ProtectHome": ["yes"], "Service.PrivateDevices": ["yes"],
        "Service.CapabilityBoundingSet": [""], "Service.AmbientCapabilities": [""],
        "Service.Restart": ["on-failure"], "Service.UMask": ["0077"],
        "Service.RestrictSUIDSGID": ["yes"], "Install.WantedBy": ["multi-user.target"],
    }
    for key, value in expected.items():
        assert s.get(key) == value, f"{unit}: {key} is {s.get(key)}, expected {value}"
    assert not any(k.startswith("Service.ReadWritePaths") and v != [folder]
                   for k, v in s.items())
    [command] = s["Service.ExecStart"]
    binary, *given = shlex.split(command)
    assert binary.endswith("/bin/statenode") and given == args
    # the command it runs is the CLI's real one, with -c
    res = CliRunner().invoke(cli, [*args[:-2], "--help"], obj={})
    assert res.exit_code == 0 and "-c, --config" in res.output, res.output
    # and systemd's own reading of the sandbox: exposure "OK" (below 2 of 10)
    path = installed_copy(unit, tmp_path)
    done = subprocess.run([systemd_analyze(), "security", "--offline=true", str(path)],
                          capture_output=True, text=True, timeout=60, check=False)
    level = re.search(r"Overall exposure level for \S+: ([0-9.]+)", done.stdout + done.stderr)
    assert level is not None, done.stdout + done.stderr
    assert float(level.group(1)) < 2.0, done.stdout


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Containerfile, continuation lines joined."""
    out, pending = [], ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def test_the_containerfile_runs_the_node_unprivileged_with_its_folder_as_a_volume() -> None:
    steps = instructions(CONTRIB / "Containerfile")
    words = [w for w, _ in steps]
    assert words[0] == "FROM" and "ADD" not in words
    users = [arg for w, arg in steps if w == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    last_user = max(i for i, (w, _) in enumerate(steps) if w == "USER")
    assert all(i < last_user for i, (w, _) in enumerate(steps) if w == "RUN"), \
        "every RUN before the last USER: nothing runs as root at run time"
    volumes = [json.loads(arg) if arg.startswith("[") else arg.split()
               for w, arg in steps if w == "VOLUME"]
    assert ["/srv/statenode"] in volumes
    assert [arg for w, arg in steps if w == "EXPOSE"] == ["8443"]
    entry = json.loads(next(arg for w, arg in steps if w == "ENTRYPOINT"))
    cmd = json.loads(next(arg for w, arg in steps if w == "CMD"))
    assert entry + cmd[:3] == ["statenode", "serve", "-c", "/srv/statenode/node.toml"]
    assert cmd[cmd.index("--port") + 1] == "8443" and cmd[cmd.index("--host") + 1] == "0.0.0.0"
    # the health check asks the node's /healthz on the exposed port
    [health] = [arg for w, arg in steps if w == "HEALTHCHECK"]
    script = health.split("CMD", 1)[1]
    assert "/usr/local/lib/statenode/healthcheck.py" in script
    assert "COPY contrib/healthcheck.py /usr/local/lib/statenode/healthcheck.py" in [
        f"{w} {arg}" for w, arg in steps]
    assert "/healthz" in (CONTRIB / "healthcheck.py").read_text(encoding="utf-8")
    env = " ".join(arg for w, arg in steps if w == "ENV")
    assert "STATENODE_PORT=8443" in env


def test_the_containerfile_bakes_in_no_secrets_and_copies_only_the_package() -> None:
    steps = instructions(CONTRIB / "Containerfile")
    secretish = re.compile(r"pass|secret|token|key|credential", re.IGNORECASE)
    for word, arg in steps:
        if word in ("ENV", "ARG", "LABEL"):
            assert not secretish.search(arg), f"{word} {arg}"
    sources = [src for w, arg in steps if w == "COPY" for src in arg.split()[:-1]]
    assert sources and not [s for s in sources if s.startswith("--")]
    allowed = {"pyproject.toml", "README.md", "config", "crypto", "protocol", "node",
               "contrib/healthcheck.py"}
    assert set(sources) <= allowed, set(sources) - allowed
    # every package pyproject installs is copied (so the install in the image works)
    from tomllib import loads

    packages = (loads((ROOT / "pyproject.toml").read_text())
                ["tool"]["setuptools"]["packages"]["find"]["include"])
    assert {p.split(".")[0] for p in packages} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), source
    text = (CONTRIB / "Containerfile").read_text(encoding="utf-8")
    assert not re.search(r"\.pem|signing|control\.json|passphrase|node\.toml\s+/", text)


def test_the_health_check_script_asks_a_real_node(tmp_path: Path) -> None:
    folder = tmp_path / "tx"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    subprocess.run([statenode(), "init", str(folder), "--state", "TX"], env=env, check=True,
                   capture_output=True, timeout=120)
    port = free_port()
    check = [sys.executable, str(CONTRIB / "healthcheck.py")]
    probe_env = {**env, "STATENODE_PORT": str(port)}
    assert subprocess.run(check, env=probe_env, timeout=60).returncode == 1  # nothing there
    proc = subprocess.Popen([statenode(), "serve", "-c", str(folder / "node.toml"), "--host",
                             "127.0.0.1", "--port", str(port)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on"), line
        assert subprocess.run(check, env=probe_env, timeout=60).returncode == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0
