"""Issue 12 item 2, with real processes: a `kill -9` of `statenode import` leaves no
worker process behind (each worker watches its parent and leaves once it is gone)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from node.ops.node_folder import write_node

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def children_of(pid: int) -> set[int]:
    """Processes whose parent is `pid`, read from /proc."""
    out = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(entry.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_kill_9_of_an_import_leaves_no_worker(tmp_path: Path) -> None:
    config = write_node(tmp_path / "tx", state="TX", name="Texas", endpoint="http://127.0.0.1:0")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    data = tmp_path / "tx.jsonl"
    subprocess.run([sys.executable, "-m", "node", "demo-data", "--state", "TX", "--count",
                    "40000", str(data)], check=True, env=env, capture_output=True, timeout=300)
    proc = subprocess.Popen([sys.executable, "-m", "node", "import", "-c", str(config),
                             str(data)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        workers: set[int] = set()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(workers) < 2 and proc.poll() is None:
            workers = children_of(proc.pid)
            time.sleep(0.05)
        assert len(workers) >= 2, "the import never started its worker processes"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(alive(w) for w in workers):
            time.sleep(0.1)
        survivors = [w for w in workers if alive(w)]
        assert not survivors, f"workers still running after kill -9 of their parent: {survivors}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
