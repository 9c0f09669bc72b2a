"""`statenode tls init` and `statenode tls show`: the node's TLS key, certificate and pin.

Spec: node.directory.tls_pinning (mutual TLS pinned by the directory, PROTOCOL-ANCHORS.md §1.3).
`init` writes a new P-256 key (mode 0600) and a self-signed certificate and
changes nothing else: it prints the `[server]` lines to add to node.toml and
the pin the federation authority enrolls (`keys show --json` carries it once
the lines are in).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import click

from config import load_config
from crypto.tls import generate_self_signed
from node.cli import cli, config_option
from node.directory.tls_pinning import own_pin
from node.errors import Conflict


@cli.group()
def tls() -> None:
    """TLS certificate of the node (mutual TLS between nodes)."""


@tls.command("init")
@config_option
@click.option("--host", "hosts", multiple=True,
              help="Host name or IP for the certificate (repeatable); default: from node.toml.")
@click.option("--days", default=825, show_default=True, type=click.IntRange(1, 3650),
              help="Validity of the certificate in days.")
def tls_init(config_path: str, hosts: tuple[str, ...], days: int) -> None:
    """Write a TLS key (0600) and a self-signed certificate for this node."""
    cfg = load_config(config_path)
    base = cfg.config_path.parent
    cert = cfg.server.tls_cert or base / "tls" / "cert.pem"
    key = cfg.server.tls_key or base / "tls" / "key.pem"
    for p in (cert, key):
        if p.exists():
            raise Conflict(f"{p}: already exists; refusing to overwrite it (remove it first "
                           "to make a new key, then enroll the new pin)")
    if not hosts:
        names = {cfg.server.host, "localhost", "127.0.0.1"}
        if cfg.server.public_url:
            names.add(urlsplit(cfg.server.public_url).hostname or "localhost")
        hosts = tuple(sorted(n for n in names if n and n not in ("0.0.0.0", "::")))  # noqa: S104
    from node.file_modes import private_dir

    private_dir(key.parent)
    private_dir(cert.parent)
    pin = generate_self_signed(key, cert, f"statenode {cfg.node.id}", days=days, hosts=hosts)
    click.echo(f"wrote {key} (mode 0600) and {cert}")
    click.echo(f"TLS pin (SHA-256 of the certificate's SPKI): {pin.hex()}")
    if cfg.server.tls_cert is None:
        click.echo("\nAdd to the [server] table of node.toml:")
        click.echo(f'tls_cert = "{_rel(cert, base)}"')
        click.echo(f'tls_key = "{_rel(key, base)}"')
        click.echo("require_client_cert = true")
        click.echo('and make public_url https://…; then run `statenode keys show --json` and '
                   "have the authority enroll it with --replace.")


def _rel(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


@tls.command("show")
@config_option
def tls_show(config_path: str) -> None:
    """Print the pin of the configured TLS certificate."""
    cfg = load_config(config_path)
    pin = own_pin(cfg)
    if pin is None:
        raise click.ClickException("server.tls_cert is not set in node.toml")
    click.echo(pin.hex())
