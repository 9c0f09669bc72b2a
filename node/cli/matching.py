"""`statenode worklist` and `statenode link confirm|validate|reject|revoke|list|show|fetch`.

The near-match worklist and cross-state links (DESIGN.md "Identity matching"; MSIX.md
§1.3: a link takes effect only after a second data administrator validates it). The
commands call the running node's local control API (`node.control.link_routes`), because
validating or revoking a link sends a `link` message to the other state.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click

from config import load_config
from node.cli import cli, config_option
from node.control.client import call

_ADMIN_NAME = click.option(
    "--admin", required=True,
    help="User name of the data administrator acting (a data_admin account).")
_ADMIN_PASSWORD = click.option(
    "--password-file", type=click.Path(dir_okay=False, exists=True), default=None,
    help="File holding the administrator's password (default: ask for it).")


def ADMIN(fn: Any) -> Any:
    """--admin and --password-file: each action is taken by a proven administrator."""
    return _ADMIN_NAME(_ADMIN_PASSWORD(fn))


def _who(admin: str, password_file: str | None) -> dict[str, str]:
    """The acting administrator and their password (the two-person rule needs two people,
    so the node checks each administrator's own password)."""
    if password_file:
        with open(password_file, encoding="utf-8") as f:
            password = f.read().strip()
    else:
        password = click.prompt(f"password of {admin}", hide_input=True)
    return {"admin": admin, "password": password}


def _name(d: dict[str, Any]) -> str:
    parts = [d.get("first_name"), d.get("middle_name"), d.get("last_name_1"),
             d.get("last_name_2")]
    return " ".join(str(p) for p in parts if p)


def _when(ms: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ms / 1000)) if ms else "-"


def _print_link(link: dict[str, Any]) -> None:
    anchor = (f" + {link['anchor_peer']}:{link['anchor_record']}"
              if link.get("anchor_peer") else "")
    local = f" local {link['local_record']}" if link.get("local_record") else ""
    click.echo(f"link {link['id']}  {link['status']:<14} {link['direction']:<3} "
               f"{link['peer']}:{link['peer_record']}{anchor}{local}  "
               f"asserted by {link['asserted_by']}"
               + (f", validated by {link['validated_by']}" if link.get("validated_by") else "")
               + (f", ended by {link['ended_by']}" if link.get("ended_by") else ""))


@cli.command()
@config_option
@click.option("--status", type=click.Choice(["open", "confirmed", "rejected", "all"]),
              default="open", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the items as JSON.")
def worklist(config_path: str, status: str, as_json: bool) -> None:
    """List near matches from this node's finds waiting for a data administrator, the one
    waiting longest first (a search without birth date and id queues none by itself)."""
    items = call(load_config(config_path), f"/local/v1/worklist?status={status}")
    if as_json:
        click.echo(json.dumps(items, indent=2, ensure_ascii=False))
        return
    if not items:
        click.echo(f"no {status} worklist items" if status != "all" else "the worklist is empty")
        return
    for item in items:
        cand, query = item["candidate"], item["query"]
        asked = (f"asked {_when(item.get('asked_ms'))} by {item['asked_by']}"
                 if item.get("asked_by") else f"found by {item['requested_by']}")
        click.echo(f"item {item['id']}  [{item['status']}]  {item['peer']} handle "
                   f"{item['handle']}  score {item['score'] / 1000:.1f}  {asked}")
        click.echo(f"    searched: {_name(query)}  {query.get('birth_date', '?')}")
        click.echo(f"    candidate: {_name(cand)}  {cand.get('birth_date', '?')} "
                   f"{cand.get('sex', '')}")
        agreements = ", ".join(f"{k}={v}" for k, v in sorted(item["agreements"].items())
                               if v != "missing")
        click.echo(f"    agreement: {agreements}")


@cli.group()
def link() -> None:
    """Confirm near matches and validate, reject or revoke cross-state links."""


@link.command("confirm")
@config_option
@click.argument("item", type=int)
@ADMIN
@click.option("--local", "local_record", default=None,
              help="Our own state student id for this child, if we hold the child.")
@click.option("--comment", default=None)
def confirm(config_path: str, item: int, admin: str, password_file: str | None,
            local_record: str | None, comment: str | None) -> None:
    """Confirm worklist ITEM as the child searched for (first of two administrators)."""
    result = call(load_config(config_path), f"/local/v1/worklist/{item}/confirm",
                  {**_who(admin, password_file), "local_record": local_record,
                   "comment": comment})
    _print_link(result)
    click.echo(f"link {result['id']} waits for a second data administrator: "
               f"statenode link validate -c {config_path} {result['id']} --admin OTHER")


@link.command("reject-item")
@config_option
@click.argument("item", type=int)
@ADMIN
@click.option("--reason", default="")
def reject_item(config_path: str, item: int, admin: str, password_file: str | None,
                reason: str) -> None:
    """Reject worklist ITEM: the candidate is not the child searched for."""
    result = call(load_config(config_path), f"/local/v1/worklist/{item}/reject",
                  {**_who(admin, password_file), "reason": reason})
    click.echo(f"item {result['id']} is {result['status']}")


def _action(config_path: str, link_id: int, action: str, admin: str,
            password_file: str | None, reason: str = "") -> None:
    result = call(load_config(config_path), f"/local/v1/links/{link_id}/{action}",
                  {**_who(admin, password_file), "reason": reason})
    _print_link(result)


@link.command("validate")
@config_option
@click.argument("link_id", metavar="LINK", type=int)
@ADMIN
def validate(config_path: str, link_id: int, admin: str, password_file: str | None) -> None:
    """Validate LINK (a second administrator; the link then takes effect)."""
    _action(config_path, link_id, "validate", admin, password_file)


@link.command("reject")
@config_option
@click.argument("link_id", metavar="LINK", type=int)
@ADMIN
@click.option("--reason", default="")
def reject(config_path: str, link_id: int, admin: str, password_file: str | None,
           reason: str) -> None:
    """Reject a pending LINK (a peer's link: the peer is told)."""
    _action(config_path, link_id, "reject", admin, password_file, reason)


@link.command("revoke")
@config_option
@click.argument("link_id", metavar="LINK", type=int)
@ADMIN
@click.option("--reason", default="")
def revoke(config_path: str, link_id: int, admin: str, password_file: str | None,
           reason: str) -> None:
    """Revoke LINK; the other state is told and revokes it too."""
    _action(config_path, link_id, "revoke", admin, password_file, reason)


@link.command("list")
@config_option
@click.option("--status", type=click.Choice(["pending", "pending_remote", "active",
                                             "rejected", "revoked", "all"]), default="all",
              show_default=True)
@click.option("--json", "as_json", is_flag=True)
def list_(config_path: str, status: str, as_json: bool) -> None:
    """List links asserted here and received from other states."""
    result = call(load_config(config_path), f"/local/v1/links?status={status}")
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    if not result:
        click.echo("no links")
    for item in result:
        _print_link(item)


@link.command("show")
@config_option
@click.argument("link_id", metavar="LINK", type=int)
def show(config_path: str, link_id: int) -> None:
    """Show LINK with its history (who did what, when)."""
    result = call(load_config(config_path), f"/local/v1/links/{link_id}")
    _print_link(result)
    for ev in result["events"]:
        detail = f"  ({ev['detail']})" if ev["detail"] else ""
        click.echo(f"    {_when(ev['at_ms'])}  {ev['event']:<15} {ev['actor']}{detail}")
