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
import logging
import secrets
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
from node.web import i18n
from node.web.i18n import LANG_COOKIE, LANGUAGES, N_, gettext

log = logging.getLogger(__name__)

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
LANG = web.RequestKey("lang", str)


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


def language(request: web.Request) -> str:
    """The request's language: `?lang=` (this page only, e.g. a record printed for a family
    in its language: records carry no language of the parents), else the cookie, else
    Accept-Language, else English."""
    lang = request.get(LANG)
    if lang is None:
        asked = request.query.get("lang", "")  # one page in another language: a print
        lang = asked if asked in LANGUAGES else i18n.negotiate(
            request.cookies.get(LANG_COOKIE), request.headers.get("Accept-Language"))
        request[LANG] = lang
    return lang


def translate(request: web.Request, message: str) -> str:
    """`message` (an English catalogue string) in the request's language."""
    token = i18n.use_locale(language(request))
    try:
        return gettext(message)
    finally:
        i18n.reset_locale(token)


def _with_query(request: web.Request, **values: str) -> str:
    query = {**{k: v for k, v in request.query.items() if k not in values}, **values}
    return str(request.rel_url.with_query(query))


def help_anchor(path: str) -> str:
    """The section of /help about the page at `path` (the header's "?" link)."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return "home"
    if parts[0] in ("audit", "moves") and len(parts) > 1 and not parts[1].isdigit():
        return f"{parts[0]}-{parts[1]}"
    return parts[0]


def translate_message(request: web.Request, text: str) -> str:
    """A message (maybe one of the registered patterns) in the request's language."""
    token = i18n.use_locale(language(request))
    try:
        return i18n.message(text)
    finally:
        i18n.reset_locale(token)


def translate_phrases(request: web.Request, text: str) -> str:
    """A text composed of registered phrases (outcome words …) in the request's language."""
    token = i18n.use_locale(language(request))
    try:
        return i18n.phrases(text)
    finally:
        i18n.reset_locale(token)


def render(request: web.Request, template: str, context: dict[str, Any] | None = None,
           *, status: int = 200, title: str = "",
           help_section: str = "") -> web.Response:
    """Render a page with the session, CSRF token and navigation in its context.

    `title` is an English catalogue string (shown translated); `help_section` is the
    anchor of the page's section on /help (the header's "?" link).
    """
    state = request.app[WEB]
    session = request.get(SESSION)
    role = session.user.role if session else ""
    lang = language(request)
    token = i18n.use_locale(lang)
    try:
        ctx = {
            "request_path": request.path,
            "request_path_qs": request.path_qs,
            "other_language_url": _with_query(request, lang="es" if lang == "en" else "en"),
            "session": session,
            "user": session.user if session else None,
            "role": role,
            "role_label": gettext(ROLE_LABELS.get(role, "")) if role else "",
            "csrf_token": csrf_token(request),
            "nav": [(href, gettext(label)) for href, label, roles in state.nav
                    if role in roles],
            "node_id": request.app[CONFIG].node.id,
            "node_name": request.app[CONFIG].node.name,
            "version": __version__,
            "title": gettext(title) if title else "",
            "lang": lang,
            "help_section": help_section or help_anchor(request.path),
            **(context or {}),
        }
        body = state.env.get_template(template).render(ctx)
    finally:
        i18n.reset_locale(token)
    response = web.Response(text=body, status=status, content_type="text/html",
                            charset="utf-8")
    if session is None and ANON_CSRF in request:
        response.set_cookie(CSRF_COOKIE, request[ANON_CSRF], httponly=True,
                            samesite="Strict", secure=state.tls, path="/")
    return response


ERROR_TITLES = {400: N_("Bad request"), 401: N_("Sign-in needed"), 403: N_("Not allowed"),
                404: N_("Not found"), 405: N_("Not allowed"), 409: N_("Conflict"),
                429: N_("Too many attempts"), 500: N_("Something went wrong"),
                502: N_("Another state did not answer"), 503: N_("Not available"),
                504: N_("Another state did not answer in time")}


def error_page(request: web.Request, status: int, message: str) -> web.Response:
    """An error in the site's layout; `message` is translated when the catalogue has it."""
    return render(request, "error.html", {"status": status, "message": message},
                  status=status, title=ERROR_TITLES.get(status, N_("Error")),
                  help_section="errors")


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
                return error_page(request, 401, translate(request, N_("Please sign in first.")))
            if roles and session.user.role not in roles:
                allowed = ", ".join(translate(request, ROLE_LABELS[r]) for r in roles)
                message = translate(request, N_("This page is for: %(allowed)s. You are "
                                                "signed in as %(role)s."))
                return error_page(request, 403, message % {
                    "allowed": allowed,
                    "role": translate(request, ROLE_LABELS[session.user.role])})
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
    except web.HTTPNotFound:
        return error_page(request, 404, translate(request, N_(
            "There is no page at this address. It may have moved, or the link may be "
            "mistyped.")))
    except web.HTTPMethodNotAllowed:
        return error_page(request, 405, translate(request, N_(
            "This address cannot be used that way. Go back and use the page's own links "
            "and buttons.")))
    except web.HTTPForbidden:
        return error_page(request, 403, translate(request, N_(
            "You are not allowed to see this page.")))
    except web.HTTPException:
        raise
    except Exception:
        log.exception("page %s failed", request.path)
        return error_page(request, 500, translate(request, N_(
            "The page could not be shown because of an error on this node. It has been "
            "logged; try again, or tell your operator if it keeps happening.")))


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
        message = N_("This form was not sent by this site or has expired. "
                     "Go back, reload the page and try again.")
        if request.get(SESSION_ENDED):
            message = N_("Your session has ended. Please sign in again.")
        return error_page(request, 403, translate(request, message))
    return await handler(request)


# ---- setup -------------------------------------------------------------------------------

def make_env() -> jinja2.Environment:
    """Templates with autoescaping and Jinja2's i18n extension (`_()`, `{% trans %}`).

    The gettext callables read the language `render` makes current, so one environment
    serves every language; see `node.web.i18n`.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    i18n.install(env)
    env.filters["credits"] = lambda v: i18n.format_number(v, 2)
    env.filters["dash"] = lambda v: (
        "—" if v in (None, "") or isinstance(v, jinja2.Undefined) else v)
    return env


async def dummy_hash_startup(app: web.Application) -> None:
    from crypto.passwords import hash_password_async

    # verified against for unknown users, so they cost the same time as known ones
    app[WEB].dummy_hash = await hash_password_async(secrets.token_urlsafe(24))


def add_nav(app: web.Application, href: str, label: str, *roles: str) -> None:
    """Show a link in the top navigation to users of `roles` (`label`: a catalogue string)."""
    app[WEB].nav.append((href, label, roles))


async def switch_language(request: web.Request) -> web.StreamResponse:
    """`POST /language` (CSRF-checked like every form): remember the choice in a cookie."""
    form = await request.post()
    lang = form.get("lang", "")
    target = form.get("next", "/")
    if not isinstance(target, str) or not target.startswith("/") or target.startswith("//") \
            or "\\" in target or "\n" in target or "\r" in target:
        target = "/"
    response = web.HTTPSeeOther(target)
    if isinstance(lang, str) and lang in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, httponly=True, samesite="Strict",
                            secure=request.app[WEB].tls, path="/",
                            max_age=365 * 24 * 3600)
    raise response
