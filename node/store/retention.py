"""Retention purge of node.db by policy (DESIGN.md "Scheduled jobs": retention purge).

What is purged, and when (`jobs.retention`, default 30 days; run every
`jobs.retention_interval`):

- web sessions: once idle past `web.session_idle_timeout` or older than their absolute
  lifetime (node.store.accounts.prune_sessions), plus stale login-throttle rows;
- record handles given to peers in `find` replies, created more than `retention` ago (a
  handle is an HMAC of requester and student id, so a later `find` gives the same handle
  again; only a fetch with a handle unused for that long is refused as missing);
- outbox items delivered more than `retention` ago (undelivered items are never purged);
- near matches held from broad finds (worklist `held`: nobody asked for a check) last
  seen more than `retention` ago: copies of other states' answers nobody acts on;
- the in-memory cache of peers' key documents (re-fetched and re-verified on next use).

Never purged: the state's own records, received move notices (staff act on them), the
per-student disclosure history (FERPA §99.32) and the exchange log (append-only, signed).
Each purge runs in one transaction; the job returns the counts (no student data).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from config.schema import NodeConfig
from node import clock

if TYPE_CHECKING:
    from node.services import Services


def _has_table(db: Database, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                      [name]).fetchone() is not None


def purge(db: Database, cfg: NodeConfig, *, now: float | None = None) -> dict[str, int]:
    """Delete what the policy allows (call inside one transaction: `store.run(purge, cfg)`)."""
    now = clock.now() if now is None else now
    cutoff_ms = int((now - cfg.jobs.retention) * 1000)
    out = {"sessions": 0, "record_handles": 0, "outbox_delivered": 0}
    if _has_table(db, "sessions"):
        from node.store.accounts import prune_sessions

        out["sessions"] = prune_sessions(db, now=now, idle_timeout=cfg.web.session_idle_timeout)
    if _has_table(db, "record_handles"):
        # unused for the retention period, and not named by a live cross-state link
        keep_linked = (" AND NOT EXISTS (SELECT 1 FROM links WHERE links.peer = "
                       "record_handles.peer AND links.ref = record_handles.handle AND "
                       "links.status IN ('pending', 'pending_remote', 'active'))"
                       if _has_table(db, "links") else "")
        out["record_handles"] = db.execute(
            "DELETE FROM record_handles WHERE coalesce(last_used_ms, created_ms) < ?"  # noqa: S608
            + keep_linked, [cutoff_ms]).rowcount
    if _has_table(db, "outbox"):
        out["outbox_delivered"] = db.execute(
            "DELETE FROM outbox WHERE delivered_ms IS NOT NULL AND delivered_ms < ?",
            [cutoff_ms]).rowcount
    if _has_table(db, "worklist"):
        out["worklist_held"] = db.execute(
            "DELETE FROM worklist WHERE status = 'held' AND last_seen_ms < ?",
            [cutoff_ms]).rowcount
    return out


async def retention_job(services: Services) -> dict[str, Any]:
    """Scheduler job (every `jobs.retention_interval`)."""
    counts: dict[str, Any] = await services.store.run(purge, services.cfg)
    counts["peer_key_documents"] = services.peer_keys.forget_stale()
    return counts
