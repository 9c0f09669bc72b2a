"""`statenode users add|set|reset-password|disable|enable|deactivate|list`: web UI accounts
(node.store.accounts).

Users are people: `--full-name`, `--school` (or district), `--email`, `--phone` on `add`
and `set` (each checked, the error naming the field); `set --role` changes the role;
`reset-password` prints a one-time temporary password that must be changed at the next
sign-in (the reset is logged in `account_events`, never the password).

Passwords come from a prompt (asked twice, never echoed) or from `--password-file`
(first line; the file should be mode 0600). Disable is temporary; deactivate is
permanent and keeps the user's history (MSIX.md §1.3).
"""

from __future__ import annotations

import functools
import getpass
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from config import load_config
from crypto.passwords import hash_password
from node.cli import cli, config_option
from node.errors import BadRequest, Conflict
from node.store import accounts

if TYPE_CHECKING:
    from node.store.database import Store


def _store(config_path: str) -> Store:
    from node.store.database import Store

    store = Store(load_config(config_path).storage.database)
    store.call(accounts.apply_migrations)
    return store


def _read_password(password_file: Path | None, username: str) -> str:
    if password_file is not None:
        try:
            lines = password_file.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise BadRequest(f"{password_file}: not UTF-8 text") from exc
        password = lines[0] if lines else ""
    else:
        password = click.prompt(f"Password for {username}", hide_input=True,
                                confirmation_prompt=True)
    try:
        accounts.check_password(password, username)
    except BadRequest as exc:
        where = f"{password_file}: " if password_file else ""
        raise BadRequest(f"{where}{exc}") from None
    return password


@cli.group()
def users() -> None:
    """Manage the people who may sign in to the web UI."""


def _profile_options(fn: Any) -> Any:
    for name, text in (("--phone", "Phone number, e.g. +1 512 555 0100."),
                       ("--email", "E-mail address."),
                       ("--school", "School or district the user works for."),
                       ("--full-name", "The person's full name (shown in history).")):
        fn = click.option(name, default=None, help=text)(fn)
    return fn


@users.command("add")
@config_option
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(accounts.ROLES),
              help="What the user may do.")
@click.option("--password-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Read the password from the first line of this file instead of a prompt.")
@_profile_options
def add(config_path: str, username: str, role: str, password_file: Path | None,
        full_name: str | None, school: str | None, email: str | None,
        phone: str | None) -> None:
    """Add USERNAME with a role, a password and their details."""
    accounts.check_username(username)
    profile = accounts.check_profile(full_name=full_name or "", school=school or "",
                                     email=email or "", phone=phone or "")
    with _store(config_path) as store:
        if store.call(accounts.find_user, username) is not None:
            raise Conflict(f"user {username!r} already exists")
        password = _read_password(password_file, username)
        user = store.call(functools.partial(
            accounts.add_user, full_name=profile["full_name"], school=profile["school"],
            email=profile["email"], phone=profile["phone"]), username, role,
            hash_password(password))
    named = f", {user.display_name}" if user.display_name != user.username else ""
    click.echo(f"added user {user.username} ({user.role_label}){named}")


@users.command("set")
@config_option
@click.argument("username")
@click.option("--role", default=None, type=click.Choice(accounts.ROLES), help="A new role.")
@_profile_options
def set_(config_path: str, username: str, role: str | None, full_name: str | None,
         school: str | None, email: str | None, phone: str | None) -> None:
    """Change USERNAME's role or details (only the options given)."""
    accounts.check_profile(full_name=full_name, school=school, email=email, phone=phone)
    actor = f"cli:{getpass.getuser()}"
    with _store(config_path) as store:
        user = store.call(accounts.get_user, username)
        if role is not None:
            user = store.call(functools.partial(accounts.set_role, actor=actor), username, role)
        if any(v is not None for v in (full_name, school, email, phone)):
            user = store.call(functools.partial(
                accounts.set_profile, actor=actor, full_name=full_name, school=school,
                email=email, phone=phone), username)
    click.echo(f"user {user.username}: {user.display_name}, {user.role_label}"
               + (f", {user.email}" if user.email else "")
               + (f", {user.phone}" if user.phone else ""))


@users.command("reset-password")
@config_option
@click.argument("username")
def reset_password(config_path: str, username: str) -> None:
    """Give USERNAME a one-time temporary password, to be changed at the next sign-in."""
    with _store(config_path) as store:
        store.call(accounts.get_user, username)
        temporary = accounts.temporary_password(username)
        user = store.call(functools.partial(accounts.reset_password,
                                            actor=f"cli:{getpass.getuser()}"),
                          username, hash_password(temporary))
    click.echo(f"temporary password for {user.username} (shown once; they must choose a "
               f"new one when they next sign in): {temporary}")


def _set(config_path: str, username: str, status: str) -> None:
    with _store(config_path) as store:
        user = store.call(accounts.set_status, username, status)
    click.echo(f"user {user.username} is now {user.status}")


@users.command("disable")
@config_option
@click.argument("username")
def disable(config_path: str, username: str) -> None:
    """Stop USERNAME from signing in, for now (enable undoes it)."""
    _set(config_path, username, "disabled")


@users.command("enable")
@config_option
@click.argument("username")
def enable(config_path: str, username: str) -> None:
    """Let a disabled USERNAME sign in again."""
    _set(config_path, username, "active")


@users.command("deactivate")
@config_option
@click.argument("username")
@click.confirmation_option(prompt="Deactivation is permanent and the name cannot be reused. "
                                  "Continue?")
def deactivate(config_path: str, username: str) -> None:
    """Close USERNAME's account for good (the name and history are kept)."""
    _set(config_path, username, "deactivated")


@users.command("list")
@config_option
def list_(config_path: str) -> None:
    """List users, their roles and status."""
    with _store(config_path) as store:
        rows = store.call(accounts.list_users)
    if not rows:
        click.echo("no users yet; add one with: statenode users add -c CONFIG NAME --role ROLE")
        return
    width = max(len(u.username) for u in rows)
    for u in rows:
        last = (time.strftime("%Y-%m-%d %H:%M", time.localtime(u.last_login_at))
                if u.last_login_at else "never")
        details = " | ".join(x for x in (u.full_name, u.school, u.email, u.phone) if x)
        flag = "  must change password" if u.must_change_password else ""
        click.echo(f"{u.username:<{width}}  {u.role:<10}  {u.status:<11}  last sign-in {last}"
                   f"  {details}{flag}")
