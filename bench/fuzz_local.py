"""Fuzz a real node's local control API and its web forms (`fuzz_exchange.py --target`).

Imported by bench/fuzz_exchange.py as a sibling module (a bench runs as a script, so its
folder is on sys.path). Starts a directory and two node processes (TX, CA) with
tests/integration/harness.py, and then, within the same `--seconds`/`--count`/`--seed`
budget as the exchange mode:

- `--target control`: requests to every `/local/v1/…` route of TX with its bearer token
  from control.json (and now and then without it): valid bodies, bodies with fields
  dropped, retyped, lengthened or added, JSON cut or flipped, arrays, strings, deep
  nesting, non-UTF-8 bytes; odd ids and names in the URLs.
- `--target web`: users of every role signed in to TX's web UI (session cookie kept, the
  session's CSRF token sent with nearly every POST, or else they only get 403); every GET
  page and POST form with form fields (from the pages' own forms and a table of the
  routes) kept, dropped, repeated or replaced by odd text, bodies that are not forms,
  odd ids and names in the URLs.

Prints cases run, responses by status, the routes that answered 500, and tracebacks in
both nodes' logs. Exit status 1 if any request answered 500, failed to connect, or any
node logged a traceback (target: 0 and 0).
"""

from __future__ import annotations

import asyncio
import collections
import json
import random
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp

PASSWORD = "fuzz-password-not-secret-1"
USERS = {"sam": "staff", "dana": "data_admin", "dora": "data_admin", "audrey": "auditor",
         "otto": "operator"}
JOBS = ["checkpoint", "cosign", "directory_refresh", "key_rotation", "outbox",
        "replay_prune", "drop_import", "retention", "tls_peers", "term_frequencies"]
PURPOSES = ["enrollment", "placement", "credit_accrual", "mep_services", "move_notice",
            "data_quality"]
ROLES = ["staff", "data_admin", "auditor", "operator"]
#: ids and names put where a URL expects an id: valid, too big, Unicode digits, signs …
ODD_IDS = ["1", "2", "0", "7", "999999999999999999", "9223372036854775807",
           "9223372036854775808", "99999999999999999999999", "%C2%B2", "%EF%BC%91",
           "%D9%A1", "-1", "+1", "1e3", "0x10", "1.0", " 1", "%20", "%00", "%FF", "..",
           "%2E%2E", "a", "x" * 300, "1" * 40, "%F0%9F%98%80", "null", "[]"]
ODD_TEXT = ["", " ", "x", "Ana", "²", "١٢٣", "２００９-０３-０４", "2009-02-30", "9999-99-99",
            "2009-03-04", "0000-00-00", "F", "f", "Z", "TX", "CA", "tx", "ZZ", "\x00",
            "\t\n", "<script>alert(1)</script>", "' OR 1=1 --", "%s%n", "../../etc/passwd",
            "é" * 101, "x" * 5000, "\u202e", "José María", "O'Brien", "\U0001F600",
            "enrollment", "data_quality", "move_notice", "god", "validate", "True",
            "-1", "1e999", "NaN"]
ODD_JSON: list[Any] = [None, True, False, 0, -1, 1.5, 2**63, 2**64, -(2**63) - 1, 1e308,
                       float("nan"), float("inf"), "", "x" * 5000, "²", "\ud800", [], [1],
                       ["a"] * 60, {}, {"a": 1}, {"x": {"y": [None]}}, *ODD_TEXT[:20]]


@dataclass
class Tally:
    cases: int = 0
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    by_route: collections.Counter[str] = field(default_factory=collections.Counter)
    errors: list[str] = field(default_factory=list)
    five_hundreds: list[str] = field(default_factory=list)

    def add(self, route: str, status: int, what: str) -> None:
        self.statuses[status] += 1
        self.by_route[f"{route} {status}"] += 1
        if status == 500 and len(self.five_hundreds) < 50:
            self.five_hundreds.append(f"{route}: {what[:200]}")


def _pick(rng: random.Random, items: list[Any]) -> Any:
    return items[rng.randrange(len(items))]


# ---- JSON bodies for the control API -----------------------------------------------------

def _mutate_json(rng: random.Random, body: dict[str, Any]) -> bytes:
    """A valid body, a mutated one, or bytes that are not a JSON object at all."""
    kind = rng.choices(["valid", "fields", "raw", "shape"], weights=[3, 8, 3, 2])[0]
    if kind == "valid":
        return json.dumps(body).encode()
    if kind == "fields":
        out = dict(body)
        for _ in range(rng.randint(1, 3)):
            op = rng.choice(["drop", "retype", "add", "null", "long"])
            key = rng.choice(list(out) or ["x"])
            if op == "drop":
                out.pop(key, None)
            elif op == "retype":
                out[key] = _pick(rng, ODD_JSON)
            elif op == "add":
                out[rng.choice(["extra", "first_name", "role", "purpose", "ids", "admin",
                                "__proto__", ""])] = _pick(rng, ODD_JSON)
            elif op == "null":
                out[key] = None
            else:
                out[key] = "ñ" * rng.choice([99, 100, 101, 201, 2001, 70_000])
        return json.dumps(out).encode()
    if kind == "raw":
        text = bytearray(json.dumps(body).encode())
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(max(1, len(text)))
            op = rng.choice(["cut", "flip", "insert"])
            if op == "cut":
                del text[i:]
            elif op == "flip" and text:
                text[i] ^= 1 << rng.randrange(8)
            else:
                text[i:i] = rng.choice([b"\xff", b"\x00", b"{", b"]", b",", b'"', b"\\u"])
        return bytes(text)
    return rng.choice([b"", b"[1,2", b"[1, 2]", b'"a string"', b"null", b"42", b"true",
                       b"[" * 50_000, b'{"a":' * 5000, b"\xff\xfe\x00",
                       b'{"first_name": NaN}', b'{"a": 1, "a": 2}', rng.randbytes(64),
                       b" " * 2_000_000])


def control_case(rng: random.Random, ctx: dict[str, Any]) -> tuple[str, str, bytes | None]:
    """(method, path, body) for one control API request."""
    rid = _pick(rng, ODD_IDS + ["1", "2", "3"] * 5)
    person = {"first_name": rng.choice(["Ana", "Lupe", "Guadalupe"]),
              "last_name_1": rng.choice(["Ruiz", "Hernandez", "López"]),
              "birth_date": "2009-03-04", "sex": "F",
              "purpose": rng.choice(PURPOSES), "timeout": 2,
              "role": rng.choice(ROLES), "parent_names": ["female: María López"],
              "ids": {"state_student_id": "CA700001"}}
    admin = {"admin": rng.choice(["dana", "dora", "nobody"]), "password": PASSWORD,
             "comment": "fuzz", "reason": "fuzz"}
    routes: list[tuple[int, str, str, dict[str, Any] | None]] = [
        (6, "POST", "/local/v1/find", person),
        (3, "POST", "/local/v1/fetch", {"state": "CA", "handles": ctx["handles"][:2] or
                                        ["abcdefgh12"], "purpose": rng.choice(PURPOSES),
                                        "role": rng.choice(ROLES)}),
        (2, "POST", "/local/v1/notify-move", {"student": _pick(rng, ctx["students"]),
                                              "to": "CA", "expected": "2025-09-01",
                                              "comment": "fuzz", "contact": "office"}),
        (2, "POST", f"/local/v1/jobs/{rng.choice([*JOBS, 'nope', 'x' * 300, '%00'])}", {}),
        (1, "POST", "/local/v1/keys/reload", {}),
        (1, "POST", f"/local/v1/worklist/{rid}/confirm",
         {k: admin[k] for k in ("admin", "password", "comment")}),
        (1, "POST", f"/local/v1/worklist/{rid}/reject",
         {k: admin[k] for k in ("admin", "password", "reason")}),
        (2, "POST", f"/local/v1/links/{rid}/"
                    f"{rng.choice(['validate', 'reject', 'revoke', 'fetch', 'x'])}",
         {k: admin[k] for k in ("admin", "password", "reason")}),
        (1, "POST", f"/local/v1/links/{rid}/fetch", {"purpose": "data_quality",
                                                     "role": "data_admin"}),
        (2, "GET", f"/local/v1/worklist?status={quote(_pick(rng, ODD_TEXT))}", None),
        (2, "GET", f"/local/v1/worklist/{rid}", None),
        (2, "GET", f"/local/v1/links?status={quote(_pick(rng, ODD_TEXT))}", None),
        (2, "GET", f"/local/v1/links/{rid}", None),
        (1, "GET", "/local/v1/outbox", None),
        (1, "GET", "/local/v1/status", None),
        (1, rng.choice(["GET", "PUT", "DELETE"]), f"/local/v1/{_pick(rng, ODD_IDS)}", None),
    ]
    _w, method, path, body = rng.choices(routes, weights=[r[0] for r in routes])[0]
    if body is None:
        return method, path, None
    if "find" in path:  # only some optional fields, so many bodies are otherwise valid
        body = {k: v for k, v in body.items()
                if k in ("first_name", "last_name_1") or rng.random() < 0.5}
    return method, path, _mutate_json(rng, body)


async def fuzz_control(url: str, token: str, ctx: dict[str, Any], *, seconds: float,
                       count: int, seed: int, concurrency: int) -> Tally:
    tally = Tally()
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:

        async def worker(rng: random.Random) -> None:
            while tally.cases < count and time.monotonic() < deadline:
                tally.cases += 1
                method, path, body = control_case(rng, ctx)
                auth = (f"Bearer {token}" if rng.random() < 0.97
                        else rng.choice(["", "Bearer", f"Bearer {token}x", token]))
                route = re.sub(r"/local/v1/(worklist|links)/[^/?]+", r"/local/v1/\1/{id}",
                               path.split("?")[0])
                route = re.sub(r"/jobs/.*", "/jobs/{name}", route)
                try:
                    async with http.request(method, url + path, data=body,
                                            headers={"Authorization": auth,
                                                     "Content-Type": "application/json"}
                                            ) as r:
                        await r.read()
                        tally.add(f"{method} {route}", r.status,
                                  f"{method} {path} {(body or b'')[:120]!r}")
                except (aiohttp.ClientError, TimeoutError) as exc:
                    tally.errors.append(f"{method} {path}: {type(exc).__name__} {exc}")

        await asyncio.gather(*(worker(random.Random(f"{seed}/control/{w}"))
                               for w in range(concurrency)))
    return tally


# ---- the web UI ---------------------------------------------------------------------------

TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM_RE = re.compile(r"<form\b[^>]*>.*?</form>", re.S)
ATTR_RE = re.compile(r'\b(action|method)="([^"]*)"')
NAME_RE = re.compile(r'<(?:input|select|textarea)\b[^>]*\bname="([^"]+)"')

SEARCH = ["first_name", "middle_name", "last_name_1", "last_name_2", "birth_date", "sex",
          "birth_city", "birth_state", "birth_country", "mother_first", "mother_last",
          "father_first", "father_last", "student_id", "purpose"]
MOVE = ["to", "d_first_name", "d_last_name_1", "d_middle_name", "d_last_name_2", "d_suffix",
        "d_sex", "d_birth_date", "d_birth_city", "d_birth_state", "d_birth_country",
        "d_multiple_birth", "expected", "destination", "contact", "comment", "local"]
#: (weight, method, path with {id}/{sid}/{action}/{q} slots, form fields)
WEB_ROUTES: list[tuple[int, str, str, list[str]]] = [
    (2, "GET", "/", []),
    (3, "GET", "/students?q={q}&birth_date={q}&purpose={purpose}", []),
    (3, "GET", "/students/{sid}?purpose={purpose}", []),
    (1, "GET", "/data-quality", []),
    (1, "GET", "/users", []),
    (2, "GET", "/search?first_name={q}&purpose={purpose}", []),
    (3, "GET", "/record?purpose={purpose}&r={q}&local={sid}", []),
    (3, "GET", "/record?purpose={purpose}&r=CA:{q}&r={q}:{q}", []),
    (1, "GET", "/moves/inbox", []),
    (2, "GET", "/moves/outbox?sent={id}", []),
    (1, "GET", "/status", []),
    (1, "GET", "/worklist?done={q}", []),
    (3, "GET", "/worklist/{id}", []),
    (1, "GET", "/links?done={q}", []),
    (1, "GET", "/audit", []),
    (2, "GET", "/audit/log?page={id}&peer={q}", []),
    (2, "GET", "/audit/student?student={q}", []),
    (2, "GET", "/audit/v1/proof?index={id}", []),
    (2, "GET", "/audit/v1/consistency?old={id}&new={id}", []),
    (2, "GET", "/audit/v1/history?student={q}", []),
    (1, "GET", "/audit/v1/alerts", []),
    (1, "GET", "/audit/v1/checkpoint", []),
    (1, "GET", "/login?next={q}", []),
    (1, "GET", "/{q}", []),
    (2, "POST", "/login", ["username", "password", "next"]),
    (6, "POST", "/search/results", SEARCH),
    (4, "POST", "/moves", MOVE),
    (3, "POST", "/worklist/{id}/{action}", ["comment", "local_record"]),
    (3, "POST", "/links/{id}/{action}", ["reason"]),
    (2, "POST", "/users", ["username", "role", "password", "password2", "full_name",
                           "school", "contact"]),
    (2, "POST", "/users/status", ["username", "action", "confirm"]),
    (1, "POST", "/audit/verify", []),
    (1, "POST", "/audit/v1/verify", []),
]
GOOD_VALUES = {"first_name": "Lupe", "last_name_1": "Hernandez", "birth_date": "2009-03-04",
               "sex": "F", "purpose": "enrollment", "to": "CA", "d_first_name": "Ana",
               "d_last_name_1": "Ruiz", "destination": "Fresno", "expected": "2025-09-01",
               "role": "staff", "action": "deactivate", "confirm": "yes",
               "username": "fz", "password": "long enough password 1",
               "password2": "long enough password 1"}


@dataclass
class WebUser:
    http: aiohttp.ClientSession
    name: str
    token: str


async def anonymous(url: str) -> WebUser:
    """A browser before sign-in: the pre-login CSRF cookie and its token."""
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                 timeout=aiohttp.ClientTimeout(total=60))
    async with http.get(url + "/login") as r:
        token = TOKEN_RE.search(await r.text())
    assert token, "the login page has no CSRF token"
    return WebUser(http, "anonymous", token.group(1))


async def sign_in(url: str, name: str) -> WebUser:
    """A session cookie and the session's CSRF token, as a browser would have them."""
    anon = await anonymous(url)
    http, token = anon.http, TOKEN_RE.search(f'name="csrf_token" value="{anon.token}"')
    async with http.post(url + "/login", allow_redirects=False, data={
            "username": name, "password": PASSWORD, "csrf_token": token.group(1),
            "next": "/"}) as r:
        if r.status != 303:
            raise SystemExit(f"cannot sign in as {name}: HTTP {r.status}")
    async with http.get(url + "/") as r:
        token = TOKEN_RE.search(await r.text())
    assert token, "the home page has no CSRF token"
    return WebUser(http, name, token.group(1))


async def discover_forms(url: str, users: list[WebUser], ctx: dict[str, Any]) -> None:
    """Add the fields of every form on the pages each role sees to the route table."""
    pages = ["/", "/students", f"/students/{ctx['students'][0]}?purpose=enrollment",
             "/search", "/users", "/worklist", "/links", "/audit", "/moves/inbox",
             f"/record?purpose=enrollment&local={ctx['students'][0]}"]
    known = {path.split("/{")[0] for _w, m, path, _f in WEB_ROUTES if m == "POST"}
    for user in users:
        for page in pages:
            async with user.http.get(url + page) as r:
                html = await r.text()
            for form in FORM_RE.findall(html):
                attrs = dict(ATTR_RE.findall(form.split(">", 1)[0]))
                action = attrs.get("action", page).split("?")[0]
                names = sorted(set(NAME_RE.findall(form)) - {"csrf_token"})
                method = attrs.get("method", "get").upper()
                generic = re.sub(r"/[0-9]+(/|$)", r"/{id}\1", action)
                if generic == "/logout":  # would end the session the fuzz runs in
                    continue
                if method == "POST" and generic not in known and action.startswith("/"):
                    WEB_ROUTES.append((2, "POST", generic, names))
                    known.add(generic)
                for i, (w, m, path, fields) in enumerate(WEB_ROUTES):
                    if m == method and path == generic:
                        WEB_ROUTES[i] = (w, m, path, sorted(set(fields) | set(names)))


def _fill(rng: random.Random, template: str, ctx: dict[str, Any]) -> str:
    slots: dict[str, Callable[[], str]] = {
        "id": lambda: _pick(rng, ODD_IDS + ["1", "2"] * 6),
        "sid": lambda: rng.choice([_pick(rng, ctx["students"]), quote(_pick(rng, ODD_TEXT)),
                                   _pick(rng, ODD_IDS)]),
        "action": lambda: rng.choice(["confirm", "reject", "validate", "revoke", "x",
                                      "%C2%B2", "fetch"]),
        "q": lambda: quote(_pick(rng, ODD_TEXT + ctx["handles"][:3]), safe=""),
        "purpose": lambda: rng.choice([*PURPOSES, "", "x", "%C2%B2"]),
    }
    return re.sub(r"\{(\w+)\}", lambda m: slots[m.group(1)](), template)


#: who may use the pages under a path (the fuzz mostly sends a user who may, so that the
#: requests get past the role check; the others check the refusal)
ROUTE_ROLES = {"/students": ("staff", "data_admin"), "/search": ("staff", "data_admin"),
               "/record": ("staff", "data_admin"), "/moves": ("staff", "data_admin"),
               "/data-quality": ("data_admin",), "/worklist": ("data_admin",),
               "/links": ("data_admin",), "/users": ("operator",), "/status": ("operator",),
               "/audit": ("auditor",)}


def pick_user(rng: random.Random, template: str, users: list[WebUser]) -> WebUser:
    roles = next((r for prefix, r in ROUTE_ROLES.items() if template.startswith(prefix)), ())
    fitting = [u for u in users if USERS[u.name] in roles]
    return _pick(rng, fitting if fitting and rng.random() < 0.85 else users)


def web_case(rng: random.Random, ctx: dict[str, Any], route: tuple[int, str, str, list[str]],
             token: str, anon_token: str) -> tuple[str, str, str, Any, dict[str, str]]:
    """(route, method, path, body, headers) for one web request (a sign-in attempt is
    made with the anonymous browser's token: see `fuzz_web`)."""
    _w, method, template, fields = route
    if template == "/login":
        token = anon_token
    path = _fill(rng, template, ctx)
    headers: dict[str, str] = {}
    if rng.random() < 0.3:
        headers["Accept"] = rng.choice(["text/html", "application/x-ndjson", "*/*", ""])
    if method == "GET":
        return f"GET {template.split('?')[0]}", method, path, None, headers
    pairs: list[tuple[str, str]] = []
    for name in fields:
        r = rng.random()
        if r < 0.15:
            continue
        value = GOOD_VALUES.get(name, "x") if r < 0.55 else _pick(rng, ODD_TEXT)
        pairs.append((name, value))
        if rng.random() < 0.05:
            pairs.append((name, _pick(rng, ODD_TEXT)))
    if rng.random() < 0.1:
        pairs.append((rng.choice(["extra", "csrf_token", "purpose", ""]), _pick(rng, ODD_TEXT)))
    csrf = token if rng.random() < 0.95 else rng.choice(["", "x", token + "x"])
    if csrf:
        pairs.append(("csrf_token", csrf))
    shape = rng.choices(["form", "bytes", "json", "multipart"], weights=[20, 2, 1, 1])[0]
    body: Any
    if shape == "form":
        body = urlencode(pairs).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif shape == "bytes":  # a form body with raw bytes that are not UTF-8, or cut short
        body = (urlencode(pairs) + rng.choice(["&first_name=%FF%FE", "&%FF=1", "&=&&",
                                                "%", "&x=%E2%82"])).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif shape == "json":
        body = json.dumps(dict(pairs)).encode()
        headers["Content-Type"] = "application/json"
        headers["X-CSRF-Token"] = csrf
    else:
        mp = aiohttp.FormData()
        for name, value in pairs:
            mp.add_field(name, value)
        mp.add_field("upload", rng.randbytes(256), filename="x.bin")
        body = mp
    return f"POST {template}", method, path, body, headers


async def fuzz_web(url: str, ctx: dict[str, Any], *, seconds: float, count: int, seed: int,
                   concurrency: int) -> Tally:
    tally = Tally()
    users = [await sign_in(url, name) for name in USERS]
    anon = await anonymous(url)  # sign-in attempts go through it, never a user's session
    try:
        await discover_forms(url, users, ctx)
        deadline = time.monotonic() + seconds

        async def worker(rng: random.Random) -> None:
            while tally.cases < count and time.monotonic() < deadline:
                tally.cases += 1
                entry = rng.choices(WEB_ROUTES, weights=[r[0] for r in WEB_ROUTES])[0]
                who = anon if rng.random() < 0.04 else pick_user(rng, entry[2], users)
                if entry[2] == "/login":  # never replace a fuzzing user's session
                    who = anon
                route, method, path, body, headers = web_case(rng, ctx, entry, who.token,
                                                              anon.token)
                try:
                    async with who.http.request(method, url + path, data=body,
                                                 headers=headers,
                                                 allow_redirects=False) as r:
                        await r.read()
                        tally.add(route, r.status, f"{method} {path} as {who.name}")
                except (aiohttp.ClientError, TimeoutError) as exc:
                    tally.errors.append(f"{method} {path}: {type(exc).__name__} {exc}")

        await asyncio.gather(*(worker(random.Random(f"{seed}/web/{w}"))
                               for w in range(concurrency)))
    finally:
        for user in [*users, anon]:
            await user.http.close()
    return tally


# ---- running it ---------------------------------------------------------------------------

def _context(fed: Any) -> dict[str, Any]:
    """Real student ids of TX and a few real handles CA gives TX, for valid cases."""
    lines = (fed.node_dir("TX") / "records.jsonl").read_text().splitlines()
    students = [json.loads(line)["state_student_id"] for line in lines[:20]]
    handles = []
    for query in ({"first_name": "Lupe", "last_name_1": "Hernandez", "birth_date": "2009-03-04"},
                  {"first_name": "Guadalupe", "last_name_1": "Hernandez",
                   "last_name_2": "Lopez", "birth_date": "2009-03-04", "sex": "F"}):
        answers, _ = fed.find("TX", **query, role="staff")
        handles += [c["handle"] for a in answers.values() for c in a.get("candidates", [])]
    items = fed.control("TX", "/local/v1/worklist")  # near matches to confirm and link
    return {"students": students, "handles": handles, "worklist": [i["id"] for i in items]}


def _exceptions(log: str) -> collections.Counter[str]:
    """The exception line ending each traceback in a log, counted."""
    found: collections.Counter[str] = collections.Counter()
    for part in log.split("Traceback (most recent call last):")[1:]:
        for line in part.splitlines()[1:]:
            if line and not line.startswith((" ", "\t")):
                found[line] += 1
                break
    return found


def run(target: str, *, seconds: float, count: int, seed: int, concurrency: int) -> int:
    from tests.integration.harness import GUADALUPE_CA, GUADALUPE_TX, Federation, child
    from tests.integration.web_client import add_users

    lupe = child("CA710001", "Lupe", "Hernandez", "", "2009-03-24")  # a near match
    with tempfile.TemporaryDirectory() as tmp:
        fed = Federation(Path(tmp), ["TX", "CA"], background=20,
                         extra_records={"TX": [GUADALUPE_TX],
                                        "CA": [GUADALUPE_CA, lupe]}).create()
        password_file = Path(tmp) / "password.txt"
        password_file.write_text(PASSWORD + "\n")
        password_file.chmod(0o600)
        add_users(fed.config("TX"), USERS, password_file)
        fed.start()
        try:
            ctx = _context(fed)
            url = fed.nodes["TX"].url
            started = time.monotonic()
            if target == "control":
                token = json.loads((fed.node_dir("TX") / "control.json").read_text())["token"]
                ctl_url = json.loads((fed.node_dir("TX") / "control.json").read_text())["url"]
                tally = asyncio.run(fuzz_control(ctl_url, token, ctx, seconds=seconds,
                                                 count=count, seed=seed,
                                                 concurrency=concurrency))
            else:
                tally = asyncio.run(fuzz_web(url, ctx, seconds=seconds, count=count,
                                             seed=seed, concurrency=concurrency))
            elapsed = time.monotonic() - started
            alive = all(p.running for p in fed.nodes.values())
            logs = {s: (fed.node_dir(s) / "node.log").read_text() for s in fed.nodes}
        finally:
            fed.stop()
    tracebacks = {s: text.count("Traceback") for s, text in logs.items()}
    print(f"target {target}, seed {seed}: {tally.cases} cases in {elapsed:.1f} s "
          f"({tally.cases / max(elapsed, 1e-9):.0f}/s), concurrency {concurrency}")
    print("responses by status: " + ", ".join(f"{s}: {n}" for s, n in
                                               sorted(tally.statuses.items())))
    print("responses by route and status:")
    for key, n in sorted(tally.by_route.items()):
        print(f"  {key:<48} {n:>7}")
    print(f"responses 500: {tally.statuses.get(500, 0)}; connection errors: "
          f"{len(tally.errors)}; nodes alive at the end: {alive}")
    print("tracebacks in node.log: " + ", ".join(f"{s} {n}" for s, n in tracebacks.items()))
    for line in tally.five_hundreds[:20] + tally.errors[:10]:
        print("  " + line)
    for state, text in logs.items():
        for error, n in sorted(_exceptions(text).items()):
            print(f"  {state} node.log: {n} x {error[:200]}")
        if tracebacks[state]:
            first = text.index("Traceback")
            print(f"first traceback in {state}'s node.log:")
            print(text[max(0, first - 300):first + 3000])
    bad = tally.statuses.get(500, 0) or tally.errors or not alive or any(tracebacks.values())
    return 1 if bad else 0
