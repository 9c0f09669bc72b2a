"""`statenode doctor`, `backup`, `restore`, `keys rotate-signing` and `keys rotate-oprf`.

Spec: the issue "Reliability, security and operations" item 4; node/ops/doctor.py (checks),
node/ops/backup.py (online copy and restore), node/control/signing_rotation.py (key rotation through
the directory). Every command prints one readable line per fact; errors end as one line
and exit code 1 (node.cli).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from config import load_config
from node.cli import cli, config_option
from node.cli.setup import keys as keys_group
from node.ops.doctor import FAIL, OK, WARN, Check, run_checks, worst

_STYLE = {OK: ("OK  ", "green"), WARN: ("WARN", "yellow"), FAIL: ("FAIL", "red")}


def _print_check(c: Check) -> None:
    label, colour = _STYLE[c.status]
    click.echo(f"{click.style(label, fg=colour, bold=True)}  {c.area:<10} {c.message}")
    if c.fix and c.status != OK:
        click.echo(f"      {'':<10} fix: {c.fix}")


@cli.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.option("--thorough", is_flag=True,
              help="Run PRAGMA integrity_check instead of quick_check (slower on big databases).")
@click.option("--timeout", default=3.0, show_default=True, type=click.FloatRange(0.1, 60),
              help="Seconds to wait for each peer.")
def doctor(config_path: str, as_json: bool, thorough: bool, timeout: float) -> None:
    """Check this node (config, keys, directory, peers, clock, databases, disk) and explain
    each problem with its fix. Exit code 1 when any check fails."""
    checks = run_checks(config_path, timeout=timeout, thorough=thorough,
                        on_check=None if as_json else _print_check)
    overall = worst(checks)
    if as_json:
        click.echo(json.dumps({"status": overall, "checks": [asdict(c) for c in checks]},
                              indent=2))
    else:
        counts = {s: sum(c.status == s for c in checks) for s in (OK, WARN, FAIL)}
        click.echo(f"\n{counts[OK]} ok, {counts[WARN]} warning(s), {counts[FAIL]} failure(s)")
    if overall == FAIL:
        raise SystemExit(1)


@cli.command()
@config_option
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--include-keys", is_flag=True,
              help="Also copy the key files (mode 0600); see README before using it.")
def backup(config_path: str, out: Path, include_keys: bool) -> None:
    """Write a consistent online copy of the node's database and exchange log to OUT."""
    from node.ops.backup import backup as run_backup

    cfg = load_config(config_path)
    report = run_backup(cfg, out, include_keys=include_keys)
    click.echo(f"backed up node {cfg.node.id} to {report.folder}: {len(report.files)} files, "
               f"{report.log_entries} exchange log entries"
               + (" (keys included: keep this backup as safe as the node)"
                  if report.included_keys else " (keys not included)"))


@cli.command()
@config_option
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--with-keys", is_flag=True, help="Also restore the keys the backup holds.")
def restore(config_path: str, folder: Path, with_keys: bool) -> None:
    """Restore a backup FOLDER made by `statenode backup` (the node must be stopped)."""
    from node.ops.backup import restore as run_restore

    cfg = load_config(config_path)
    manifest = run_restore(cfg, folder, with_keys=with_keys)
    click.echo(f"restored node {cfg.node.id} from {folder} (backup of {manifest['created']}, "
               f"{manifest['exchange_log_entries']} exchange log entries); previous files were "
               "kept as *.before-restore-*")
    click.echo("start the node, then run: statenode doctor -c " + str(cfg.config_path))


@keys_group.command("rotate-oprf")
@config_option
def rotate_oprf(config_path: str) -> None:
    """Prepare a new OPRF key for the discover round and print the NodeInfo (with it) for
    the authority; once the directory pins it the node switches to it and rebuilds its
    filter under a new version."""
    from node.directory.identity import oprf_next_path, rotate_oprf_key
    from node.ops.backup import node_running
    from node.ops.node_folder import node_info

    cfg = load_config(config_path)
    rotate_oprf_key(cfg)
    click.echo(f"new OPRF key prepared ({oprf_next_path(cfg)}); this node keeps answering "
               "with its current key, the one peers verify against, until the directory "
               "pins the new one: then it switches and rebuilds its discover filter under a "
               "new version")
    if node_running(cfg):
        from node.control import client as control_client
        control_client.call(cfg, "/local/v1/keys/reload", {})
        click.echo("the running node reloaded its keys")
    click.echo("give the federation authority this NodeInfo:")
    click.echo(json.dumps(node_info(str(cfg.config_path)), indent=2, sort_keys=True))
    click.echo("the authority runs: statenode directory enroll -c DIRECTORY.toml --replace "
               "NODEINFO.json")


@keys_group.command("rotate-signing")
@config_option
@click.option("--prepare", "step", flag_value="prepare", help="Create the next signing key.")
@click.option("--switch", "step", flag_value="switch",
              help="Start signing with the next key (once the directory announces it).")
@click.option("--status", "step", flag_value="status", default=True,
              help="Show where the rotation stands (default).")
def rotate_signing(config_path: str, step: str) -> None:
    """Rotate the node's signing key through the directory: --prepare, then the authority
    announces it, then --switch, then the authority promotes it."""
    from node.control import signing_rotation as rot
    cfg = load_config(config_path)
    if step == "prepare":
        public = rot.prepare(cfg)
        click.echo(f"next signing key: {public}")
        click.echo("give it to the federation authority, who runs:")
        click.echo(f"  statenode directory announce-key -c DIRECTORY.toml {cfg.node.id} "
                   f"--next-signing-key {public}")
        click.echo(f"then, after this node's directory refresh: statenode keys rotate-signing "
                   f"-c {cfg.config_path} --switch")
        return
    if step == "switch":
        retired = rot.switch(cfg)
        click.echo(f"now signing with the new key; the old one is kept as keys/{retired}")
        from node.ops.backup import node_running

        if node_running(cfg):
            from node.control import client as control_client
            reply = control_client.call(cfg, "/local/v1/keys/reload", {})
            click.echo(f"the running node reloaded its keys (signing key "
                       f"{reply['signing_key_id']})")
        else:
            click.echo("the node is not running; it uses the new key when started")
        click.echo(f"ask the authority to run: statenode directory promote-key -c DIRECTORY.toml"
                   f" {cfg.node.id}")
        return
    st = rot.rotation_state(cfg)
    click.echo(f"current signing key: {st.current_key} (id {st.current_key_id})")
    click.echo(f"directory pins:      {st.directory_key or '(no usable cached directory)'}"
               + (f"; next: {st.directory_next_key}" if st.directory_next_key else ""))
    if st.next_key:
        click.echo(f"prepared next key:   {st.next_key} "
                   f"({'announced' if st.announced else 'not announced yet'})")
    else:
        click.echo("no next key prepared (start with --prepare)")
