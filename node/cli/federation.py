"""`statenode find`, `fetch`, `notify-move`, `inbox`, `outbox`, `demo`."""

from __future__ import annotations

import json
from typing import Any

import click

from config import load_config
from node.cli import cli, config_option
from node.control.client import call, stream
from node.matching.outcome_words import agreement_text
from protocol.messages import PURPOSES, SEARCH_PURPOSES

PURPOSE = click.Choice(PURPOSES)
#: a search never carries move_notice (it is sent, not searched with)
SEARCH_PURPOSE = click.Choice(SEARCH_PURPOSES)


def _name(d: dict[str, Any]) -> str:
    parts = [d.get("first_name"), d.get("middle_name"), d.get("last_name_1"), d.get("last_name_2")]
    return " ".join(p for p in parts if p and p != "-")


@cli.command()
@config_option
@click.option("--first-name", default=None, help="Given name (needed unless --student-id).")
@click.option("--last-name-1", default=None,
              help="Paternal (first) surname (needed unless --student-id).")
@click.option("--last-name-2", default=None, help="Maternal (second) surname.")
@click.option("--middle-name", default=None)
@click.option("--birth-date", default=None, help="YYYY-MM-DD.")
@click.option("--sex", type=click.Choice(["F", "M", "X"]), default=None)
@click.option("--birth-city", default=None)
@click.option("--birth-state", default=None)
@click.option("--birth-country", default=None)
@click.option("--mother", default=None, help="Mother's name, 'First Last'.")
@click.option("--father", default=None, help="Father's name, 'First Last'.")
@click.option("--student-id", default=None,
              help="A student id from any state (names are then optional).")
@click.option("--purpose", type=SEARCH_PURPOSE, default="enrollment", show_default=True)
@click.option("--timeout", type=float, default=None, help="Per-state timeout in seconds.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per state, then a summary.")
def find(
    config_path: str,
    purpose: str,
    timeout: float | None,
    as_json: bool,
    mother: str | None,
    father: str | None,
    student_id: str | None,
    **fields: Any,
) -> None:
    """Search every state's node for a child; print each state's candidates as they answer.

    Give the given name and first surname, or a student id of any state. Each candidate is
    said in words ("almost certainly this child (99.9%)", "possibly this child") with the
    agreement of each field; --json gives the raw lines, scores included."""
    cfg = load_config(config_path)
    if not student_id and not (fields.get("first_name") and fields.get("last_name_1")):
        raise click.UsageError("give --first-name and --last-name-1, or --student-id")
    payload: dict[str, Any] = {k: v for k, v in fields.items() if v}
    if student_id:
        payload["ids"] = {"state_student_id": student_id}
    payload["purpose"] = purpose
    payload["parent_names"] = [
        f"{role}: {name}" for role, name in (("female", mother), ("male", father)) if name
    ]
    if timeout:
        payload["timeout"] = timeout
    for line in stream(cfg, "/local/v1/find", payload):
        if as_json:
            click.echo(json.dumps(line))
            continue
        if "summary" in line:
            s = line["summary"]
            click.echo(f"answered: {', '.join(s['answered']) or 'none'}")
            if s["timed_out"]:
                click.echo(f"timed out: {', '.join(s['timed_out'])}")
            for state, why in s["failed"].items():
                click.echo(f"failed: {state}: {why}")
            sent = (s.get("disclosure") or {}).get("find_sent")
            if sent is not None:
                click.echo(f"the search's details went to: {', '.join(sent) or 'no state'}")
            continue
        if line["status"] != "answered":
            click.echo(f"{line['state']}: {line['status']} ({line['error']})")
            continue
        cands = line.get("candidates", [])
        if line.get("route") == "no_hit":
            click.echo(f"{line['state']}: no record (its filter had no hit: it did not receive "
                       f"the search's details) in {line['latency_ms']:.0f} ms")
            continue
        click.echo(f"{line['state']}: {len(cands)} candidate(s) in {line['latency_ms']:.0f} ms")
        for c in cands:
            d = c["demographics"]
            click.echo(
                f"  {c.get('words') or c['outcome']}: {_name(d) or '?'}, born "
                f"{d.get('birth_date', '?')} {d.get('sex', '')}  handle {c['handle']}"
            )
            agreement = agreement_text(c.get("agreements"))
            if agreement:
                click.echo(f"      {agreement}")


@cli.command()
@config_option
@click.option("--state", required=True, help="The state that holds the record.")
@click.option("--handle", "handles", required=True, multiple=True, help="Handle from a find.")
@click.option("--purpose", type=PURPOSE, default="enrollment", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def fetch(
    config_path: str, state: str, handles: tuple[str, ...], purpose: str, as_json: bool
) -> None:
    """Fetch a peer's full record (a snapshot signed by the holder)."""
    cfg = load_config(config_path)
    reply = call(
        cfg,
        "/local/v1/fetch",
        {"state": state.upper(), "handles": list(handles), "purpose": purpose},
    )
    if as_json:
        click.echo(json.dumps(reply, indent=2))
        return
    for snap in reply["snapshots"]:
        rec = snap["record"]
        ok = "verified" if snap["signature_verified"] else "NOT VERIFIED"
        click.echo(f"{snap['owner']} record v{snap['version']} (signature {ok})")
        click.echo(f"  {_name(rec)}  born {rec.get('birth_date')}  sex {rec.get('sex')}")
        for e in rec.get("enrollments", []):
            click.echo(
                f"  enrolled {e.get('enrollment_date')} – {e.get('withdrawal_date') or 'now'}"
                f"  {e.get('school_or_project_name', '')}  grade {e.get('grade_level', '')}"
            )
            for c in e.get("courses", []):
                click.echo(
                    f"    {c.get('course_title', '')}: {c.get('credits_granted', 0)} of "
                    f"{c.get('credits_attempted', 0)} credits"
                )
    for h in reply["missing"]:
        click.echo(f"missing: {h}")


@cli.command("notify-move")
@config_option
@click.option("--student", required=True, help="Local state_student_id.")
@click.option("--to", "to", required=True, help="Destination state (USPS code).")
@click.option("--expected", default=None, help="Expected arrival date, YYYY-MM-DD.")
@click.option("--comment", default=None)
@click.option("--contact", default=None,
              help="Who the receiving school should contact (default: this agency with "
                   "node.contact_phone and node.contact_email).")
def notify_move(
    config_path: str,
    student: str,
    to: str,
    expected: str | None,
    comment: str | None,
    contact: str | None,
) -> None:
    """Queue a signed move notice; the node delivers it, retrying until a receipt arrives."""
    cfg = load_config(config_path)
    reply = call(
        cfg,
        "/local/v1/notify-move",
        {
            "student": student,
            "to": to.upper(),
            "expected": expected,
            "comment": comment,
            "contact": contact,
        },
    )
    click.echo(f"queued move notice {reply['queued']} for {to.upper()}")


def _read_federation(config_path: str, fn: Any) -> Any:
    """Read the node's federation tables directly (works whether or not the node runs)."""
    from node.store import federation_tables as fed
    from node.store.database import Store

    cfg = load_config(config_path)
    with Store(cfg.storage.database) as store:
        store.call(fed.apply_migrations)
        return store.call(fn)


@cli.command()
@config_option
@click.option("--status", type=click.Choice(["open", "new", "acknowledged", "handled", "all"]),
              default="all", show_default=True, help="open = not handled yet.")
@click.option("--json", "as_json", is_flag=True)
def inbox(config_path: str, status: str, as_json: bool) -> None:
    """List received move notices (expected arrivals) with their status in the arrivals
    queue (acknowledged, assigned, handled: on the web UI's Arrivals page)."""
    from node.store import federation_tables as fed
    items = _read_federation(config_path, lambda db: fed.inbox_list(db, status=status))
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    if not items:
        click.echo("no move notices received" if status == "all" else f"no {status} notices")
    for it in items:
        n = it["notice"]
        queue = it["status"] + (f", assigned to {it['assigned_to']}" if it.get("assigned_to")
                                else "") + (f", by {it['handled_by']}" if it.get("handled_by")
                                            else "")
        click.echo(
            f"#{it['id']} [{queue}] from {it['sender']}: {_name(n['student'])} born "
            f"{n['student'].get('birth_date', '?')}, expected "
            f"{n.get('expected_arrival') or '?'} at {n['destination']}; contact "
            f"{n['contact']}" + (f" — {n['comment']}" if n.get("comment") else "")
        )


@cli.command()
@config_option
@click.option("--json", "as_json", is_flag=True)
def outbox(config_path: str, as_json: bool) -> None:
    """List queued and delivered move notices and links."""
    from node.store import federation_tables as fed
    items = _read_federation(config_path, fed.outbox_list)
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    for it in items:
        state = "delivered" if it["delivered_ms"] else f"pending ({it['attempts']} attempts)"
        err = (
            f" last error: {it['last_error']}"
            if it["last_error"] and not it["delivered_ms"]
            else ""
        )
        click.echo(f"#{it['id']} {it['type']} to {it['peer']}: {state}{err}")


@cli.command()
@click.option("--states", default="TX,CA,FL", show_default=True, help="Comma-separated states.")
@click.option("--students", default=2000, show_default=True, help="Students per state.")
@click.option("--seed", default=7, show_default=True)
@click.option(
    "--dir",
    "folder",
    default="demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the demo keeps its files.",
)
@click.option("--password", default=None, help="Give every demo user this password.")
def demo(states: str, students: int, seed: int, folder: str, password: str | None) -> None:
    """Run a directory and one node per state on loopback, with synthetic children."""
    from pathlib import Path

    from config.load import US_STATES
    from node.ops.demo import run_demo

    wanted = [s.strip().upper() for s in states.split(",") if s.strip()]
    bad = [s for s in wanted if s not in US_STATES]
    if bad or len(wanted) < 2:
        raise click.BadParameter(
            f"need two or more USPS codes (bad: {', '.join(bad) or '-'})", param_hint="--states"
        )
    run_demo(Path(folder), wanted, students, seed, password, lambda m: click.echo(m, err=False))
