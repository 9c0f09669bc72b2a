"""The `statenode` command line (click).

This module owns the root group, `--debug`, and the rule that every error of
our four packages ends as one readable line and exit code 1 (usage errors: 2),
with the traceback only under `--debug`. Subcommands live in sibling modules,
one per area, each registering on `cli`:

- `setup`      init, keys, serve
- `data`       import, demo-data, reports recompute
- `directory`  directory init, enroll, suspend, revoke, list, serve
- `federation` find, fetch, notify-move, inbox, demo
- `matching`   worklist, link ...
- `audit`      audit ...
- `accounts`   users ...
- `operations` doctor, backup
"""

from __future__ import annotations

import traceback
from typing import Any

import click

from config.errors import ConfigError
from crypto.errors import CryptoError
from node.errors import NodeError
from protocol.errors import ProtocolError

OUR_ERRORS = (ConfigError, CryptoError, ProtocolError, NodeError)


class StatenodeGroup(click.Group):
    """A click group that turns our errors into one line on stderr."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OUR_ERRORS as exc:
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)
        except OSError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"error: {where}{exc.strerror or exc}", err=True)
            ctx.exit(1)


@click.group(cls=StatenodeGroup)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(package_name="statenode")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """statenode: a state's node in the migrant student record exchange."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


config_option = click.option(
    "-c",
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Path to the node's node.toml.",
)


def _register() -> None:
    import importlib

    for name in ("setup", "data", "directory", "federation", "matching", "audit", "accounts",
                 "operations", "tls"):
        try:
            importlib.import_module(f"node.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"node.cli.{name}":
                raise


_register()


def main() -> None:
    from node.file_modes import restrict_umask

    restrict_umask()  # whatever a statenode process creates is owner-only (issue 12)
    cli(obj={}, prog_name="statenode")


if __name__ == "__main__":
    main()
