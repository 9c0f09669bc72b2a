"""Sign-in and sign-out pages of the staff web UI, with login throttling.

`GET /login` shows the form; `POST /login` checks the throttle first
(`node.store.accounts.lock_of`: a lock for this account from this address, or for this account
from addresses it never signed in from), waits the address's or account's slow-down
(`node.store.accounts.login_delay`: a few seconds at most, never a refusal, so the right
password of another account behind the same address still gets in), then checks the
Argon2id hash in a worker thread (`crypto.passwords.verify_password_async`), and only
then starts a server-side session. Unknown, disabled and deactivated users get the same
answer as a wrong password, after the same amount of hashing work. `POST /logout` ends
the session. DESIGN.md "Web UI"; OWASP Authentication Cheat Sheet (generic errors, throttling).
"""

from __future__ import annotations

import asyncio
import math

from aiohttp import web

from crypto.errors import PasswordMismatch
from crypto.passwords import hash_password_async, needs_rehash, verify_password_async
from node.appkeys import CONFIG
from node.http_inputs import client_address
from node.store import accounts
from node.web.i18n import N_
from node.web.site import (
    SESSION,
    SESSION_ENDED,
    clear_session_cookie,
    now,
    render,
    run_db,
    set_session_cookie,
    translate,
)

MAX_FIELD = 1024


def safe_next(target: str) -> str:
    """A local path to go to after sign-in; anything else (other sites) becomes `/`."""
    if (not target.startswith("/") or target.startswith("//") or "\\" in target
            or any(ord(c) < 32 for c in target)):
        return "/"
    return target[:2000]


def _wait_text(request: web.Request, seconds: float) -> str:
    minutes = math.ceil(seconds / 60)
    if seconds < 60:
        return translate(request, N_("%(n)s seconds")) % {"n": math.ceil(seconds)}
    one = minutes == 1
    return translate(request, N_("%(n)s minute") if one else N_("%(n)s minutes")) % {
        "n": minutes}


def _login_page(request: web.Request, *, status: int = 200, error: str = "",
                username: str = "", next_path: str = "/") -> web.Response:
    notice = ""
    if request.query.get("expired") or request.get(SESSION_ENDED):
        notice = "Your session ended after a period of inactivity. Please sign in again."
    elif request.query.get("bye"):
        notice = "You are signed out."
    return render(request, "login.html",
                  {"error": error, "notice": "" if error else notice, "username": username,
                   "next": next_path},
                  status=status, title="Sign in")


async def login_form(request: web.Request) -> web.StreamResponse:
    if request.get(SESSION) is not None:
        raise web.HTTPSeeOther(safe_next(request.query.get("next", "/")))
    return _login_page(request, next_path=safe_next(request.query.get("next", "/")))


LOCK_MESSAGES = {
    "pair": "Too many failed sign-ins for this account from your address. "
            "Try again in {wait}.",
    "account": "Too many failed sign-ins for this account from addresses it has not signed "
               "in from before. Sign in from an address you have used before, or try again "
               "in {wait}.",
}


def _throttled(request: web.Request, username: str, next_path: str,
               wait: float, scope: str = "pair") -> web.Response:
    message = LOCK_MESSAGES.get(scope, LOCK_MESSAGES["pair"])
    response = _login_page(
        request, status=429, username=username, next_path=next_path,
        error=translate(request, message).format(wait=_wait_text(request, wait)))
    response.headers["Retry-After"] = str(math.ceil(wait))
    return response


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", ""))[:MAX_FIELD].strip()
    password = str(form.get("password", ""))[:MAX_FIELD]
    next_path = safe_next(str(form.get("next", "/")))
    if not username or not password:
        return _login_page(request, status=400, username=username, next_path=next_path,
                           error="Enter your username and password.")
    cfg = request.app[CONFIG].web
    client = client_address(request)
    wait, scope = await run_db(request, accounts.lock_of, username, client, now=now(request))
    if wait > 0:
        return _throttled(request, username, next_path, wait, scope)
    delay = await run_db(request, accounts.login_delay, username, client, now=now(request),
                         max_failures=cfg.login_max_failures, lockout=cfg.login_lockout)
    if delay > 0:
        await asyncio.sleep(delay)

    found = await run_db(request, accounts.password_hash_of, username)
    user, phc = found if found else (None, _dummy(request))
    ok = False
    try:
        await verify_password_async(password, phc)
        ok = user is not None and user.status == "active"
    except PasswordMismatch:
        ok = False
    if not ok or user is None:
        await run_db(request, accounts.record_failure, username, client, now=now(request),
                     max_failures=cfg.login_max_failures, lockout=cfg.login_lockout)
        wait, scope = await run_db(request, accounts.lock_of, username, client,
                                   now=now(request))
        if wait > 0:
            return _throttled(request, username, next_path, wait, scope)
        return _login_page(request, status=401, username=username, next_path=next_path,
                           error="Wrong username or password, or the account is not active.")

    if needs_rehash(phc):
        new_hash = await hash_password_async(password)
        await run_db(request, accounts.set_password, user.username, new_hash)
    await run_db(request, accounts.record_success, user.username, client, now=now(request))
    token, _session = await run_db(request, accounts.create_session, user,
                                   now=now(request), client=client)
    response = web.HTTPSeeOther(next_path)
    set_session_cookie(request, response, token)
    raise response


def _dummy(request: web.Request) -> str:
    from node.appkeys import WEB
    return request.app[WEB].dummy_hash


async def logout(request: web.Request) -> web.StreamResponse:
    session = request.get(SESSION)
    if session is not None:
        await run_db(request, accounts.end_session, session.token_hash)
    response = web.HTTPSeeOther("/login?bye=1")
    clear_session_cookie(response)
    raise response


def setup(app: web.Application) -> None:
    app.router.add_get("/login", login_form, name="login")
    app.router.add_post("/login", login, name="login_post")
    app.router.add_post("/logout", logout, name="logout")
