"""Workers: claim a job, run its handler under a kept-alive lease, finish or retry.

A handler does its slow work (ffmpeg) outside any transaction, then writes its results and
calls ``finish`` in one transaction through ``ctx.commit``. If the worker dies, the lease
expires and another worker takes the job; if a slow worker lost its lease meanwhile, its
``commit`` is refused, so a job's results are written once. Runs as threads inside the main
process (embedded default) or as ``liuhen worker`` processes on any number of hosts.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

from jobs import queue
from jobs.errors import LeaseLost
from jobs.queue import Claimed, HasSessions
from liuhen.errors import LiuhenError

log = logging.getLogger("liuhen.worker")


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


A = TypeVar("A", bound=HasSessions)


@dataclass
class JobContext(Generic[A]):
    """What a handler gets: the archive it works for (whatever the runner passed), its job, a
    private work folder, and the lease it must keep."""

    archive: A
    job: Claimed
    workdir: Path
    lease_s: float
    progress_value: float = 0.0
    note: str | None = None
    lost: threading.Event = field(default_factory=threading.Event)

    def progress(self, fraction: float, note: str | None = None) -> None:
        self.progress_value = max(0.0, min(1.0, fraction))
        if note is not None:
            self.note = note

    @contextmanager
    def commit(self) -> Iterator[Session]:
        """The results' transaction: marks the job done, or rolls everything back if the lease is lost."""
        with self.archive.sessions.begin() as db:
            queue.finish(db, self.job, note=self.note)
            yield db


Handler = Callable[[JobContext[Any]], None]


def run_one(archive: HasSessions, job: Claimed, handlers: Mapping[str, Handler], *, lease_s: float = 60.0) -> str:
    """Run one claimed job to its end; returns the job's new state."""
    handler = handlers.get(job.kind)
    if handler is None:
        return queue.fail(archive, job, error=f"this worker cannot run jobs of kind {job.kind!r}", permanent=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"liuhen-job{job.id}-"))
    ctx = JobContext(archive, job, workdir, lease_s)
    stop = threading.Event()

    def keep_alive() -> None:
        while not stop.wait(max(0.2, lease_s / 3)):
            try:
                queue.heartbeat(archive, job, lease_s=lease_s, progress=ctx.progress_value, note=ctx.note)
            except LeaseLost:
                ctx.lost.set()
                return
            except LiuhenError:
                continue  # the database hiccupped; the next beat tries again

    beat = threading.Thread(target=keep_alive, name=f"lease-{job.id}", daemon=True)
    beat.start()
    log.info("job-start %s %s evidence=%s attempt=%s worker=%s", job.id, job.kind, job.evidence_id, job.attempts,
             job.worker)
    state = "failed"
    try:
        handler(ctx)
        state = "done"
        return state
    except LeaseLost:
        state = "lost"
        return state
    except LiuhenError as e:
        state = queue.fail(archive, job, error=e.diagnostics())
        return state
    except Exception as e:  # a bug in a handler must not kill the worker; the job row shows it
        state = queue.fail(archive, job, error=f"internal error: {type(e).__name__}: {e}\n"
                           + "".join(traceback.format_exc(limit=5)))
        return state
    finally:
        log.info("job-end %s %s %s worker=%s", job.id, job.kind, state, job.worker)
        stop.set()
        beat.join(timeout=5)
        shutil.rmtree(workdir, ignore_errors=True)


def run_worker(archive: HasSessions, handlers: Mapping[str, Handler], *, stop: threading.Event,
               worker: str | None = None, lease_s: float = 60.0, poll_s: float = 1.0,
               until_idle: bool = False) -> int:
    """Claim and run jobs until ``stop`` is set (or, with ``until_idle``, until none is runnable).

    An idle worker sleeps until a job is enqueued in this process (``queue.wakeup``) or
    ``poll_s`` passes, whichever comes first."""
    worker = worker or worker_id()
    ran = 0
    while not stop.is_set():
        seen = queue.wakeup.count()  # before the claim: a job committed after it still wakes us
        job = queue.claim(archive, worker=worker, kinds=tuple(handlers), lease_s=lease_s)
        if job is None:
            if until_idle:
                with archive.sessions() as db:
                    if queue.pending_count(db) == 0:
                        return ran
            # woken at once by a job enqueued in this process; else after poll_s (other
            # processes' jobs, retries that fall due)
            queue.wakeup.wait(seen, poll_s, stop)
            continue
        run_one(archive, job, handlers, lease_s=lease_s)
        ran += 1
    return ran


def start_threads(archive: HasSessions, handlers: Mapping[str, Handler], *, threads: int, stop: threading.Event,
                  lease_s: float = 60.0, poll_s: float = 1.0) -> list[threading.Thread]:
    """Embedded default: workers as threads of this process, stopped with ``stop``."""
    out = []
    for i in range(max(1, threads)):
        t = threading.Thread(target=run_worker, args=(archive, handlers),
                             kwargs={"stop": stop, "lease_s": lease_s, "poll_s": poll_s},
                             name=f"media-worker-{i}", daemon=True)
        t.start()
        out.append(t)
    return out
