"""Fixtures for browser tests: Debian's Chromium driven by Playwright, a real node process.

`browser` launches /usr/bin/chromium through Playwright's `executable_path` (Playwright's
own browser download is not used). `node` makes a node with the real CLI (`statenode
init`, `users add --password-file`, `import`), runs `python -m node serve --port 0`,
reads the `listening on URL` line, polls /healthz and stops the process at the end.
Screenshots go to test-artifacts/screenshots/<test>-<page>.png (kept by CI).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PASSWORD = "correct horse battery staple"
USERS = {"sam": "staff", "dana": "data_admin", "audrey": "auditor", "otto": "operator"}
XSS_NAME = "<img src=x onerror=alert(1)>"
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class RunningNode:
    url: str
    config: Path
    xss_student: str
    secondary_student: str


def _cli(*args: str, cwd: Path) -> str:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    done = subprocess.run([sys.executable, "-m", "node", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"statenode {' '.join(args)} failed: {done.stderr}"
    return done.stdout


def _students(path: Path) -> tuple[str, str]:
    """Write synthetic students; return the ids of the hostile-named one and a secondary one."""
    from node.importing.synthetic import generate_students

    students = generate_students("TX", 12, seed=11)
    students[0].update(first_name=XSS_NAME, middle_name="", last_name_1="O'Brien")
    secondary = next(s for s in students
                     if any(e.get("courses") for e in s["enrollments"]) and s["assessments"])
    path.write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in students))
    return str(students[0]["state_student_id"]), str(secondary["state_student_id"])


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    root = tmp_path_factory.mktemp("browser-node")
    folder = root / "tx"
    _cli("init", str(folder), "--state", "TX", "--name", "Texas", cwd=root)
    config = folder / "node.toml"
    password_file = root / "password.txt"
    password_file.write_text(PASSWORD + "\n")
    password_file.chmod(0o600)
    for username, role in USERS.items():
        _cli("users", "add", "-c", str(config), username, "--role", role,
             "--password-file", str(password_file), cwd=root)
    data = root / "students.jsonl"
    xss_student, secondary_student = _students(data)
    _cli("import", "-c", str(config), str(data), cwd=root)

    log = (root / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "node", "serve", "-c", str(config),
                             "--port", "0"], cwd=root, stdout=subprocess.PIPE, stderr=log,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        url = _wait_listening(proc, root / "serve.log")
        _wait_healthy(url)
        yield RunningNode(url=url, config=config, xss_student=xss_student,
                          secondary_student=secondary_student)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def _wait_listening(proc: subprocess.Popen[str], log: Path) -> str:
    found: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:  # keeps draining the pipe after the line is found
            if not found and line.startswith("listening on "):
                found.append(line.split("listening on ", 1)[1].strip())

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    while not found:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"node did not start: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    return found[0]


def _wait_healthy(url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url}/healthz never answered 200")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():  # the README's test command names it as a requirement
        pytest.fail("/usr/bin/chromium is missing: the browser tests need Debian's chromium "
                    "(apt-get install chromium; bash .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                          headless=True)
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


@contextlib.contextmanager
def browser_page(browser: Any, timeout_ms: int, **options: Any) -> Iterator[Any]:
    """A page in a fresh browser context (own cookies) of 1280×900, closed afterwards."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def page(browser: Any, node: RunningNode) -> Iterator[Any]:
    with browser_page(browser, 10_000, base_url=node.url) as page:
        yield page


@pytest.fixture
def shoot(request: pytest.FixtureRequest) -> Any:
    """`shoot(page, "name")` saves test-artifacts/screenshots/<test>-<name>.png."""
    folder = request.config.rootpath / "test-artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    test = re.sub(r"[^A-Za-z0-9_.]+", "-", request.node.name.removeprefix("test_")).strip("-")

    def save(page: Any, name: str) -> Path:
        path = folder / f"{test}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
