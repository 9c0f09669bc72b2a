"""People (issue 15 item 6): operators change roles, edit a user's full name, school or
district, e-mail and phone, and reset a password; everyone changes their own password.

A reset sets a one-time temporary password (shown once to the operator, never stored
nor logged) and marks the account: until its holder chooses a new password, every page
sends them to `/account/password` first (`forced_change`, a middleware added after the
framework's session middleware, so it sees the signed-in user). Role changes, profile
changes and resets are written to `account_events` with who did them
(`node.store.accounts`). The users page itself is `local_pages`'.
"""

from __future__ import annotations

from aiohttp import web

from crypto.passwords import hash_password_async, verify_password_async
from node.errors import BadRequest, Conflict, NotFound
from node.store import accounts
from node.web import local_pages, people_names
from node.web.report_output import passthrough_gettext
from node.web.site import Handler, current_session, render, requires, run_db

CHANGE_PATH = "/account/password"
ALLOWED_WHILE_FORCED = frozenset({CHANGE_PATH, "/logout", "/login"})


@web.middleware
async def forced_change(request: web.Request, handler: Handler) -> web.StreamResponse:
    session = current_session(request)
    if (session is not None and session.user.must_change_password
            and request.path not in ALLOWED_WHILE_FORCED
            and not request.path.startswith("/static/")):
        raise web.HTTPSeeOther(CHANGE_PATH)
    return await handler(request)


def _actor(request: web.Request) -> str:
    session = current_session(request)
    assert session is not None
    return session.user.username


@requires("operator")
async def users_role(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", ""))
    role = str(form.get("role", ""))
    if username.lower() == _actor(request).lower():
        return await local_pages._users_page(request, status=400,
                                             error="You cannot change your own role.")
    try:
        user = await run_db(request, accounts.set_role, username, role, actor=_actor(request))
    except (BadRequest, NotFound, Conflict) as exc:
        return await local_pages._users_page(request, status=exc.status,
                                             error=str(exc).capitalize() + ".")
    return await local_pages._users_page(
        request, message=f"{user.display_name} is now {user.role_label}.")


@requires("operator")
async def users_profile(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", ""))
    try:
        user = await run_db(request, accounts.set_profile, username, actor=_actor(request),
                            **{k: str(form.get(k, "")) for k in
                               ("full_name", "school", "email", "phone")})
    except (BadRequest, NotFound) as exc:
        return await local_pages._users_page(request, status=exc.status,
                                             error=str(exc).capitalize() + ".")
    return await local_pages._users_page(request, message=f"Saved {user.display_name}.")


@requires("operator")
async def users_reset(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", ""))
    if username.lower() == _actor(request).lower():
        return await local_pages._users_page(
            request, status=400, error="Change your own password on the Password page.")
    temporary = accounts.temporary_password(username)
    phc = await hash_password_async(temporary)
    try:
        user = await run_db(request, accounts.reset_password, username, phc,
                            actor=_actor(request))
    except (NotFound, Conflict) as exc:
        return await local_pages._users_page(request, status=exc.status,
                                             error=str(exc).capitalize() + ".")
    return await local_pages._users_page(
        request, message=f"Password of {user.display_name} reset. Give them this temporary "
        "password (shown once); they must choose a new one when they next sign in:",
        temporary=temporary)


async def _change_page(request: web.Request, *, status: int = 200, error: str = "",
                       message: str = "") -> web.Response:
    session = current_session(request)
    assert session is not None
    return render(request, "account_password.html", {
        "forced": session.user.must_change_password, "error": error, "message": message,
        "min_length": accounts.MIN_PASSWORD_LENGTH}, status=status, title="Change password")


@requires()
async def change_form(request: web.Request) -> web.StreamResponse:
    return await _change_page(request)


@requires()
async def change(request: web.Request) -> web.StreamResponse:
    session = current_session(request)
    assert session is not None
    form = await request.post()
    current = str(form.get("current", ""))[:accounts.MAX_PASSWORD_LENGTH + 1]
    new = str(form.get("password", ""))
    found = await run_db(request, accounts.password_hash_of, session.user.username)
    assert found is not None
    try:
        await verify_password_async(current, found[1])
    except Exception:  # a mismatch or a hash that does not parse: the same answer
        return await _change_page(request, status=400,
                                  error="The current password is not right.")
    try:
        if new != str(form.get("password2", "")):
            raise BadRequest("the two new passwords differ")
        if new == current:
            raise BadRequest("choose a password other than the current one")
        accounts.check_password(new, session.user.username)
    except BadRequest as exc:
        return await _change_page(request, status=400, error=str(exc).capitalize() + ".")
    phc = await hash_password_async(new)
    await run_db(request, accounts.set_password, session.user.username, phc,
                 keep_session=session.token_hash, chosen=True)
    await run_db(request, accounts.log_event, session.user.username, session.user.username,
                 "password changed")
    raise web.HTTPSeeOther("/?password=changed")


def setup(app: web.Application) -> None:
    passthrough_gettext(app)
    people_names.setup(app)
    app.middlewares.append(forced_change)
    app.router.add_post("/users/role", users_role, name="users_role")
    app.router.add_post("/users/profile", users_profile, name="users_profile")
    app.router.add_post("/users/reset-password", users_reset, name="users_reset")
    app.router.add_get(CHANGE_PATH, change_form, name="account_password")
    app.router.add_post(CHANGE_PATH, change, name="account_password_post")
