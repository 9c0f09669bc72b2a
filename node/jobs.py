"""Scheduled jobs in the node's event loop (APScheduler 3.x AsyncIOScheduler).

DESIGN.md "Scheduled jobs": directory refresh, encryption-key rotation, outbox
delivery, checkpoint signing and cosigning, replay-cache pruning, retention
purge, drop-folder import. Each job is an async function of `Services` (never of
the aiohttp app), runs at most once at a time, coalesces missed runs, and never raises into the
scheduler: a failure is logged (without student data) and counted in
`JOB_STATUS` for the status page, `doctor` and `/metrics`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import TYPE_CHECKING, Any

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from node import clock
from node.appkeys import JOBS, REGISTRY, SERVICES

if TYPE_CHECKING:
    from node.services import Services

log = logging.getLogger("statenode.jobs")


@dataclass
class JobStatus:
    name: str
    interval_s: float
    runs: int = 0
    failures: int = 0
    last_run: float | None = None
    last_ok: float | None = None
    last_error: str = ""
    last_result: Any = None
    next_run: float | None = None


@dataclass
class Jobs:
    scheduler: AsyncIOScheduler
    status: dict[str, JobStatus] = field(default_factory=dict)
    funcs: dict[str, Callable[[], Awaitable[Any]]] = field(default_factory=dict)

    async def run_now(self, name: str) -> Any:
        """Run a job immediately (for tests, the CLI and the operator page)."""
        return await self.funcs[name]()

    def describe(self) -> list[dict[str, Any]]:
        out = []
        for name, st in self.status.items():
            job = self.scheduler.get_job(name)
            nxt = job.next_run_time.timestamp() if job and job.next_run_time else None
            out.append({**st.__dict__, "next_run": nxt})
        return out


JobFunction = Callable[["Services"], Awaitable[Any]]
#: name -> (interval seconds from config, coroutine function of the app); filled by create_app.


def _wrap(services: Services, status: JobStatus, fn: JobFunction,
          ) -> Callable[[], Awaitable[Any]]:
    lock = asyncio.Lock()

    async def run() -> Any:
        async with lock:
            status.runs += 1
            status.last_run = clock.now()
            try:
                result = await fn(services)
            except Exception as exc:  # a job never kills the scheduler
                status.failures += 1
                status.last_error = f"{exc.__class__.__name__}: {exc}"[:300]
                log.warning("job %s failed: %s", status.name, status.last_error)
                return None
            status.last_ok = clock.now()
            status.last_error = ""
            status.last_result = result
            return result

    return run


async def jobs_ctx(app: web.Application) -> AsyncIterator[None]:
    scheduler = AsyncIOScheduler(timezone=UTC)
    jobs = Jobs(scheduler)
    for name, (interval, fn) in app[REGISTRY].items():
        status = JobStatus(name, interval)
        run = _wrap(app[SERVICES], status, fn)
        jobs.status[name] = status
        jobs.funcs[name] = run
        scheduler.add_job(run, IntervalTrigger(seconds=max(0.5, interval)), id=name,
                          max_instances=1, coalesce=True, replace_existing=True,
                          misfire_grace_time=max(1, int(interval)))
    scheduler.start()
    app[JOBS] = jobs
    yield
    scheduler.shutdown(wait=False)
    await asyncio.sleep(0)
