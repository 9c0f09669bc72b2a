"""`statenode audit ...`: export, verify, cross-check, receipt, history, discover,
checkpoint.

Spec: DESIGN.md "Audit log" (auditor tools). `verify` and `cross-check` need no node,
config or database: only export folders (written by `export`) and, optionally, the keys
the auditor trusts (`--authority-key`, `--witness-key`). `verify` exits 0 when the export
verifies and 1 with one line per problem otherwise.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import click

from config import load_config
from config.schema import NodeConfig
from node.audit.exchange_log import ExchangeLog
from node.audit.export_files import decode_key, load_entries, verify_folder
from node.cli import cli, config_option
from node.directory.identity import load_keys
from node.errors import NotFound
from node.services import open_exchange_log
from protocol.audit_verify import cross_check


def open_log(cfg: NodeConfig) -> ExchangeLog:
    return open_exchange_log(cfg, load_keys(cfg))


def authority_key_of(cfg: NodeConfig) -> bytes | None:
    if not cfg.directory.authority_key:
        return None
    return base64.b64decode(cfg.directory.authority_key)


@cli.group()
def audit() -> None:
    """Verify and export the signed exchange log."""


@audit.command("export")
@config_option
@click.argument("out", type=click.Path(file_okay=False))
def export_cmd(config_path: str, out: str) -> None:
    """Sign a checkpoint and write the log as an auditor's folder OUT."""
    cfg = load_config(config_path)
    snapshot = cfg.directory.cached_snapshot()
    if not snapshot:
        raise NotFound(f"{cfg.directory.cache_file}: no cached directory snapshot to include "
                       "(directory.cache_file); refresh the directory first")
    log = open_log(cfg)
    try:
        log.sign_checkpoint()
        n = log.export(out, snapshot, authority_key_of(cfg))
    finally:
        log.close()
    click.echo(f"exported {n} entries of {cfg.node.id}'s exchange log to {out}")


@audit.command("verify")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--witness-key", "witness_keys", multiple=True, metavar="VKEY",
              help="A witness's cosigner key (name+id+base64) that must have cosigned.")
@click.option("--authority-key", default=None, metavar="BASE64",
              help="The federation authority's public key (default: the export's copy).")
@click.option("--jobs", default=None, type=click.IntRange(1, 256),
              help="Processes for the per-entry signature checks [default: every core this "
                   "process may use].")
@click.option("--min-witnesses", default=0, show_default=True, type=click.IntRange(0, 100),
              help="Verified witness cosignatures the latest checkpoint must carry.")
def verify_cmd(folder: str, witness_keys: tuple[str, ...], authority_key: str | None,
               jobs: int | None, min_witnesses: int) -> None:
    """Verify an export FOLDER offline; exit 1 with one line per problem."""
    try:
        authority = None if authority_key is None else decode_key(authority_key,
                                                                  "--authority-key")
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if jobs is None:
        jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
            os.cpu_count() or 1)
    problems = verify_folder(folder, witness_keys, authority, jobs=jobs,
                             min_witnesses=min_witnesses)
    if problems:
        for p in problems:
            click.echo(str(p))
        click.echo(f"FAILED: {len(problems)} problem(s) in {folder}", err=True)
        raise SystemExit(1)
    if authority is None:
        click.echo("note: the directory was checked with the authority key stored in the "
                   "export; pass --authority-key to pin your own copy", err=True)
    entries = sum(1 for _ in (Path(folder) / "entries.jsonl").open())
    click.echo(f"OK: {entries} entries verify against the signed checkpoint")


@audit.command("cross-check")
@click.argument("a", type=click.Path(exists=True, file_okay=False))
@click.argument("b", type=click.Path(exists=True, file_okay=False))
def cross_check_cmd(a: str, b: str) -> None:
    """Report exchanges that export A logged and export B did not, or logged differently."""
    try:
        a_node, a_entries = load_entries(a)
        b_node, b_entries = load_entries(b)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    diffs = cross_check(a_entries, a_node, b_entries, b_node)
    for d in diffs:
        click.echo(str(d))
    if diffs:
        click.echo(f"{len(diffs)} difference(s) between {a_node} and {b_node}", err=True)
        raise SystemExit(1)
    click.echo(f"OK: {a_node} and {b_node} logged the same exchanges")


@audit.command("receipt")
@config_option
@click.option("--index", required=True, type=click.IntRange(0))
def receipt_cmd(config_path: str, index: int) -> None:
    """Print a C2SP tlog-proof@v1 receipt for entry INDEX."""
    log = open_log(load_config(config_path))
    try:
        click.echo(log.receipt(index), nl=False)
    finally:
        log.close()


@audit.command("history")
@config_option
@click.option("--student", required=True, metavar="STATE_STUDENT_ID")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def history_cmd(config_path: str, student: str, as_json: bool) -> None:
    """List every logged exchange that disclosed this student's data."""
    log = open_log(load_config(config_path))
    try:
        rows = log.history(student)
    finally:
        log.close()
    for r in rows:
        if as_json:
            click.echo(json.dumps(r))
        else:
            click.echo(f"{r['index']:>8}  {r['time_ms']}  {r['direction']:<3} {r['peer']}  "
                       f"{r['type']:<12} {r['purpose']:<14} {r['user_id'] or '-'} "
                       f"({r['user_role'] or '-'})")
    if not rows:
        click.echo(f"no logged disclosure of student {student}", err=True)


@audit.command("discover")
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def discover_cmd(config_path: str, as_json: bool) -> None:
    """Per peer, the discover messages it sent this node (OPRF evaluations of our filter's
    keys it asked for), and how many were refused: a peer probing the filter shows here."""
    from node.matching.discover_keys import DISCOVER_ELEMENTS

    log = open_log(load_config(config_path))
    try:
        rows = log.discover_probes()
    finally:
        log.close()
    for r in rows:
        r["elements"] = r["discovers"] * DISCOVER_ELEMENTS
        if as_json:
            click.echo(json.dumps(r))
        else:
            click.echo(f"{r['peer']}  {r['discovers']} discover message(s), {r['elements']} "
                       f"OPRF evaluations asked, {r['refused']} refused  "
                       f"(from {r['first_ms']} to {r['last_ms']})")
    if not rows:
        click.echo("no discover message received", err=True)


@audit.command("checkpoint")
@config_option
@click.option("--sign", is_flag=True, help="Sign a checkpoint of the current log first.")
def checkpoint_cmd(config_path: str, sign: bool) -> None:
    """Print the latest signed checkpoint (with cosignatures)."""
    log = open_log(load_config(config_path))
    try:
        click.echo(log.sign_checkpoint() if sign else log.latest_checkpoint(), nl=False)
    finally:
        log.close()
