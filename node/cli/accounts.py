"""`statenode users add|disable|enable|deactivate|list`: web UI accounts (node.store.accounts).

Passwords come from a prompt (asked twice, never echoed) or from `--password-file`
(first line; the file should be mode 0600). Disable is temporary; deactivate is
permanent and keeps the user's history (MSIX.md §1.3).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

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


@users.command("add")
@config_option
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(accounts.ROLES),
              help="What the user may do.")
@click.option("--password-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Read the password from the first line of this file instead of a prompt.")
def add(config_path: str, username: str, role: str, password_file: Path | None) -> None:
    """Add USERNAME with a role and a password."""
    accounts.check_username(username)
    with _store(config_path) as store:
        if store.call(accounts.find_user, username) is not None:
            raise Conflict(f"user {username!r} already exists")
        password = _read_password(password_file, username)
        user = store.call(accounts.add_user, username, role, hash_password(password))
    click.echo(f"added user {user.username} ({user.role_label})")


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
        click.echo(f"{u.username:<{width}}  {u.role:<10}  {u.status:<11}  last sign-in {last}")
