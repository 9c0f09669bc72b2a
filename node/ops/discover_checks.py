"""`statenode doctor`'s check of the discover round (issue 14): whether this node takes
part, whether the directory pins its OPRF key (or a prepared next one), its filter, the
peers that do not speak discover (they get the plain find, criteria readable) and the
holders whose hits look like a stuffed filter (node.federation.discover_status).

Spec: docs/SECURITY.md "Private find"; node/ops/doctor.py turns each finding into a
`Check` of area "discover". Reads node.db read-only; no student data, no key material.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from config.schema import NodeConfig

OK, WARN, FAIL = "ok", "warn", "fail"
#: (status, message, fix)
Finding = tuple[str, str, str]


def _finding(status: str, message: str, fix: str = "") -> Finding:
    return (status, message, fix)


def _discover_rows(path: Path) -> tuple[list[dict[str, Any]], Any]:
    """The requester's counters and our latest filter, read-only (empty when absent)."""
    from sqlite_utils import Database

    from node.store import discover_tables as dt

    if not path.exists():
        return [], None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error:
        return [], None
    try:
        db = Database(conn)
        return dt.peer_counts(db), dt.latest_filter(db)
    except sqlite3.Error:
        return [], None
    finally:
        conn.close()


def discover_findings(cfg: NodeConfig, entries: list[Any]) -> list[Finding]:
    """Our part in the private find, and the peers that do not speak it or whose hits
    look like a stuffed filter (node.federation.discover_status)."""
    import os

    from node.directory.identity import load_keys
    from node.federation.discover_status import peer_report
    from node.federation.endpoint import RECORD_BODIES_ENV

    counts, latest = _discover_rows(cfg.storage.database)
    report = peer_report(entries, cfg.node.id, counts)
    out: list[Finding] = []
    if os.environ.get(RECORD_BODIES_ENV):
        out.append(_finding(WARN, f"{RECORD_BODIES_ENV} is set: the node writes every "
                         "message it opens, student data included, to "
                         f"{os.environ[RECORD_BODIES_ENV]} (a test hook, never for "
                         "production)", f"unset {RECORD_BODIES_ENV} in the node's "
                         "environment and delete that file"))
    if not cfg.discover.enabled:
        out.append(_finding(WARN, "discover is switched off ([discover] enabled = "
                         "false): every other state sends this node the plain find, and it "
                         "sends the plain find to all", f"set [discover] enabled = true in "
                         f"{cfg.config_path}"))
    else:
        own = next((e for e in entries if e.node_id == cfg.node.id), None)
        try:
            loaded = load_keys(cfg)
            oprf, oprf_next = loaded.oprf, loaded.oprf_next
        except Exception:  # the keys check above says why
            oprf = oprf_next = None
        if own is not None and oprf_next is not None:
            pinned_next = own.oprf_key == oprf_next.public
            out.append(_finding(WARN, "the directory pins the new OPRF key; the node "
                             "switches to it at its next filter check" if pinned_next else
                             "a new OPRF key is prepared (statenode keys rotate-oprf) but the "
                             "directory does not pin it yet",
                             "start the node (or wait for its discover_filter job)"
                             if pinned_next else "ask the authority to enroll this node's "
                             "NodeInfo (statenode keys show --json) with --replace"))
            if pinned_next:
                oprf = oprf_next
        if oprf is None and not cfg.keys.oprf_key.exists():
            out.append(_finding(WARN, f"no OPRF key yet ({cfg.keys.oprf_key})",
                             "it is made when the node starts (statenode serve); then give "
                             "the authority the NodeInfo (statenode keys show --json)"))
        if own is not None and oprf is not None and own.oprf_key != oprf.public:
            out.append(_finding(WARN if own.oprf_key is None else FAIL,
                             "the directory does not pin this node's OPRF key" if
                             own.oprf_key is None else "the directory pins another OPRF key "
                             "for this node: peers refuse its discover answers",
                             "give the authority this node's NodeInfo (statenode keys show "
                             "--json) to enroll with --replace"))
        if latest is None:
            out.append(_finding(WARN, "no discover filter built yet",
                             "the running node builds it at start and after each import"))
        else:
            out.append(_finding(OK, f"filter version {latest.version}: "
                             f"{latest.records:,} students, {latest.members:,} values, "
                             f"{len(latest.signed) / 1e6:.2f} MB"))
    if report["plain_find"]:
        out.append(_finding(WARN, f"{', '.join(report['plain_find'])} do(es) not "
                         "speak discover (no discover/v1 feature or no OPRF key in the "
                         "directory): they get the plain find, criteria readable",
                         "ask those states to upgrade and enable [discover]"))
    for p in report["peers"]:
        if p["flag"]:
            out.append(_finding(WARN, f"{p['peer']}: {p['flag']}",
                             "a stuffed filter draws every find: tell the federation "
                             "authority"))
    return out
