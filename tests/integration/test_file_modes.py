"""Issue 12 item 1: every file and folder a node writes is owner-only, whatever the umask.

Real `statenode` processes started with umask 0022 (the usual default, under which
Python and SQLite create files 0644 and folders 0755): `init`, `import` with a rejected
row, `serve`, `doctor`, `backup`, `audit export` and the whole `demo`. Afterwards every
file under the folders they wrote is 0600 and every folder 0700. A node whose files were
loosened afterwards is reported by `statenode doctor` and fixed (with a warning naming
each path) when it starts, and it refuses to start when it cannot fix them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.importing.synthetic import generate_students
from node.ops.demo import free_port
from tests.integration.harness import ROOT, not_owner_only

pytestmark = pytest.mark.integration

UMASK = 0o022
ENV = dict(os.environ, PYTHONPATH=str(ROOT))


def _cli(*args: str | Path, ok: tuple[int, ...] = (0,), **kwargs: object,
         ) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "node", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, env=ENV, umask=UMASK, timeout=120, check=False,
                          **kwargs)  # type: ignore[call-overload]
    assert proc.returncode in ok, f"statenode {args[0]}: {proc.returncode}\n{proc.stderr}"
    return proc  # type: ignore[no-any-return]


def _write_own(path: Path, text: str) -> None:
    """A file of the test itself (an input to import), written 0600 so that it is not
    what a walk finds."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def _init_with_rejects(node: Path) -> Path:
    """`statenode init` and an `import` with one rejected row; return the rejects file."""
    _cli("init", node, "--state", "TX", "--endpoint", f"http://127.0.0.1:{free_port()}")
    data = node / "students.jsonl"
    _write_own(data, "".join(json.dumps(r) + "\n" for r in generate_students("TX", 20, 5))
               + json.dumps({"state_student_id": "TXBAD", "first_name": "X"}) + "\n")
    _cli("import", "-c", node / "node.toml", "--no-progress", data, ok=(3,))
    rejects = node / "students.jsonl.rejects.jsonl"
    assert rejects.is_file()
    return rejects


@contextlib.contextmanager
def serving(node: Path, log: Path, **kwargs: object) -> Iterator[subprocess.Popen[str]]:
    with log.open("a") as err:
        proc = subprocess.Popen([sys.executable, "-m", "node", "serve", "-c",
                                 str(node / "node.toml")], stdout=subprocess.PIPE, stderr=err,
                                text=True, cwd=ROOT, env=ENV, umask=UMASK,
                                **kwargs)  # type: ignore[call-overload]
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on "), log.read_text()[-2000:]
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_init_import_serve_and_backup_write_only_owner_only_files(tmp_path: Path) -> None:
    node = tmp_path / "tx"
    _init_with_rejects(node)
    with serving(node, tmp_path / "serve.log"):
        for name in ("node.db", "node.db-wal", "node.db-shm", "exchange-log.db",
                     "exchange-log.db-wal", "exchange-log.db-shm", "control.json",
                     "keys/signing.pem", "keys/encryption/index.json",
                     "students.jsonl.rejects.jsonl"):
            assert (node / name).exists(), name  # the walk below sees each of them
        assert not_owner_only(node) == []
        doctor = _cli("doctor", "-c", node / "node.toml", ok=(0, 1)).stdout
        assert "OK    file modes" in doctor, doctor
        _cli("backup", "-c", node / "node.toml", "--include-keys", tmp_path / "out" / "backup")
        assert not_owner_only(node, tmp_path / "out") == []
    assert not_owner_only(node) == []


def test_the_demo_writes_only_owner_only_files(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    proc = subprocess.Popen([sys.executable, "-m", "node", "demo", "--dir", str(folder),
                             "--states", "TX,CA", "--students", "30"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env=ENV, umask=UMASK)
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("press Ctrl-C"):
                break
        else:
            pytest.fail(f"the demo did not start: {''.join(seen)}{proc.stderr.read()}")
        for name in ("demo.json", "TX/node.log", "CA/node.log", "directory/directory.log",
                     "TX/node.db-wal", "TX/exchange-log.db", "TX/demo-records.jsonl",
                     "TX/control.json", "directory/directory.toml"):
            assert (folder / name).exists(), name
        out = tmp_path / "out"
        _cli("audit", "export", "-c", folder / "TX" / "node.toml", out / "tx-audit")
        assert not_owner_only(folder, out) == []
    finally:
        proc.send_signal(signal.SIGTERM)  # the demo stops its services, then itself
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    assert not_owner_only(folder) == []


def test_loosened_files_are_reported_by_doctor_and_fixed_at_start(tmp_path: Path) -> None:
    node = tmp_path / "tx"
    rejects = _init_with_rejects(node)
    log = node / "node.log"  # as an older `statenode demo` left it
    log.write_text("")
    loosened = [node / "node.toml", node / "node.db", rejects, log,
                node / "keys" / "encryption" / "index.json"]
    for path in loosened:
        path.chmod(0o644)
    node.chmod(0o755)

    doctor = _cli("doctor", "-c", node / "node.toml", ok=(1,)).stdout
    for path in loosened:
        assert f"FAIL  file modes {path} is accessible by other users (mode 0644)" in doctor
        assert f"fix: chmod 600 {path} (the node also does it when it starts)" in doctor
    assert f"WARN  file modes folder {node} is accessible by other users (mode 0755)" in doctor

    with serving(node, tmp_path / "serve.log"):
        assert not_owner_only(node) == []
    warnings = (tmp_path / "serve.log").read_text()
    for path in [node, *loosened]:
        assert f"{path} was accessible by other users" in warnings
    assert f"{node / 'node.db'} was accessible by other users (mode 0644); made it " \
           "owner-only (0600)" in warnings
    assert "OK    file modes" in _cli("doctor", "-c", node / "node.toml", ok=(0, 1)).stdout

    # a key file others could read is not quietly fixed: the node refuses, as before
    key = node / "keys" / "signing.pem"
    key.chmod(0o644)
    refused = _cli("serve", "-c", node / "node.toml", ok=(1,))
    assert f"{key}" in refused.stderr and f"chmod 600 {key}" in refused.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o644


def test_a_node_that_cannot_fix_its_files_refuses_to_start(tmp_path: Path) -> None:
    """When chmod fails (here: its loosened folder is on a read-only file system, which
    binds root too; for an account that does not own the folder it is "Operation not
    permitted"), the node refuses to start, naming the folder and the fix, instead of
    running exposed."""
    node = tmp_path / "tx"
    _cli("init", node, "--state", "TX", "--endpoint", f"http://127.0.0.1:{free_port()}")
    node.chmod(0o755)
    mnt = tmp_path / "ro"
    mnt.mkdir()
    assert os.geteuid() == 0, "this test bind-mounts the node folder read-only: run as root"
    if subprocess.run(["mount", "--bind", str(node), str(mnt)],
                      capture_output=True, check=False).returncode:
        pytest.fail("running as root, but `mount --bind` failed: this test needs a "
                    "read-only bind mount (is the sandbox missing CAP_SYS_ADMIN?)")
    try:
        assert subprocess.run(["mount", "-o", "remount,ro,bind", str(mnt)],
                              capture_output=True, check=False).returncode == 0
        refused = _cli("serve", "-c", mnt / "node.toml", ok=(1,))
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
    assert (f"{mnt} is accessible by other users (mode 0755) and this account cannot "
            "make it owner-only (Read-only file system)") in refused.stderr, refused.stderr
    assert f"chmod 700 {mnt}" in refused.stderr
    assert "listening on" not in refused.stdout
