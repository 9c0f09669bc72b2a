"""The worker processes of an import run (docs/IMPORT.md "Large files").

Owns the pool that prepares students in parallel for `node.importing.importer`: forked workers
(no re-import of `__main__`, nothing to load again) that run pure Python (JSON parsing,
`protocol.records` validation, blocking keys) and send back marshal bytes, and the
in-order stream of their results with a bounded number of jobs in flight, so the
importing process holds only a few pieces at a time. The children leave by os._exit and
never touch the parent's SQLite connection.

Workers die with their parent: each runs a watchdog thread that ends the worker within
`WATCHDOG_INTERVAL` once its parent is gone (a `kill -9` of `statenode import`, a crash
of the node during a drop-folder import), so no orphan keeps node.db open. A watchdog,
not Linux's parent-death signal: that signal fires when the *thread* that forked the
worker ends, which in a running node is not the same as the import ending.
"""

from __future__ import annotations

import gc
import itertools
import marshal
import multiprocessing
import os
import pickle
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from node.store.record_upsert import KeysFn

AHEAD = 3  # jobs in flight per worker
PARALLEL_MIN = 5_000  # lines of a JSON Lines file, or students of a CSV folder, before
# worker processes are used (below that, starting them costs more than they save)
PARENT_POLL_S = 0.5  # how often a worker checks that the importing process still lives
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


WATCHDOG_INTERVAL = 0.5  # seconds between a worker's checks that its parent lives


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:  # re-parented: the importing process is gone
            os._exit(70)
        time.sleep(WATCHDOG_INTERVAL)


def _worker_start(parent: int) -> None:
    """Each forked worker starts its parent watchdog, freezes the heap it inherited, so
    its garbage collector never walks (and copies on write) the parent's objects, and then
    switches the collector off: a worker makes no reference cycles, and collections cost
    it ~5%."""
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True,
                     name="parent-watchdog").start()
    if os.getppid() != parent:
        os._exit(70)
    gc.freeze()
    gc.disable()


def can_send(fn: KeysFn | None) -> bool:
    """Whether `fn` can be sent to a worker process."""
    try:
        pickle.dumps(fn)
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


def start_pool(workers: int, *, now: bool = False) -> ProcessPoolExecutor:
    """A pool of `workers` forked processes (spawned where fork is not available). All of
    them are forked at the first submit, which `in_order` makes from the calling thread:
    call it from the importing thread while the store's writer thread is idle. `now`:
    fork them at once, before the importing process grows (a CSV folder is read whole
    first; forking a large process makes every later write to its heap copy a page:
    100,000 students, 21.4 s -> 17.8 s)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        pool = ProcessPoolExecutor(workers, initializer=_worker_start, initargs=(os.getpid(),))
    else:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                   initializer=_worker_start, initargs=(os.getpid(),))
    if now:
        pool.submit(int).result()
    return pool


def in_order(pool: ProcessPoolExecutor, fn: Callable[..., bytes],
             jobs: Iterable[tuple[Any, ...]], workers: int) -> Iterator[Any]:
    """`marshal.loads(fn(*job))` for each job, in order, computed by `pool`; the first
    AHEAD × `workers` jobs are submitted now, the next one as each result is taken."""
    todo = iter(jobs)
    pending = deque(pool.submit(fn, *job) for job in itertools.islice(todo, AHEAD * workers))
    return _drain(pool, fn, pending, todo)


def _drain(pool: ProcessPoolExecutor, fn: Callable[..., bytes], pending: deque[Future[bytes]],
           todo: Iterator[tuple[Any, ...]]) -> Iterator[Any]:
    while pending:
        packed = pending.popleft().result()
        job = next(todo, None)
        if job is not None:
            pending.append(pool.submit(fn, *job))
        yield marshal.loads(packed)  # noqa: S302 (bytes from our own workers)
