"""Issue 12 item 2: the worker processes of `statenode import` die with it.

A real `statenode import` of a JSON Lines file large enough for worker processes
(node.import_workers.PARALLEL_MIN lines) is killed with SIGKILL once its workers run;
the process table (/proc) must then hold none of them within a few seconds. Before
the fix they stayed, re-parented to PID 1, each with node.db open.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from node.import_workers import PARALLEL_MIN
from node.synthetic import generate_students
from tests.integration.harness import ROOT

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc"),
]


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of a process from /proc, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) "
    return fields[0], int(fields[1]), int(fields[19])


def _children(parent: int) -> dict[int, int]:
    """pid -> start time of the living children of `parent`."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None and st[1] == parent and st[0] != "Z":
                out[int(entry.name)] = st[2]
    return out


def _alive(pid: int, started: int) -> bool:
    st = _stat(pid)
    return st is not None and st[2] == started and st[0] not in ("Z", "X")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "node", *args], capture_output=True,
                          text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                          check=True, timeout=120)


def test_kill9_of_import_leaves_no_worker_running(tmp_path: Path) -> None:
    node = tmp_path / "tx"
    _cli("init", str(node), "--state", "TX", "--endpoint", "http://127.0.0.1:9")
    data = tmp_path / "big.jsonl"
    records = generate_students("TX", 2_000, 7)
    with data.open("w", encoding="utf-8") as fh:  # 8 x 2,000 students, ids made unique
        for copy in range(8):
            for r in records:
                fh.write(json.dumps(dict(r, state_student_id=f"{r['state_student_id']}"
                                                             f"{copy}")) + "\n")
    assert 8 * len(records) >= 3 * PARALLEL_MIN
    proc = subprocess.Popen([sys.executable, "-m", "node", "import", "-c",
                             str(node / "node.toml"), "--no-progress", str(data)],
                            cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    workers: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None and not workers:
            workers = _children(proc.pid)
            time.sleep(0.01)
        assert workers, "the import started no worker processes (or finished first)"
        time.sleep(0.2)  # let each worker get into its first piece of work
        workers = _children(proc.pid) or workers
        proc.send_signal(signal.SIGKILL)  # the parent only, not its process group
        proc.wait(10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(p, t) for p, t in workers.items()):
            time.sleep(0.05)
        survivors = [p for p, t in workers.items() if _alive(p, t)]
        assert not survivors, (f"worker(s) {survivors} of the killed import still run "
                               f"(parent now {[_stat(p) for p in survivors]})")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of this test's import
        proc.wait(10)


FALLBACK_SCRIPT = """
import sys, time
import node.import_workers as w
w._parent_death_signal = lambda sig: False  # as where there is no prctl
pool = w.start_pool(2, now=True)
print(" ".join(str(p) for p in pool._processes), flush=True)
time.sleep(120)
"""


def test_without_the_parent_death_signal_workers_still_notice(tmp_path: Path) -> None:
    """The portable fallback alone (os.getppid() polled by each worker) ends them too."""
    proc = subprocess.Popen([sys.executable, "-c", FALLBACK_SCRIPT], cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), text=True,
                            stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stdout is not None
        pids = [int(p) for p in proc.stdout.readline().split()]
        workers = {p: st[2] for p in pids if (st := _stat(p)) is not None}
        assert len(workers) == 2
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(p, t) for p, t in workers.items()):
            time.sleep(0.05)
        assert not [p for p, t in workers.items() if _alive(p, t)]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
