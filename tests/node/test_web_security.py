"""Security tests of the web UI, in process: CSRF, roles, escaping, sessions, throttling.

The node is made by the real `statenode init` code path (`write_node`), the app by
`setup_web(create_app(cfg))`; the UI's clock is replaced by a fake one so expiry and
lockout are tested without sleeping.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from config import load_config
from crypto.passwords import TEST_COST, hash_password
from node.app import create_app
from node.appkeys import WEB
from node.importing.synthetic import generate_students
from node.ops.node_folder import write_node
from node.store import accounts
from node.store.database import Store
from node.web.setup import setup_web
from node.web.site import CSP, CSRF_EXEMPT_PREFIXES
from protocol.records import validate_student

PW = "correct horse battery staple"
USERS = {"sam": "staff", "dana": "data_admin", "audrey": "auditor", "otto": "operator"}
XSS = "<img src=x onerror=alert(1)>"
# page -> roles allowed (everyone signed in may see "/")
PAGES = {
    "/": set(accounts.ROLES),
    "/students": {"staff", "data_admin"},
    "/students/{sid}?purpose=placement": {"staff", "data_admin"},
    "/data-quality": {"data_admin"},
    "/users": {"operator"},
}


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


@dataclass
class Form:
    method: str
    action: str
    fields: dict[str, str] = field(default_factory=dict)


class Forms(HTMLParser):
    """Every <form> of a page with its named inputs (selects give their first option)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("method", "get").lower(), a.get("action", "")))
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1].fields.setdefault(a["name"], a.get("value", "x"))
        elif tag == "select" and self.forms:
            self._select = a.get("name")
        elif tag == "option" and self._select and self.forms:
            self.forms[-1].fields.setdefault(self._select, a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def forms_of(html: str) -> list[Form]:
    parser = Forms()
    parser.feed(html)
    return parser.forms


def token_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF token"
    return m.group(1)


@dataclass
class Web:
    server: TestServer
    clock: Clock
    store_path: Path
    sid: str
    new_client: Callable[[], Awaitable[TestClient[Any, Any]]]

    async def login(self, username: str, password: str = PW) -> TestClient[Any, Any]:
        client = await self.new_client()
        resp = await self.try_login(client, username, password)
        assert resp.status == 303, await resp.text()
        return client

    @staticmethod
    async def try_login(client: TestClient[Any, Any], username: str, password: str) -> Any:
        page = await (await client.get("/login")).text()
        return await client.post("/login", allow_redirects=False, data={
            "username": username, "password": password, "csrf_token": token_of(page),
            "next": "/"})


@pytest.fixture
async def web(tmp_path: Path, aiohttp_server: Any, aiohttp_client: Any) -> Web:
    config_path = write_node(tmp_path / "tx", state="TX", name="Texas",
                             endpoint="http://127.0.0.1:0")
    with config_path.open("a") as f:
        f.write('\n[web]\nsession_idle_timeout = "2s"\nlogin_max_failures = 3\n'
                'login_lockout = "5m"\n')
    cfg = load_config(config_path)
    students = generate_students("TX", 6, seed=7)
    students[0].update(first_name=XSS, last_name_1="O'Brien", middle_name="")
    with Store(cfg.storage.database) as store:
        store.call(accounts.apply_migrations)
        phc = hash_password(PW, TEST_COST)
        for name, role in USERS.items():
            store.call(accounts.add_user, name, role, phc)
        store.upsert_students([validate_student(s) for s in students])
    app = create_app(cfg)
    setup_web(app)
    clock = Clock()
    app[WEB].clock = clock
    server = await aiohttp_server(app)
    return Web(server, clock, cfg.storage.database, students[0]["state_student_id"],
               lambda: aiohttp_client(server))


async def test_security_headers(web: Web) -> None:
    client = await web.new_client()
    resp = await client.get("/login")
    assert resp.headers["Content-Security-Policy"] == CSP
    assert "script-src 'self';" in CSP and "unsafe-inline" not in CSP
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Cache-Control"] == "no-store"
    static = await client.get("/static/app.css")
    assert static.status == 200 and "no-store" not in static.headers.get("Cache-Control", "")


async def test_cookies_httponly_samesite(web: Web) -> None:
    client = await web.new_client()
    page = await client.get("/login")
    assert re.search(r"statenode_csrf=[^;]+;.*HttpOnly.*SameSite=Strict",
                     page.headers["Set-Cookie"], re.I)
    resp = await web.try_login(client, "sam", PW)
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("statenode_session=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie, "plain HTTP here; Secure is set under TLS"


async def test_every_post_form_refused_without_csrf(web: Web) -> None:
    posts: dict[str, Form] = {}
    anon = await web.new_client()
    for form in forms_of(await (await anon.get("/login")).text()):
        posts.setdefault(form.action, form)
    for username, role in USERS.items():
        client = await web.login(username)
        for page in PAGES:
            if role in PAGES[page]:
                html = await (await client.get(page.format(sid=web.sid))).text()
                for form in forms_of(html):
                    if form.method == "post":
                        assert "csrf_token" in form.fields, f"{page}: form without token"
                        posts.setdefault(form.action, form)
    app_posts = {r.resource.canonical for r in web.server.app.router.routes()
                 if r.method == "POST" and r.resource is not None
                 and not r.resource.canonical.startswith(CSRF_EXEMPT_PREFIXES)}
    assert set(posts) <= app_posts
    # routes whose forms only appear with data (a worklist item, a link) or that are called
    # by script: post to them with their path parameters filled in, without a token
    import re

    for route in sorted(app_posts - set(posts)):
        url = re.sub(r"\{action\}", "confirm", re.sub(r"\{[a-z_]+\}", "1", route))
        posts[url] = Form(action=url, method="post", fields={"csrf_token": ""})
    assert len(posts) >= len(app_posts), "every POST route is checked"
    operator = await web.login("otto")
    for action, form in posts.items():
        for client in (anon, operator):
            without = {k: v for k, v in form.fields.items() if k != "csrf_token"}
            resp = await client.post(action, data=without, allow_redirects=False)
            assert resp.status == 403, (action, resp.status)
            assert "not sent by this site" in await resp.text()
            wrong = {**form.fields, "csrf_token": "0" * 64}
            resp = await client.post(action, data=wrong, allow_redirects=False)
            assert resp.status == 403, (action, resp.status)
    # another session's token is refused too
    sam = await web.login("sam")
    sam_token = token_of(await (await sam.get("/")).text())
    resp = await operator.post("/users", data={"csrf_token": sam_token, "username": "eve",
                                               "role": "operator", "password": PW,
                                               "password2": PW})
    assert resp.status == 403
    with Store(web.store_path) as store:
        assert store.call(accounts.find_user, "eve") is None


async def test_pages_of_other_roles_are_refused(web: Web) -> None:
    for username, role in USERS.items():
        client = await web.login(username)
        for page, allowed in PAGES.items():
            resp = await client.get(page.format(sid=web.sid), allow_redirects=False)
            expected = 200 if role in allowed else 403
            assert resp.status == expected, (username, page, resp.status)
    staff = await web.login("sam")
    page = await (await staff.get("/")).text()
    resp = await staff.post("/users", data={"csrf_token": token_of(page), "username": "eve",
                                            "role": "operator", "password": PW,
                                            "password2": PW})
    assert resp.status == 403


async def test_anonymous_is_sent_to_login(web: Web) -> None:
    client = await web.new_client()
    for page in PAGES:
        resp = await client.get(page.format(sid=web.sid), allow_redirects=False)
        assert resp.status == 303
        assert resp.headers["Location"].startswith("/login?next=")


async def test_names_are_escaped(web: Web) -> None:
    client = await web.login("sam")
    resp = await client.get(f"/students/{web.sid}", params={"purpose": "placement"})
    html = await resp.text()
    assert resp.status == 200
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img" not in html
    assert "O&#39;Brien" in html
    assert resp.headers["Cache-Control"] == "no-store"
    search = await (await client.get("/students", params={"q": "Brien",
                                                          "purpose": "enrollment"})).text()
    assert "&lt;img src=x onerror=alert(1)&gt;" in search and "<img" not in search


async def test_record_views_are_recorded_with_purpose(web: Web) -> None:
    client = await web.login("dana")
    ask = await client.get(f"/students/{web.sid}")
    assert "Purpose of use" in await ask.text()
    assert "O&#39;Brien" not in await ask.text(), "no data before a purpose is given"
    bad = await client.get(f"/students/{web.sid}", params={"purpose": "curiosity"})
    assert bad.status == 400
    await client.get(f"/students/{web.sid}", params={"purpose": "credit_accrual"})
    missing = await client.get("/students/TX-NOPE", params={"purpose": "placement"})
    assert missing.status == 404
    with Store(web.store_path) as store:
        views = store.call(accounts.views_of, web.sid)
    assert [(v["username"], v["role"], v["purpose"], v["what"]) for v in views] == [
        ("dana", "data_admin", "credit_accrual", "record")]


async def test_session_idle_expiry(web: Web) -> None:
    client = await web.login("sam")
    assert (await client.get("/", allow_redirects=False)).status == 200
    web.clock.t += 1.5
    assert (await client.get("/", allow_redirects=False)).status == 200, "activity slides"
    web.clock.t += 1.5
    assert (await client.get("/", allow_redirects=False)).status == 200
    token = token_of(await (await client.get("/")).text())
    web.clock.t += 3
    resp = await client.get("/students", allow_redirects=False)
    assert resp.status == 303 and "expired=1" in resp.headers["Location"]
    assert 'statenode_session=""' in resp.headers["Set-Cookie"]
    login = await client.get(resp.headers["Location"])
    assert "session ended" in await login.text()
    web.clock.t += 0.1
    resp = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert resp.status == 403


async def test_logout_ends_session(web: Web) -> None:
    client = await web.login("sam")
    token = token_of(await (await client.get("/")).text())
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))["statenode_session"]
    resp = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/login?bye=1"
    replay = await web.new_client()
    replay.session.cookie_jar.update_cookies({"statenode_session": cookie.value})
    assert (await replay.get("/", allow_redirects=False)).status == 303


async def test_throttling_after_bad_passwords(web: Web) -> None:
    client = await web.new_client()
    for _ in range(2):
        resp = await web.try_login(client, "sam", "wrong password!!")
        assert resp.status == 401
        assert "Wrong username or password" in await resp.text()
    resp = await web.try_login(client, "sam", "wrong password!!")
    assert resp.status == 429
    assert ("Too many failed sign-ins for this account from your address. Try again in "
            "5 minutes.") in await resp.text()
    assert resp.headers["Retry-After"] == "300"
    web.clock.t += 61
    resp = await web.try_login(client, "sam", PW)
    assert resp.status == 429, "the right password is refused while throttled"
    assert "Try again in 4 minutes." in await resp.text()
    other = await web.new_client()
    assert (await web.try_login(other, "dana", PW)).status == 303, "other users unaffected"
    web.clock.t += 240
    assert (await web.try_login(client, "sam", PW)).status == 303


async def test_forty_failures_from_one_address_lock_out_only_that_account(web: Web) -> None:
    """Issue 12 item 7 (in process; tests/integration/test_web_login.py does it over HTTP
    against a node process): one address, 40 failures for sam, then dana signs in."""
    client = await web.new_client()
    statuses = [(await web.try_login(client, "sam", f"wrong password {i:02d}")).status
                for i in range(40)]
    assert statuses[:2] == [401, 401] and set(statuses[2:]) == {429}
    # more failures from the address, for other names (before issue 12: 12 locked it)
    others = await asyncio.gather(*[
        web.try_login(await web.new_client(), f"nobody{i}", "wrong password!!")
        for i in range(10)])
    assert (await web.try_login(await web.new_client(), "dana", PW)).status == 303
    assert [r.status for r in others] == [401] * 10, "an address is slowed down, never refused"
    refused = await web.try_login(client, "sam", PW)
    assert refused.status == 429
    assert "for this account from your address. Try again in 5 minutes." in await refused.text()


async def test_unknown_and_disabled_users_get_the_same_answer(web: Web) -> None:
    client = await web.new_client()
    unknown = await web.try_login(client, "nobody", PW)
    with Store(web.store_path) as store:
        store.call(accounts.set_status, "audrey", "disabled")
    disabled = await web.try_login(client, "audrey", PW)
    assert unknown.status == disabled.status == 401
    assert "Wrong username or password" in await disabled.text()


async def test_login_next_stays_on_this_site(web: Web) -> None:
    client = await web.new_client()
    page = await (await client.get("/login")).text()
    for target, expected in (("//evil.example/x", "/"), ("https://evil.example", "/"),
                             ("/\\evil.example", "/"), ("/data-quality", "/data-quality")):
        resp = await client.post("/login", allow_redirects=False, data={
            "username": "dana", "password": PW, "csrf_token": token_of(page), "next": target})
        assert resp.headers["Location"] == expected
        await client.post("/logout", data={"csrf_token": token_of(
            await (await client.get("/")).text())})
        page = await (await client.get("/login")).text()


async def test_operator_manages_users(web: Web) -> None:
    client = await web.login("otto")
    token = token_of(await (await client.get("/users")).text())
    short = await client.post("/users", data={"csrf_token": token, "username": "nina",
                                              "role": "staff", "password": "short",
                                              "password2": "short"})
    assert short.status == 400 and "at least 12" in await short.text()
    common = await client.post("/users", data={"csrf_token": token, "username": "nina",
                                               "role": "staff", "password": "password1234",
                                               "password2": "password1234"})
    assert common.status == 400
    assert ("This password is on a list of commonly used or compromised passwords; choose "
            "another.") in await common.text()
    ok = await client.post("/users", data={"csrf_token": token, "username": "nina",
                                           "role": "staff", "password": PW, "password2": PW})
    assert ok.status == 200 and "User nina added" in await ok.text()
    dup = await client.post("/users", data={"csrf_token": token, "username": "nina",
                                            "role": "staff", "password": PW, "password2": PW})
    assert dup.status == 409
    nina = await web.login("nina")
    off = await client.post("/users/status", data={"csrf_token": token, "username": "nina",
                                                   "action": "disable"})
    assert off.status == 200 and "nina is now disabled" in await off.text()
    assert (await nina.get("/", allow_redirects=False)).status == 303, "sessions ended"
    perm = await client.post("/users/status", data={"csrf_token": token, "username": "nina",
                                                    "action": "deactivate"})
    assert perm.status == 400, "deactivation needs confirmation"
    self_off = await client.post("/users/status", data={"csrf_token": token,
                                                        "username": "otto",
                                                        "action": "disable"})
    assert self_off.status == 400


async def test_data_quality_page(web: Web) -> None:
    def add_run(db: Any) -> None:
        db.execute("INSERT INTO import_runs (id, started_at, finished_at, files, students, "
                   "inserted, updated, unchanged, rejected) VALUES (7, '2026-01-05T10:00:00', "
                   "'2026-01-05T10:00:01', '[\"/drop/<b>batch.csv\"]', 3, 2, 0, 0, 1)")
        db.execute("INSERT INTO import_rejects (run_id, file, line, field, reason) VALUES "
                   "(7, 'students.csv', 12, 'birth_date', 'not a date: <script>')")

    with Store(web.store_path) as store:
        store.call(add_run)
    client = await web.login("dana")
    html = await (await client.get("/data-quality")).text()
    assert "Completeness by age band" in html and "Arrival date (QAD)" in html
    assert "All children" in html
    assert "&lt;b&gt;batch.csv" in html and "/drop/" not in html
    assert "Rejected rows of run 7" in html
    assert "not a date: &lt;script&gt;" in html and "<script>" not in html


@pytest.mark.parametrize("raw", ["99999999999999999999999", "%C2%B2", "-1", "0x10", "1.0"])
async def test_ids_in_urls_are_parsed_strictly(web: Web, raw: str) -> None:
    """Issue 12 item 4: a row id that is not 1-18 ASCII digits is a page that does not
    exist (404, in the site's layout), never a 500."""
    client = await web.login("dana")
    page = await (await client.get("/worklist")).text()
    token = token_of(page)
    get = await client.get(f"/worklist/{raw}", allow_redirects=False)
    assert get.status == 404, await get.text()
    for path in (f"/worklist/{raw}/confirm", f"/links/{raw}/validate"):
        resp = await client.post(path, data={"csrf_token": token}, allow_redirects=False)
        assert resp.status == 404, (path, resp.status, await resp.text())
