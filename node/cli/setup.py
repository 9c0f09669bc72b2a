"""`statenode init`, `statenode keys show`, `statenode serve`."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import click

from config import load_config
from config.load import US_STATES
from node import clock
from node.cli import cli, config_option
from node.directory.identity import ensure_keys, load_keys
from node.ops.node_folder import node_info, write_node


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--state", required=True, help="USPS code of the state, e.g. TX.")
@click.option("--name", default="", help="Human name of the state or agency.")
@click.option(
    "--endpoint",
    default="http://127.0.0.1:0",
    show_default=True,
    help="URL peers will use to reach this node (port 0: chosen at start).",
)
@click.option(
    "--directory-url", "directory_urls", multiple=True, help="Directory URL (repeatable)."
)
@click.option("--authority-key", default="", help="Base64 public key of the federation authority.")
@click.option("--origin", default=None,
              help="Origin of the exchange log, a schema-less URL "
                   "[default: <endpoint host>/<STATE>/log].")
def init(
    folder: Path,
    state: str,
    name: str,
    endpoint: str,
    directory_urls: tuple[str, ...],
    authority_key: str,
    origin: str | None,
) -> None:
    """Create a new node in FOLDER: node.toml, keys/ (mode 0600) and node.db."""
    state = state.upper()
    if state not in US_STATES:
        raise click.BadParameter(f"not a USPS state code: {state!r}", param_hint="--state")
    path = write_node(
        folder,
        state=state,
        name=name or state,
        endpoint=endpoint,
        directory_urls=directory_urls,
        authority_key=authority_key,
        origin=origin,
    )
    click.echo(f"created node {state} in {folder}")
    _print_keys(str(path), as_json=False)


def _print_keys(config_path: str, *, as_json: bool, legacy: bool = False) -> None:
    info = node_info(config_path, legacy=legacy)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    cfg = load_config(config_path)
    keys = load_keys(cfg)
    click.echo(f"node:           {info['node_id']} ({info['name']})")
    click.echo(f"endpoint:       {info['endpoints'][0]}")  # type: ignore[index]
    click.echo(f"signing key:    {info['signing_key']}")
    click.echo(f"signing key id: {info['key_id']}")
    if "tls_cert_sha256" in info:
        click.echo(f"TLS pin:        {info['tls_cert_sha256']} (SHA-256 of the cert's SPKI)")
    import time

    now = clock.now()
    for e in keys.published(now):
        state = "current" if e is keys.current(now) else "next"
        pub = base64.b64encode(keys.encryption[e.key_id].public).decode()
        until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(e.valid_until))
        click.echo(f"encryption key: {pub} id {e.key_id} ({state}, valid until {until})")
    for e in keys.published_hybrid(now):
        state = "current" if e is keys.published_hybrid(now)[0] else "next"
        until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(e.valid_until))
        click.echo(f"hybrid key:     MLKEM768-X25519 id {e.key_id} ({state}, valid until "
                   f"{until})")
    click.echo(f"log origin:     {cfg.log_origin}")
    if "witness_key" in info:
        click.echo(f"witness key:    {info['witness_name']} {info['witness_key']}")


@cli.group()
def keys() -> None:
    """Show and manage the node's keys."""


@keys.command("show")
@config_option
@click.option(
    "--json", "as_json", is_flag=True, help="Print the node-info document for enrollment."
)
@click.option(
    "--legacy", is_flag=True,
    help="With --json: leave out the log origin, witness key and features, for an authority "
         "one release behind.")
def keys_show(config_path: str, as_json: bool, legacy: bool) -> None:
    """Print the node's public keys and key ids (making the hybrid and witness keys of this
    release first if the key folder is from an older one)."""
    _print_keys(config_path, as_json=as_json, legacy=legacy)


_TASKS: set[object] = set()  # keep a reference to background tasks


def _bound(cfg: object, url: str, app: object, token: str) -> None:
    """Once bound: write control.json and announce on the LAN at the real port."""
    import asyncio

    from node.appkeys import DISCOVERY
    from node.control.api import write_control_file
    write_control_file(cfg, url, token)  # type: ignore[arg-type]
    disc = app.get(DISCOVERY)  # type: ignore[attr-defined]
    announced = cfg.server.port or cfg.server.public_url  # type: ignore[attr-defined]
    if disc is not None and not announced:
        _TASKS.add(asyncio.ensure_future(disc.announce(int(url.rsplit(":", 1)[1]))))


@cli.command()
@config_option
@click.option("--port", type=int, default=None, help="Override server.port (0: any free port).")
@click.option("--host", default=None, help="Override server.host.")
def serve(config_path: str, port: int | None, host: str | None) -> None:
    """Run the node service until Ctrl-C."""
    from node.app import create_app, server_ssl_context
    from node.appkeys import TOKEN
    from node.file_modes import tighten
    from node.ops.logs import setup_logging
    from node.ops.serve import serve_forever

    cfg = load_config(config_path)
    setup_logging(cfg)
    import logging

    for made in ensure_keys(cfg):  # the key-folder migration of this release
        logging.getLogger("statenode.keys").warning("made %s (new in this release)", made)
    tighten(cfg)  # files others can read are made owner-only (or the node refuses to run)
    keys = load_keys(cfg)  # fail fast, before binding, on a bad key file
    serve_forever(
        lambda: create_app(cfg, keys=keys),
        host or cfg.server.host,
        cfg.server.port if port is None else port,
        ssl_context=server_ssl_context(cfg),
        on_bound=lambda url, app: _bound(cfg, url, app, app[TOKEN]),
    )
    sys.stdout.flush()
