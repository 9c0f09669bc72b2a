"""`statenode doctor`: check a node and explain each problem with its fix.

Spec: PROTOCOL-ANCHORS.md §1.9 and §5.1 items 22-23 (X-Road's top complaints were an
expired global configuration, unsynchronised clocks and unreachable dependencies with no
hint which one failed; a diagnostics tool must name the failing dependency). Checks, in
order: config, key files and permissions, the other files' and folders' permissions,
key validity and rotation, the running node, directory freshness, each peer's
reachability and backoff, clock skew against peers, database integrity and
writability, pending schema migrations (named, with what they will do; they run when the
node or an import next opens the database), free disk, scheduled jobs.

Each check is a `Check(area, status, message, fix)` with status `ok`, `warn` or `fail`.
Checks that need the running node use `GET /local/v1/status` (control.json's token); the
others read the files directly, so doctor also helps when the node will not start.
Peers are probed with `GET {endpoint}/healthz`; the `Date` header of the answer gives a
second-resolution clock comparison even before any exchange.
"""

from __future__ import annotations

import base64
import email.utils
import os
import shutil
import sqlite3
import stat
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import load_config
from config.errors import ConfigError
from config.schema import NodeConfig
from crypto.errors import CryptoError
from node import clock
from node.errors import NodeError
from protocol.directory import EntryStatus

OK, WARN, FAIL = "ok", "warn", "fail"
LOW_DISK_FAIL = 100 * 1024 * 1024
LOW_DISK_WARN = 1024 * 1024 * 1024


@dataclass(frozen=True)
class Check:
    area: str
    status: str
    message: str
    fix: str = ""


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---- config and keys ----------------------------------------------------------------

def check_key_files(cfg: NodeConfig) -> list[Check]:
    """Key files exist and only their owner can read them; key folders are 0700."""
    from node.control.api import control_file
    from node.control.signing_rotation import next_key_path

    files = [cfg.keys.signing_key]
    if cfg.keys.oprf_key.exists():  # else made at the next start (check_discover says so)
        files.append(cfg.keys.oprf_key)
    folder = cfg.keys.encryption_dir
    if folder.is_dir():
        files += sorted(p for p in folder.iterdir() if p.suffix == ".pem")
    if cfg.keys.passphrase_file is not None:
        files.append(cfg.keys.passphrase_file)
    if next_key_path(cfg).exists():
        files.append(next_key_path(cfg))
    if control_file(cfg).exists():
        files.append(control_file(cfg))
    out: list[Check] = []
    for path in files:
        if not path.exists():
            out.append(Check("key files", FAIL, f"{path} is missing",
                             "restore it from your offline key copy, or create new keys and "
                             "re-enrol: statenode init (see README, Operations)"))
            continue
        mode = _mode(path)
        if mode & 0o077:
            out.append(Check("key files", FAIL,
                             f"{path} is accessible by other users (mode {mode:04o})",
                             f"chmod 600 {path}"))
    for path in (cfg.keys.signing_key.parent, folder):
        if path.is_dir() and _mode(path) & 0o077:
            out.append(Check("key files", WARN, f"folder {path} is open to other users "
                             f"(mode {_mode(path):04o})", f"chmod 700 {path}"))
    if not out:
        out.append(Check("key files", OK, f"{len(files)} key and secret files, all mode 0600"))
    return out


def check_file_modes(cfg: NodeConfig) -> list[Check]:
    """The node's other files (databases and their -wal/-shm, logs, rejects files, the
    directory cache, node.toml, ...) and folders are owner-only, as its keys are
    (`node.file_modes`; the key files and control.json are `check_key_files`' part)."""
    from node.control.api import control_file
    from node.control.signing_rotation import next_key_path
    from node.file_modes import key_files, loose, node_paths

    theirs = key_files(cfg) | {next_key_path(cfg), control_file(cfg),
                               cfg.keys.signing_key.parent, cfg.keys.encryption_dir}
    out = []
    for item in loose(cfg):
        if item.path in theirs:
            continue
        what = "folder " if item.is_dir else ""
        out.append(Check("file modes", WARN if item.is_dir else FAIL,
                         f"{what}{item.path} is accessible by other users (mode "
                         f"{item.mode:04o})", f"{item.fix} (the node also does it when it "
                         "starts)"))
    if not out:
        files, folders = node_paths(cfg)
        out.append(Check("file modes", OK, f"{len(files)} data, log and other files and "
                         f"{len(folders)} folders of the node, all owner-only"))
    return out


def check_keys(cfg: NodeConfig, now: float, directory: Any) -> list[Check]:
    """Keys load; the encryption ring has a current and a next key; rotation state."""
    from node.control.signing_rotation import next_key_path
    from node.directory.identity import load_keys

    try:
        keys = load_keys(cfg)
    except (CryptoError, NodeError, OSError) as exc:
        return [Check("keys", FAIL, f"keys do not load: {exc}",
                      "fix the file named above (permissions, passphrase_file, or restore "
                      "the key from your offline copy)")]
    out = []
    published = keys.published(now)
    current = [e for e in keys.ring if e.valid_from <= now < e.valid_until]
    if not current:
        out.append(Check("keys", FAIL, "no encryption key is valid now (all expired)",
                         f"start the node (its key_rotation job renews them): "
                         f"statenode serve -c {cfg.config_path}"))
    elif len(published) < 2:
        left = current[-1].valid_until - now
        out.append(Check("keys", WARN, f"no next encryption key; the current one expires in "
                         f"{left / 3600:.1f} h", "keep the node running: its key_rotation job "
                         "creates the next key"))
    else:
        out.append(Check("keys", OK, f"signing key {keys.signing.key_id}; encryption key "
                         f"{current[-1].key_id} valid {(current[-1].valid_until - now) / 3600:.1f}"
                         f" h more, next key ready"))
    ours = keys.signing.public
    entry = None
    if directory is not None and directory.snapshot is not None:
        entry = directory.snapshot.entry(cfg.node.id)
    if entry is not None and ours not in entry.signing_keys():
        out.append(Check("keys", FAIL, f"the directory pins another signing key for "
                         f"{cfg.node.id} ({base64.b64encode(entry.signing_key).decode()}); "
                         "peers reject everything this node signs",
                         "finish the rotation (statenode keys rotate-signing --switch) or ask "
                         "the authority to re-enrol this node's key (statenode keys show "
                         "--json; directory enroll --replace)"))
    elif entry is not None and entry.next_signing_key == ours:
        out.append(Check("keys", WARN, "this node signs with the announced next key; the "
                         "directory still lists the old key as current",
                         "ask the authority to run: statenode directory promote-key "
                         f"-c DIRECTORY.toml {cfg.node.id}"))
    if next_key_path(cfg).exists():
        from node.control.signing_rotation import rotation_state

        st = rotation_state(cfg)
        if st.announced:
            out.append(Check("keys", WARN, "a next signing key is prepared and announced in "
                             "the directory, not yet in use",
                             f"statenode keys rotate-signing -c {cfg.config_path} --switch"))
        else:
            out.append(Check("keys", WARN, f"a next signing key is prepared but not announced "
                             f"({st.next_key})", f"ask the authority to run: statenode directory "
                             f"announce-key -c DIRECTORY.toml {cfg.node.id} "
                             f"--next-signing-key {st.next_key}"))
    return out


# ---- the running node and the directory ---------------------------------------------

def live_status(cfg: NodeConfig, timeout: float) -> tuple[dict[str, Any] | None, str]:
    from node.control import client as control_client
    try:
        return control_client.call(cfg, "/local/v1/status", timeout=timeout), ""
    except NodeError as exc:
        return None, str(exc)


def check_directory(cfg: NodeConfig, status: dict[str, Any]) -> Check:
    urls = ", ".join(cfg.directory.urls) or "(none configured)"
    fix = (f"make sure the directory ({urls}) is reachable from this host, then run "
           f"statenode doctor again (the node refreshes every "
           f"{cfg.directory.refresh_interval:g} s)")
    if not cfg.directory.authority_key or not cfg.directory.urls:
        fix = (f"set directory.urls and directory.authority_key in {cfg.config_path} to the "
               "values the federation authority gives you")
    if not status["usable"]:
        return Check("directory", FAIL, f"no usable directory: {status['reason']}; the node "
                     "refuses federation traffic until it has one", fix)
    left = status["expires_in_s"]
    text = (f"serial {status['serial']}, expires {status['expires_at']} "
            f"(in {left / 3600:.1f} h)")
    if status["warning"]:
        err = status.get("last_refresh_error")
        return Check("directory", WARN, f"{text}: expires soon"
                     + (f"; last refresh failed: {err}" if err else ""),
                     fix + "; after expiry the node refuses federation traffic")
    return Check("directory", OK, text)


# ---- peers and clocks ----------------------------------------------------------------

@dataclass(frozen=True)
class Probe:
    peer: str
    url: str
    ok: bool
    latency_ms: float
    skew_s: float | None
    error: str


def probe(peer: str, endpoint: str, timeout: float) -> Probe:
    url = endpoint.rstrip("/") + "/healthz"
    t0 = clock.now()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (directory URL)
            date = resp.headers.get("Date")
            resp.read()
    except urllib.error.HTTPError as exc:
        date = exc.headers.get("Date")
        if exc.code >= 500:
            return Probe(peer, url, False, (clock.now() - t0) * 1000, None, f"HTTP {exc.code}")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Probe(peer, url, False, (clock.now() - t0) * 1000, None, str(reason))
    t1 = clock.now()
    skew = None
    if date:
        try:
            skew = email.utils.parsedate_to_datetime(date).timestamp() - (t0 + t1) / 2
        except (TypeError, ValueError):
            skew = None
    return Probe(peer, url, True, (t1 - t0) * 1000, skew, "")


def check_peers(cfg: NodeConfig, entries: list[Any], live: dict[str, Any] | None,
                timeout: float) -> tuple[list[Check], list[Probe]]:
    peers = [e for e in entries if e.node_id != cfg.node.id and e.status == EntryStatus.ACTIVE]
    if not peers:
        return [Check("peers", WARN, "no other active node in the directory",
                      "enrol the other states with the authority (statenode directory enroll)")], []
    health = {p["peer"]: p for p in (live or {}).get("peers", [])}
    jobs = [(e.node_id, ep) for e in peers for ep in e.endpoints[:1]]
    with ThreadPoolExecutor(max_workers=min(16, len(jobs))) as pool:
        probes = list(pool.map(lambda j: probe(j[0], j[1], timeout), jobs))
    out = []
    for p in probes:
        h = health.get(p.peer, {})
        backoff = ""
        if h.get("failures"):
            backoff = (f"; {h['failures']} consecutive failures"
                       + (f", in backoff (retry in {h['retry_in_s']:g} s)"
                          if h.get("in_backoff") else "")
                       + (f", last error: {h['last_error']}" if h.get("last_error") else ""))
        if not p.ok:
            out.append(Check("peers", WARN, f"{p.peer} is unreachable at {p.url} ({p.error})"
                             f"{backoff}",
                             f"{p.peer}'s node is down or blocked: ask {p.peer}'s operator to "
                             f"start it (statenode serve) or open the route to {p.url}; until "
                             f"then finds name {p.peer} as failed and move notices to it wait "
                             "in the outbox"))
        elif backoff:
            out.append(Check("peers", WARN, f"{p.peer} answers /healthz ({p.latency_ms:.0f} ms)"
                             f" but exchanges failed{backoff}",
                             f"read the node log for {p.peer}; the backoff resets on the next "
                             "successful exchange"))
        else:
            out.append(Check("peers", OK, f"{p.peer} reachable ({p.latency_ms:.0f} ms)"))
    return out, probes


def check_clock(cfg: NodeConfig, probes: list[Probe], live: dict[str, Any] | None) -> Check:
    bound = cfg.exchange.max_clock_skew
    skews: dict[str, float] = {p.peer: p.skew_s for p in probes if p.skew_s is not None}
    for p in (live or {}).get("peers", []):
        if p.get("clock_skew_s") is not None:
            skews[p["peer"]] = p["clock_skew_s"]
    fix = ("synchronise this host's clock (NTP: timedatectl set-ntp true; chronyc tracking), "
           "or ask the peer named above to synchronise theirs")
    worst = max(skews.items(), key=lambda kv: abs(kv[1]), default=None)
    if worst is not None and abs(worst[1]) > bound:
        return Check("clock", FAIL, f"clock differs from {worst[0]}'s by {worst[1]:+.0f} s, "
                     f"beyond the bound of {bound:g} s (exchange.max_clock_skew): messages "
                     "between the two are rejected", fix)
    clock = (live or {}).get("clock", {})
    rejected = clock.get("rejected_expired", 0) + clock.get("rejected_not_yet_valid", 0)
    if rejected:
        return Check("clock", WARN, f"{rejected} inbound message(s) rejected as expired or "
                     f"future-dated since start (bound {bound:g} s): a peer's clock may be off",
                     fix)
    if worst is not None and abs(worst[1]) > bound / 2:
        return Check("clock", WARN, f"clock differs from {worst[0]}'s by {worst[1]:+.0f} s "
                     f"(bound {bound:g} s)", fix)
    if worst is None:
        return Check("clock", WARN, "no peer answered, so the clock could not be compared",
                     "see the peers checks above")
    return Check("clock", OK, f"within {abs(worst[1]):.0f} s of {len(skews)} peer(s) "
                 f"(bound {bound:g} s)")


# ---- storage -------------------------------------------------------------------------

def check_database(path: Path, what: str, thorough: bool, *, created_at_start: bool = False,
                   ) -> Check:
    if not path.exists() and created_at_start:
        return Check("database", WARN, f"{what} {path} does not exist yet",
                     "it is created when the node first starts (statenode serve)")
    if not path.exists():
        return Check("database", FAIL, f"{what} {path} does not exist",
                     "restore it from a backup: statenode restore -c CONFIG BACKUP")
    for p in (path, path.parent):
        if not _writable(p):
            return Check("database", FAIL, f"{what} {p} is read-only for this user",
                         f"give the node's user write access (chmod u+w {p}) or remount the "
                         "file system read-write")
    pragma = "integrity_check" if thorough else "quick_check"
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            rows = conn.execute(f"PRAGMA {pragma}").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        rows = [(f"cannot open ({exc})",)]
    result = "; ".join(str(r[0]) for r in rows[:3])
    if result != "ok":
        return Check("database", FAIL, f"{what} {path} fails {pragma}: {result}",
                     "stop the node and restore the latest backup: statenode restore "
                     "-c CONFIG BACKUP (README, Backup and restore)")
    return Check("database", OK, f"{what} {path.name} passes {pragma}")


def check_migrations(path: Path) -> Check:
    """Schema migrations of every room not yet applied to the node database (read-only)."""
    from sqlite_utils import Database

    from node.store import accounts, database, discover_tables, federation_tables, link_tables

    if not path.exists():
        return Check("migrations", WARN, f"node database {path} does not exist yet",
                     "it is created, with every migration, when the node first starts")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            db = Database(conn)
            pending = [f"{m.name} ({sets.name})"
                       for sets in (database.migrations, federation_tables.migrations,
                                    accounts.migrations, link_tables.migrations,
                                    discover_tables.migrations)
                       for m in sets.pending(db)]
            students = (conn.execute("SELECT count(*) FROM students").fetchone()[0]
                        if db["students"].exists() else 0)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return Check("migrations", FAIL, f"cannot read the schema of {path} ({exc})",
                     "see the database check above")
    if not pending:
        return Check("migrations", OK, "node database schema is current")
    note = ""
    if any(name.startswith("m005_match_forms") for name in pending):
        note = (f"; m005_match_forms re-derives the match keys and stored normalized forms "
                f"of {students:,} students (about a minute per million)")
    return Check("migrations", WARN, f"{len(pending)} pending migration(s): "
                 f"{', '.join(pending)}{note}",
                 "they are applied when the node starts (statenode serve) or an import "
                 "opens the database; take a backup first: statenode backup -c CONFIG FOLDER")


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK)


def check_schema_and_reports(path: Path) -> list[Check]:
    """Migrations not yet applied (named), and report aggregates older than the last
    import run (read-only; the node applies migrations when it starts)."""
    if not path.exists():
        return []
    from node.store import accounts, discover_tables, federation_tables, link_tables, reports
    from node.store import database as records

    sets = (records.migrations, federation_tables.migrations, accounts.migrations,
            link_tables.migrations, reports.migrations, discover_tables.migrations)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error:
        return []
    try:
        from sqlite_utils import Database

        db = Database(conn)
        pending = [f"{m.name}.{fn.name}" for m in sets for fn in m.pending(db)]
        out = []
        if pending:
            out.append(Check("schema", WARN, f"{len(pending)} migration(s) pending: "
                             f"{', '.join(pending)}",
                             "they are applied when the node starts (statenode serve); "
                             "take a backup first (statenode backup)"))
        else:
            out.append(Check("schema", OK, "every migration applied"))
        stale = reports.is_stale(db) if db["report_counts"].exists() else (
            "the report aggregates were never computed")
        students = db["students"].count if db["students"].exists() else 0
        if stale and students:
            out.append(Check("reports", WARN, stale,
                             "statenode reports recompute -c CONFIG (imports do it at "
                             "their end)"))
        elif not stale:
            out.append(Check("reports", OK, "report aggregates are up to date"))
        return out
    except sqlite3.Error as exc:
        return [Check("schema", WARN, f"could not read the migrations ({exc})")]
    finally:
        conn.close()


def check_disk(cfg: NodeConfig) -> Check:
    folder = cfg.storage.database.parent
    usage = shutil.disk_usage(folder)
    free_mib = usage.free / 1024 / 1024
    text = f"{free_mib:,.0f} MiB free of {usage.total / 1024 / 1024:,.0f} MiB on {folder}"
    if usage.free < LOW_DISK_FAIL:
        return Check("disk", FAIL, text, "free space on that file system now: writes fail "
                     "when it is full (nothing is half-written, but nothing new is saved)")
    if usage.free < LOW_DISK_WARN or usage.free < usage.total * 0.05:
        return Check("disk", WARN, text, "free space on that file system soon")
    return Check("disk", OK, text)


def check_jobs(live: dict[str, Any]) -> list[Check]:
    failing = [j for j in live.get("jobs", []) if j.get("last_error")]
    if not failing:
        return [Check("jobs", OK, f"{len(live.get('jobs', []))} scheduled jobs, none failing")]
    return [Check("jobs", WARN, f"job {j['name']} failed {j['failures']} time(s); last error: "
                  f"{j['last_error']}", "see the checks above and the node log; run it again "
                  f"with: POST /local/v1/jobs/{j['name']}") for j in failing]


# ---- all of it -----------------------------------------------------------------------

def run_checks(config_path: str | Path, *, timeout: float = 3.0, thorough: bool = False,
               on_check: Callable[[Check], None] | None = None) -> list[Check]:
    """Run every check; `on_check` sees each result as soon as it is known."""
    from node.directory.client import DirectoryView

    out: list[Check] = []

    def add(*checks: Check) -> None:
        for c in checks:
            out.append(c)
            if on_check:
                on_check(c)

    try:
        cfg = load_config(config_path)
    except ConfigError as exc:
        add(Check("config", FAIL, str(exc), f"edit {config_path} (node.example.toml documents "
                  "every setting)"))
        return out
    add(Check("config", OK, f"{cfg.config_path} (node {cfg.node.id})"))
    now = clock.now()
    add(*check_key_files(cfg))
    add(*check_file_modes(cfg))
    view: DirectoryView | None
    try:
        view = DirectoryView(cfg)
        view.load_cache()
    except ConfigError as exc:
        add(Check("directory", FAIL, str(exc), f"edit {config_path}"))
        view = None
    add(*check_keys(cfg, now, view))
    live, why = live_status(cfg, timeout=max(timeout, 5.0))
    if live is None:
        add(Check("node", WARN, f"the node is not running or not answering ({why})",
                  f"start it: statenode serve -c {cfg.config_path}"))
    else:
        add(Check("node", OK, f"running (pid {live['pid']}, up {live['uptime_s']:.0f} s, "
                  f"{(live['rss_bytes'] or 0) / 1048576:.0f} MiB resident)"))
    dstatus = live["directory"] if live else (view.status(now) if view else None)
    if dstatus is not None:
        add(check_directory(cfg, dstatus))
    entries: list[Any] = []
    if view is not None:
        entries = list(view.snapshot.entries if view.snapshot else
                       (view.stale.entries if view.stale else ()))
    peer_checks, probes = check_peers(cfg, entries, live, timeout)
    add(*peer_checks)
    add(check_clock(cfg, probes, live))
    add(check_database(cfg.storage.database, "node database", thorough))
    add(check_migrations(cfg.storage.database))
    add(check_database(cfg.storage.exchange_log, "exchange log", thorough,
                       created_at_start=True))
    add(*check_schema_and_reports(cfg.storage.database))
    from node.ops.discover_checks import discover_findings

    add(*(Check("discover", status, message, fix)
          for status, message, fix in discover_findings(cfg, entries)))
    add(check_disk(cfg))
    if live is not None:
        add(*check_jobs(live))
    return out


def worst(checks: list[Check]) -> str:
    statuses = {c.status for c in checks}
    return FAIL if FAIL in statuses else WARN if WARN in statuses else OK
