"""A signed-in web UI user for tests and benches against a real node process.

Keeps the session cookie (and the pre-login CSRF cookie) in a cookie jar, follows no
redirects (a 303 is an answer to look at), and reads the CSRF token a page carries so
POSTs are not refused with 403.
"""

from __future__ import annotations

import http.cookiejar
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def add_users(config: Path, users: dict[str, str], password_file: Path) -> None:
    """`statenode users add` for each (name → role), all with one password file."""
    for name, role in users.items():
        subprocess.run([sys.executable, "-m", "node", "users", "add", "-c", str(config), name,
                        "--role", role, "--password-file", str(password_file)],
                       cwd=ROOT, check=True, capture_output=True, timeout=120)


class WebClient:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def request(self, method: str, path: str, form: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, str]:
        """(status, body) of one request; `path` is sent as given (already quoted)."""
        data = None if form is None else urllib.parse.urlencode(form).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers=headers or {})
        try:
            with self.opener.open(req, timeout=30) as resp:
                return resp.status, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")

    def token(self, path: str = "/") -> str:
        """The CSRF token of a page (every page with a form carries one)."""
        _status, body = self.request("GET", path)
        found = CSRF_RE.search(body)
        assert found, f"{path} has no CSRF token"
        return found.group(1)

    def login(self, username: str, password: str) -> WebClient:
        token = self.token("/login")
        status, body = self.request("POST", "/login", {
            "username": username, "password": password, "csrf_token": token, "next": "/"})
        assert status == 303, (status, body[:300])
        return self

    def post(self, path: str, form: dict[str, str] | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, str]:
        """A POST with this session's CSRF token added to the form."""
        return self.request("POST", path, {**(form or {}), "csrf_token": self.token()},
                            headers)
