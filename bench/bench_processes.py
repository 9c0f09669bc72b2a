"""Child processes of the benches: start one and wait for `listening on URL`, stop them.

Shared by bench/peer_bench.py and bench/fanout_bench.py (imported as a sibling module:
a bench runs as a script, so its folder is on sys.path). Children run from the repository
root with it on PYTHONPATH; their stderr goes to a log file the error message names.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_listening(argv: list[str], name: str, log: Path, *, timeout: float = 60.0,
                    cpu: int | None = None) -> tuple[subprocess.Popen[str], str]:
    """Run `python ARGV` (pinned to `cpu` if given) until it prints `listening on URL`;
    return the process and the URL. Exits the bench, naming `log`, if it never does."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with log.open("a") as err:
        proc = subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE, stderr=err,
                                text=True, env=env, cwd=ROOT)
    if cpu is not None:
        os.sched_setaffinity(proc.pid, {cpu})
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("listening on "):
            return proc, line.split("listening on ", 1)[1].strip()
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit(f"{name} did not start; see {log}")


def stop(procs: list[subprocess.Popen[str]], grace: float = 20.0) -> None:
    """SIGTERM every child still running, then wait `grace` seconds each before SIGKILL."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
