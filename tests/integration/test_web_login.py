"""Sign-in throttling of a real node process over HTTP (issue 12 item 7).

A school behind one NAT address: many failed sign-ins from that address must never keep
another account's right password out. The node is made with the real CLI (`statenode
init`, `users add --password-file`) and runs as `python -m node serve` with the default
`[web]` settings (5 failures, 5 minutes); every request goes over loopback HTTP, with the
login form's CSRF cookie and field like a browser. A second loopback address (127.0.0.2)
plays "somewhere else".
"""

from __future__ import annotations

import http.client
import re
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.integration.harness import ROOT, Proc

pytestmark = pytest.mark.integration

PW = "correct horse battery staple"
ADDRESS = "127.0.0.1"  # the school's NAT address
ELSEWHERE = "127.0.0.2"


@dataclass
class Browser:
    """One browser at one source address: GET /login for the CSRF cookie, POST the form."""

    url: str
    source: str = ADDRESS
    cookies: dict[str, str] = field(default_factory=dict)

    def _request(self, method: str, path: str, body: str | None = None
                 ) -> tuple[int, str, http.client.HTTPMessage]:
        parts = urllib.parse.urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname or ADDRESS, parts.port, timeout=60,
                                          source_address=(self.source, 0))
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            text = resp.read().decode()
        finally:
            conn.close()
        for header in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return resp.status, text, resp.headers

    def sign_in(self, username: str, password: str) -> tuple[int, str, http.client.HTTPMessage]:
        status, page, _ = self._request("GET", "/login")
        assert status == 200
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token, "the login page has no CSRF token"
        form = urllib.parse.urlencode({"username": username, "password": password,
                                       "csrf_token": token.group(1), "next": "/"})
        return self._request("POST", "/login", form)


def _cli(*args: str, cwd: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "node", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, f"statenode {' '.join(args)} failed: {done.stderr}"


@pytest.fixture(scope="module")
def node_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("login-node")
    folder = root / "tx"
    _cli("init", str(folder), "--state", "TX", "--name", "Texas", cwd=ROOT)
    config = folder / "node.toml"
    password_file = root / "password.txt"
    password_file.write_text(PW + "\n")
    password_file.chmod(0o600)
    for username in ("amy", "ben"):
        _cli("users", "add", "-c", str(config), username, "--role", "staff",
             "--password-file", str(password_file), cwd=ROOT)
    proc = Proc("TX", ["serve", "-c", str(config), "--port", "0"], root / "serve.log")
    url = proc.start()
    try:
        yield url
    finally:
        proc.stop()


def test_failures_from_one_address_never_lock_out_another_account(node_url: str) -> None:
    school = Browser(node_url)
    # 40 wrong passwords for amy from the school's address: the 5th locks amy there
    amy = [school.sign_in("amy", f"not amy's password {i:02d}")[0] for i in range(40)]
    assert amy[:4] == [401] * 4 and set(amy[4:]) == {429}, amy
    # and 20 more failed sign-ins from the same address (colleagues' typos, a spray):
    # before issue 12 the address itself was locked after 20 failures, for every account
    with ThreadPoolExecutor(max_workers=8) as pool:
        others = list(pool.map(
            lambda i: Browser(node_url).sign_in(f"staff{i:02d}", "wrong password!!")[0],
            range(20)))

    # ben's right password from the same address gets in
    status, page, headers = Browser(node_url).sign_in("ben", PW)
    assert status == 303, f"ben refused with {status}: {page[-400:]}"
    assert headers["Location"] == "/"
    assert others == [401] * 20, "an address is slowed down, never refused"

    # amy's right password from that address is refused, and she is told how long to wait
    status, page, headers = Browser(node_url).sign_in("amy", PW)
    assert status == 429
    wait = re.search(r"Too many failed sign-ins for this account from your address\. "
                     r"Try again in ([1-5]) minutes?\.", page)
    assert wait, page
    assert 0 < int(headers["Retry-After"]) <= 300
    assert int(wait.group(1)) == -(-int(headers["Retry-After"]) // 60)

    # from another address amy's right password works: the lock is per (account, address)
    status, page, _ = Browser(node_url, source=ELSEWHERE).sign_in("amy", PW)
    assert status == 303, page
