"""`statenode directory ...`: the federation authority's commands.

Spec: DESIGN.md "Discovery" and "Who uses it" (federation authority); the
operations themselves live in `node.authority.registry`, the HTTP service in
`node.authority.web_service`. Every change prints the new snapshot serial.
"""

from __future__ import annotations

import base64
import json
import sys
import time
from pathlib import Path

import click

from node.authority.registry import Authority, entry_summary
from node.authority.settings import init_authority
from node.cli import cli

dir_config_option = click.option(
    "-c", "--config", "config_path", required=True, type=click.Path(dir_okay=False),
    help="Path to the authority's directory.toml.",
)


@cli.group()
def directory() -> None:
    """Run the federation directory: enroll, suspend and revoke nodes; serve snapshots."""


@directory.command("init")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", default="federation authority", show_default=True,
              help="Human name of the authority.")
def init_cmd(folder: Path, name: str) -> None:
    """Create the authority's key and directory.toml in FOLDER."""
    cfg_path, public = init_authority(folder, name=name)
    click.echo(f"created directory authority in {folder} ({cfg_path})")
    click.echo("authority key (give it to every node as directory.authority_key):")
    click.echo(base64.b64encode(public).decode())


@directory.command("show-key")
@dir_config_option
def show_key(config_path: str) -> None:
    """Print the authority's public key (base64), the nodes' trust anchor."""
    click.echo(base64.b64encode(Authority.open(config_path).public_key).decode())


@directory.command("enroll")
@dir_config_option
@click.argument("node_info", type=click.Path(dir_okay=False))
@click.option("--replace", is_flag=True, help="Replace an existing entry for this node.")
def enroll(config_path: str, node_info: str, replace: bool) -> None:
    """Enroll the node described by NODE_INFO (from `statenode keys show --json`)."""
    info, serial = Authority.open(config_path).enroll_file(node_info, replace=replace)
    click.echo(f"enrolled {info.node_id} ({info.name}) key {info.key_id}; "
               f"directory serial {serial}")


def _status_command(name: str, verb: str) -> None:
    @directory.command(name, help=f"{verb.capitalize()} NODE (a USPS code) in the directory.")
    @dir_config_option
    @click.argument("node")
    def command(config_path: str, node: str) -> None:
        serial = getattr(Authority.open(config_path), name)(node)
        click.echo(f"{verb} {node.upper()}; directory serial {serial}")


_status_command("suspend", "suspended")
_status_command("reinstate", "reinstated")
_status_command("revoke", "revoked")


@directory.command("set-endpoints")
@dir_config_option
@click.argument("node")
@click.argument("urls", nargs=-1, required=True)
def set_endpoints(config_path: str, node: str, urls: tuple[str, ...]) -> None:
    """Replace NODE's endpoint URLs."""
    serial = Authority.open(config_path).set_endpoints(node, list(urls))
    click.echo(f"set endpoints of {node.upper()}; directory serial {serial}")


@directory.command("announce-key")
@dir_config_option
@click.argument("node")
@click.option("--next-signing-key", required=True, help="Base64 Ed25519 public key.")
def announce_key(config_path: str, node: str, next_signing_key: str) -> None:
    """Announce NODE's next signing key (accepted alongside the current one)."""
    serial = Authority.open(config_path).announce_key(node, next_signing_key)
    click.echo(f"announced the next signing key of {node.upper()}; directory serial {serial}")


@directory.command("promote-key")
@dir_config_option
@click.argument("node")
def promote_key(config_path: str, node: str) -> None:
    """Make NODE's announced next signing key its only key."""
    serial = Authority.open(config_path).promote_key(node)
    click.echo(f"promoted the next signing key of {node.upper()}; directory serial {serial}")


@directory.command("list")
@dir_config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_cmd(config_path: str, as_json: bool) -> None:
    """List enrolled nodes with status and key id."""
    serial, entries = Authority.open(config_path).entries()
    if as_json:
        click.echo(json.dumps({"serial": serial,
                               "entries": [entry_summary(e) for e in entries]}, indent=2))
        return
    click.echo(f"directory serial {serial}, {len(entries)} node(s)")
    for e in entries:
        until = time.strftime("%Y-%m-%d", time.gmtime(e.valid_until_ms / 1000))
        nxt = " (next key announced)" if e.next_signing_key else ""
        click.echo(f"{e.node_id}  {e.status:<9}  key {e.key_id}{nxt}  until {until}  "
                   f"{' '.join(e.endpoints)}  {e.name}")


@directory.command("serve")
@dir_config_option
@click.option("--port", type=int, default=None, help="Override server.port (0: any free port).")
@click.option("--host", default=None, help="Override server.host.")
def serve(config_path: str, port: int | None, host: str | None) -> None:
    """Serve the signed directory snapshot until Ctrl-C."""
    from node.authority.web_service import create_authority_app
    from node.ops.serve import serve_forever

    authority = Authority.open(config_path)
    authority.current_snapshot()  # fail fast (key file, state) before binding
    serve_forever(lambda: create_authority_app(authority), host or authority.cfg.host,
                  authority.cfg.port if port is None else port)
    sys.stdout.flush()
