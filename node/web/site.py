"""The staff web UI's framework: templates, security headers, sessions, CSRF, role checks.

`node.web.setup.setup_web(app)` turns the node's aiohttp application into one that also
serves the server-rendered UI (DESIGN.md "Web UI") with what this module provides: a
Jinja2 environment with autoescaping on every template, `/static/`, and four
middlewares, outermost first:

1. security headers on every response: a strict Content-Security-Policy (no inline
   script or style), `X-Content-Type-Options`, `Referrer-Policy: no-referrer`,
   `X-Frame-Options`, and `Cache-Control: no-store` on everything but static files;
2. errors: a `NodeError` raised by a page becomes an HTML page with its status;
3. sessions: the `statenode_session` cookie (HttpOnly, SameSite=Strict, Secure under
   TLS) is looked up server-side (`node.store.accounts.load_session`); idle sessions end;
4. CSRF: every POST must carry `csrf_token` (form field or `X-CSRF-Token` header)
   equal, by `hmac.compare_digest`, to the session's token, or before login to an HMAC
   of the `statenode_csrf` cookie (signed double submit).

Paths under `CSRF_EXEMPT_PREFIXES` (the peer API, which authenticates by signed
envelopes, and the local control API, by a bearer token; neither uses cookies) skip
sessions, CSRF and HTML errors. Pages declare who may see
them with `@requires(*roles)`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import jinja2
from aiohttp import web

from node import __version__, clock
from node.appkeys import CONFIG, STORE, WEB
from node.errors import NodeError
from node.store.accounts import ROLE_LABELS, Session, load_session

HERE = Path(__file__).parent
SESSION_COOKIE = "statenode_session"
CSRF_COOKIE = "statenode_csrf"
CSRF_FIELD = "csrf_token"
CSRF_EXEMPT_PREFIXES: tuple[str, ...] = ("/federation/", "/local/", "/healthz", "/static/",
                                         "/witness/")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")


@dataclass
class WebState:
    """Per-app UI state: templates, the CSRF secret, the clock (tests may replace it)."""

    env: jinja2.Environment
    csrf_secret: bytes
    tls: bool
    clock: Callable[[], float] = clock.now
    dummy_hash: str = ""
    nav: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)


SESSION = web.RequestKey("session", Session)
SESSION_ENDED = web.RequestKey("session_ended", bool)
ANON_CSRF = web.RequestKey("anon_csrf", str)


# ---- helpers for pages -------------------------------------------------------------------

async def run_db(request: web.Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn(db, *args, **kwargs)` on the store's writer thread."""
    store = request.app[STORE]
    if kwargs:
        return await store.run(lambda db, *a: fn(db, *a, **kwargs), *args)
    return await store.run(fn, *args)


def now(request: web.Request) -> float:
    return request.app[WEB].clock()


def current_session(request: web.Request) -> Session | None:
    return request.get(SESSION)


def csrf_token(request: web.Request) -> str:
    """The token forms on this page must send back."""
    session = request.get(SESSION)
    if session is not None:
        token: str = session.csrf_token
        return token
    return _anon_token(request.app[WEB].csrf_secret, _anon_cookie(request))


def _anon_cookie(request: web.Request) -> str:
    value = request.get(ANON_CSRF) or request.cookies.get(CSRF_COOKIE, "")
    if not value or len(value) > 128:
        value = secrets.token_urlsafe(32)
    request[ANON_CSRF] = value
    return value


def _anon_token(secret: bytes, cookie: str) -> str:
    return hmac.new(secret, b"statenode/v1/csrf|" + cookie.encode(), hashlib.sha256).hexdigest()


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict",
                        secure=request.app[WEB].tls, path="/")


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/")


def render(request: web.Request, template: str, context: dict[str, Any] | None = None,
           *, status: int = 200, title: str = "") -> web.Response:
    """Render a page with the session, CSRF token and navigation in its context."""
    state = request.app[WEB]
    session = request.get(SESSION)
    role = session.user.role if session else ""
    ctx = {
        "request_path": request.path,
        "session": session,
        "user": session.user if session else None,
        "role": role,
        "role_label": ROLE_LABELS.get(role, ""),
        "csrf_token": csrf_token(request),
        "nav": [(href, label) for href, label, roles in state.nav if role in roles],
        "node_id": request.app[CONFIG].node.id,
        "node_name": request.app[CONFIG].node.name,
        "version": __version__,
        "title": title,
        **(context or {}),
    }
    body = state.env.get_template(template).render(ctx)
    response = web.Response(text=body, status=status, content_type="text/html",
                            charset="utf-8")
    if session is None and ANON_CSRF in request:
        response.set_cookie(CSRF_COOKIE, request[ANON_CSRF], httponly=True,
                            samesite="Strict", secure=state.tls, path="/")
    return response


def error_page(request: web.Request, status: int, message: str) -> web.Response:
    titles = {400: "Bad request", 401: "Sign-in needed", 403: "Not allowed",
              404: "Not found", 409: "Conflict", 429: "Too many attempts"}
    return render(request, "error.html", {"status": status, "message": message},
                  status=status, title=titles.get(status, "Error"))


def requires(*roles: str) -> Callable[[Handler], Handler]:
    """Let a page be seen only by signed-in users holding one of `roles` (none: any)."""

    def wrap(handler: Handler) -> Handler:
        async def checked(request: web.Request) -> web.StreamResponse:
            session = request.get(SESSION)
            if session is None:
                if request.method == "GET":
                    target = request.path_qs
                    expired = "&expired=1" if request.get(SESSION_ENDED) else ""
                    raise web.HTTPSeeOther(f"/login?next={quote(target, safe='')}{expired}")
                return error_page(request, 401, "Please sign in first.")
            if roles and session.user.role not in roles:
                allowed = ", ".join(ROLE_LABELS[r] for r in roles)
                return error_page(request, 403,
                                  f"This page is for: {allowed}. You are signed in as "
                                  f"{session.user.role_label}.")
            return await handler(request)

        checked.__name__ = handler.__name__
        checked.__doc__ = handler.__doc__
        return checked

    return wrap


def _exempt(path: str) -> bool:
    return path.startswith(CSRF_EXEMPT_PREFIXES)


# ---- middlewares -------------------------------------------------------------------------

@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
        _add_headers(request, response)
        raise
    _add_headers(request, response)
    return response


def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "no-referrer")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if not request.path.startswith("/static/"):
        h["Cache-Control"] = "no-store"
    if request.app[WEB].tls:
        h.setdefault("Strict-Transport-Security", "max-age=31536000")


@web.middleware
async def node_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if _exempt(request.path):
        return await handler(request)
    try:
        return await handler(request)
    except NodeError as exc:
        return error_page(request, exc.status, str(exc))


@web.middleware
async def sessions(request: web.Request, handler: Handler) -> web.StreamResponse:
    if _exempt(request.path):
        return await handler(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    ended = False
    if token:
        state = request.app[WEB]
        cfg = request.app[CONFIG]
        session = await run_db(request, load_session, token, now=state.clock(),
                               idle_timeout=cfg.web.session_idle_timeout)
        if session is None:
            ended = True
            request[SESSION_ENDED] = True
        else:
            request[SESSION] = session
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if ended:
            clear_session_cookie(exc)
        raise
    if ended and not response.prepared and SESSION_COOKIE not in response.cookies:
        clear_session_cookie(response)
    return response


@web.middleware
async def csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method not in UNSAFE_METHODS or _exempt(request.path):
        return await handler(request)
    sent = request.headers.get("X-CSRF-Token", "")
    if not sent and request.content_type in ("application/x-www-form-urlencoded",
                                             "multipart/form-data"):
        form = await request.post()
        value = form.get(CSRF_FIELD, "")
        sent = value if isinstance(value, str) else ""
    session = request.get(SESSION)
    if session is not None:
        expected = session.csrf_token
    else:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        expected = _anon_token(request.app[WEB].csrf_secret, cookie) if cookie else ""
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        message = ("This form was not sent by this site or has expired. "
                   "Go back, reload the page and try again.")
        if request.get(SESSION_ENDED):
            message = "Your session has ended. Please sign in again."
        return error_page(request, 403, message)
    return await handler(request)


# ---- setup -------------------------------------------------------------------------------

def make_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["datetime"] = lambda ts: (
        time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "—")
    env.filters["credits"] = lambda v: f"{float(v):.2f}" if v not in (None, "") else "—"
    env.filters["yesno"] = lambda v: "Yes" if v else "No"
    env.filters["dash"] = lambda v: (
        "—" if v in (None, "") or isinstance(v, jinja2.Undefined) else v)
    return env


async def dummy_hash_startup(app: web.Application) -> None:
    from crypto.passwords import hash_password_async

    # verified against for unknown users, so they cost the same time as known ones
    app[WEB].dummy_hash = await hash_password_async(secrets.token_urlsafe(24))


def add_nav(app: web.Application, href: str, label: str, *roles: str) -> None:
    """Show a link in the top navigation to users of `roles`."""
    app[WEB].nav.append((href, label, roles))
