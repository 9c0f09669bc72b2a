"""`statenode import` and `statenode demo-data` (the data area of the CLI).

`import` loads CSV tables, JSON Lines or Ed-Fi interchange XML into the node's store, or
pulls from the Ed-Fi ODS/API of `[edfi]` with `--from-edfi-api` (docs/IMPORT.md), and exits
0 when every row was imported, 3 when some rows were rejected (the rest is imported and
the rejects are listed and written beside the inputs), 1 on an error (nothing stored).
`demo-data` writes synthetic students (node/importing/synthetic.py), optionally sharing a part of
the children with another state's file.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import click

from node.cli import cli, config_option
from node.errors import BadRequest

EXIT_REJECTS = 3
MAX_LISTED = 20


@cli.command("import")
@config_option
@click.argument("files", nargs=-1, type=click.Path(exists=True))
@click.option("--format", "fmt", type=click.Choice(["auto", "jsonl", "csv", "edfi-xml"]),
              default="auto", show_default=True,
              help="Input format; auto: by suffix, Ed-Fi XML by its root element.")
@click.option("--from-edfi-api", "from_api", is_flag=True,
              help="Pull what changed from the Ed-Fi ODS/API of [edfi] in node.toml.")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar (default: only on a terminal).")
def import_cmd(config_path: str, files: tuple[str, ...], fmt: str, from_api: bool,
               progress: bool | None) -> None:
    """Import student records from CSV tables, JSON Lines or Ed-Fi interchange XML FILES,
    or from an Ed-Fi ODS/API (see docs/IMPORT.md)."""
    import sys

    from config.load import load_config
    from node.importing.edfi_pull import rule_of
    from node.importing.importer import import_files
    from node.ops.backup import node_running
    from node.store.database import Store

    if bool(files) == from_api:
        raise click.UsageError("give FILES to import, or --from-edfi-api (not both)")
    cfg = load_config(config_path)
    if from_api:
        _pull(cfg, sys.stderr.isatty() if progress is None else progress)
        return
    live = node_running(cfg) is not None
    if live:  # keep the write lock on node.db short: the node writes there too
        click.echo("the node is running: every student is checked first, then all are "
                   "written in one short transaction", err=True)
    with Store(cfg.storage.database) as store:
        report = import_files(store, files, owner_state=cfg.node.id, progress=progress,
                              prepare_first=live, fmt=fmt, edfi_rule=rule_of(cfg))
        try:
            _print_report(report)
        finally:  # also when some rows were rejected (exit code 3): the rest is stored
            _rebuild_filter(cfg, store, live)


def _rebuild_filter(cfg: Any, store: Any, live: bool) -> None:
    """After an import: the discover filter, rebuilt by the running node (now, not at its
    next check) or here."""
    if not cfg.discover.enabled:
        return
    if live:
        from node.control import client as control_client

        try:
            control_client.call(cfg, "/local/v1/jobs/discover_filter", {}, timeout=300)
        except Exception:  # the node's own job catches up within [discover] rebuild_interval
            click.echo("the running node rebuilds its discover filter at its next check",
                       err=True)
        return
    from crypto.errors import CryptoError
    from node.directory.identity import load_keys
    from node.errors import NodeError
    from node.importing.discover_rebuild import rebuild

    if not cfg.keys.oprf_key.exists():  # made, and the filter built, when the node starts
        return
    try:
        keys = load_keys(cfg)
        if keys.oprf is None:
            return
        done = rebuild(store, node_id=cfg.node.id, oprf=keys.oprf, signing=keys.signing)
    except (CryptoError, NodeError) as exc:  # the import stands; the node rebuilds at start
        click.echo(f"the discover filter was not rebuilt ({exc}); the node rebuilds it when "
                   "it starts", err=True)
        return
    if done.rebuilt:
        click.echo(f"discover filter version {done.version}: {done.records} students "
                   f"({done.evaluated} evaluated, {done.seconds:.1f} s)", err=True)


def _pull(cfg: Any, progress: bool) -> None:
    import asyncio

    from node.importing.edfi_pull import pull_from_api
    from node.store.database import Store

    with Store(cfg.storage.database) as store:
        pulled = asyncio.run(pull_from_api(store, cfg, progress=progress))
        if pulled.report is not None:
            from node.ops.backup import node_running

            _rebuild_filter(cfg, store, node_running(cfg) is not None)
    if pulled.report is None:
        click.echo(f"Ed-Fi ODS/API: nothing changed since change version {pulled.to_version}")
        return
    kind = "full pull" if pulled.full else f"changes after version {pulled.from_version}"
    click.echo(f"Ed-Fi ODS/API {kind} up to change version {pulled.to_version}: "
               f"{pulled.removed} students removed, {pulled.renamed} renamed")
    _print_report(pulled.report)


def _print_report(report: Any) -> None:
    res = report.result
    click.echo(f"import run {report.run_id}: {report.students} valid students "
               f"({res.inserted} new, {res.updated} changed, {res.unchanged} unchanged), "
               f"{report.rejected_rows} rows rejected")
    for why, count in report.skipped:
        click.echo(f"skipped {count} {why}")
    for r in report.rejects[:MAX_LISTED]:
        where = f"{r.file} line {r.line}" if r.line else r.file
        click.echo(f"rejected: {where}: {r.field}: {r.reason}", err=True)
    if len(report.rejects) > MAX_LISTED:
        click.echo(f"... and {len(report.rejects) - MAX_LISTED} more", err=True)
    for path in report.rejects_files:
        click.echo(f"rejects written to {path}", err=True)
    if report.rejects:
        raise SystemExit(EXIT_REJECTS)


@cli.group("reports")
def reports_group() -> None:
    """The report aggregates behind the web UI's report pages."""


@reports_group.command("recompute")
@config_option
def reports_recompute(config_path: str) -> None:
    """Recompute the report aggregates now (every import does it at its end)."""
    import time

    from config.load import load_config
    from node.importing import report_aggregates
    from node.store.database import Store

    cfg = load_config(config_path)
    started = time.perf_counter()
    with Store(cfg.storage.database) as store:
        meta = report_aggregates.refresh(store, cfg.node.id)
    click.echo(f"report aggregates recomputed for {meta['students']} students as of "
               f"{meta['as_of']} (after import run {meta['import_run']}) in "
               f"{time.perf_counter() - started:.1f} s")


def write_csv_tables(folder: Path, students: list[dict[str, Any]]) -> None:
    from protocol.record_fields import COLUMNS

    folder.mkdir(parents=True, exist_ok=True)
    tables: dict[str, list[dict[str, Any]]] = {t: [] for t in COLUMNS}
    for s in students:
        sid = s["state_student_id"]
        tables["students"].append({k: v for k, v in s.items()
                                   if k not in ("qualifying_moves", "enrollments",
                                                "assessments")})
        for m in s.get("qualifying_moves", []):
            tables["qualifying_moves"].append({"state_student_id": sid, **m})
        for a in s.get("assessments", []):
            tables["assessments"].append({"state_student_id": sid, **a})
        for e in s.get("enrollments", []):
            tables["enrollments"].append({"state_student_id": sid,
                                          **{k: v for k, v in e.items() if k != "courses"}})
            for c in e.get("courses", []):
                tables["courses"].append({"state_student_id": sid,
                                          "enrollment_id": e["enrollment_id"], **c})
    for table, rows in tables.items():
        keys = ("state_student_id",) if table != "courses" else ("state_student_id",
                                                                  "enrollment_id")
        header = list(dict.fromkeys([*keys, *COLUMNS[table]]))
        with (folder / f"{table}.csv").open("w", encoding="utf-8", newline="") as fh:
            out = csv.DictWriter(fh, fieldnames=header)
            out.writeheader()
            out.writerows(rows)


@cli.command("demo-data")
@click.option("--state", required=True, help="USPS code of the owning state, e.g. TX.")
@click.option("--count", type=click.IntRange(1, 5_000_000), default=1000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--overlap", type=click.Path(exists=True, dir_okay=False),
              help="Another state's JSONL file whose children partly reappear here.")
@click.option("--share", type=click.FloatRange(0.0, 1.0), default=0.3, show_default=True,
              help="Share of the --overlap children that are also in this state.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl",
              show_default=True, help="JSON Lines file, or a folder of CSV tables.")
@click.argument("out", type=click.Path())
def demo_data(state: str, count: int, seed: int, overlap: str | None, share: float,
              fmt: str, out: str) -> None:
    """Write COUNT synthetic students of STATE to OUT (ground truth in OUT.truth.csv)."""
    from node.importing.synthetic import STATE_FIPS, derive_overlap, generate_students

    state = state.upper()
    if state not in STATE_FIPS:
        raise BadRequest(f"--state {state} is not a USPS state code")
    truth: list[tuple[str, str]] = []
    if overlap:
        source = []
        with open(overlap, encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if line.strip():
                    try:
                        source.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise BadRequest(f"{overlap} line {number}: not valid JSON "
                                         f"({exc.msg})") from exc
        shared = derive_overlap(source, state, min(share, count / max(len(source), 1)), seed)
        truth = [(rec["state_student_id"], src) for rec, src in shared]
        students = [rec for rec, _src in shared]
        students += generate_students(state, count - len(students), seed)
        # keep ids unique if the fresh generator happens to reuse one
        seen = {s["state_student_id"] for s in students[:len(shared)]}
        students = students[:len(shared)] + [s for s in students[len(shared):]
                                             if s["state_student_id"] not in seen]
    else:
        students = generate_students(state, count, seed)
    target = Path(out)
    if fmt == "csv":
        write_csv_tables(target, students)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8") as fh:
            for s in students:
                fh.write(json.dumps(s, ensure_ascii=False) + "\n")
    if truth:
        truth_path = Path(f"{out.rstrip('/')}.truth.csv")
        with truth_path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["state_student_id", "source_state_student_id"])
            w.writerows(truth)
        click.echo(f"{len(truth)} shared children listed in {truth_path}", err=True)
    click.echo(f"wrote {len(students)} synthetic {state} students to {target}")
