"""The job queue: enqueue inside the caller's transaction, claim under a lease, finish once.

* ``enqueue`` adds the row in the same transaction as the state change that calls for it, and
  wakes this process's idle workers when that transaction commits (others poll).
* ``claim`` takes the oldest runnable job — pending and due, or running with an expired lease
  (its worker died) — with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite serialises writers
  with ``BEGIN IMMEDIATE``), and stamps it with the worker's id and a lease.
* ``heartbeat`` extends the lease while the work runs and tells the worker if it lost it.
* ``finish`` marks the job done inside the transaction that writes its results, and only if
  the worker still holds the lease: a worker whose lease expired (and whose job another worker
  took) can never commit results, so no job's results are ever written twice.
* ``fail`` retries with exponential backoff, up to ``max_attempts``; then the job is failed.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, and_, event, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from jobs.errors import LeaseLost
from jobs.models import DONE, FAILED, PENDING, RUNNING, Job
from liuhen.db import utcnow
from liuhen.words import said


class HasSessions(Protocol):
    """What the queue needs of whoever runs it (an ``archive.context.Archive``): a session factory.
    The queue knows nothing else of the archive, so any package can enqueue and run jobs."""

    @property
    def sessions(self) -> sessionmaker[Session]: ...


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    evidence_id: int | None  # None: a job about something else (an export: ``Export.job_id`` names it)
    attempts: int
    worker: str


class _Wakeup:
    """Wakes the workers of this process as soon as a transaction that enqueued a job commits.

    A counter under a condition: a worker notes the count before it looks for a job and, finding
    none, sleeps until the count moves or its ``poll_s`` passes. Workers in other processes (and
    jobs due later, after a retry's backoff) are still found by polling.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._count = 0

    def count(self) -> int:
        with self._cond:
            return self._count

    def notify(self) -> None:
        with self._cond:
            self._count += 1
            self._cond.notify_all()

    def wait(self, seen: int, timeout_s: float, stop: threading.Event | None = None) -> int:
        """Sleep until the count is no longer ``seen``, ``stop`` is set or ``timeout_s`` passed
        (``stop`` is looked at every 0.1 s); the count now."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._count == seen and not (stop is not None and stop.is_set()):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.1))
            return self._count


wakeup = _Wakeup()
_WAKE_KEY = "liuhen_jobs_wake"


def _wake_after_commit(session: Session) -> None:
    session.info.pop(_WAKE_KEY, None)
    wakeup.notify()


def enqueue(db: Session, *, kind: str, evidence_id: int) -> None:
    """Add a job in the caller's transaction (no-op if this job already exists); once that
    transaction commits, this process's idle workers are woken (:data:`wakeup`)."""
    exists = db.execute(select(Job.id).where(Job.kind == kind, Job.evidence_id == evidence_id)).first()
    if exists is None:
        db.add(Job(kind=kind, evidence_id=evidence_id, state=PENDING, run_after=utcnow()))
        db.flush()
        if not db.info.get(_WAKE_KEY):
            db.info[_WAKE_KEY] = True
            event.listen(db, "after_commit", _wake_after_commit, once=True)


def enqueue_new(db: Session, *, kind: str, max_attempts: int = 3) -> int:
    """Add a job about no evidence (an export), in the caller's transaction; its id. The row that
    the job is about names it (``Export.job_id``)."""
    job = Job(kind=kind, evidence_id=None, state=PENDING, run_after=utcnow(), max_attempts=max_attempts)
    db.add(job)
    db.flush()
    if not db.info.get(_WAKE_KEY):
        db.info[_WAKE_KEY] = True
        event.listen(db, "after_commit", _wake_after_commit, once=True)
    return job.id


def claim(archive: HasSessions, *, worker: str, kinds: tuple[str, ...] | None = None,
          lease_s: float = 60.0) -> Claimed | None:
    now = utcnow()
    with archive.sessions.begin() as db:
        runnable = or_(and_(Job.state == PENDING, Job.run_after <= now),
                       and_(Job.state == RUNNING, Job.lease_until < now))
        q = select(Job).where(runnable).order_by(Job.id).limit(1).with_for_update(skip_locked=True)
        if kinds:
            q = q.where(Job.kind.in_(kinds))
        job = db.execute(q).scalar_one_or_none()
        if job is None:
            return None
        if job.state == RUNNING and job.attempts >= job.max_attempts:
            job.state = FAILED
            job.finished_at = now
            job.last_error = (f"its worker stopped {job.attempts} times while running it "
                              f"(last: {job.lease_owner}); not retried again")
            return None
        job.state = RUNNING
        job.lease_owner = worker
        job.lease_until = now + dt.timedelta(seconds=lease_s)
        job.attempts += 1
        job.progress = 0.0
        job.started_at = now
        return Claimed(job.id, job.kind, job.evidence_id, job.attempts, worker)


def heartbeat(archive: HasSessions, job: Claimed, *, lease_s: float = 60.0, progress: float | None = None,
              note: str | None = None) -> None:
    values: dict[str, object] = {"lease_until": utcnow() + dt.timedelta(seconds=lease_s)}
    if progress is not None:
        values["progress"] = max(0.0, min(1.0, progress))
    if note is not None:
        values["note"] = note
    with archive.sessions.begin() as db:
        n = cast(CursorResult[Any], db.execute(
            update(Job).where(Job.id == job.id, Job.state == RUNNING, Job.lease_owner == job.worker)
            .values(**values))).rowcount
    if n != 1:
        raise LeaseLost(said(f"任务 {job.id}（{job.kind}）已被另一个处理进程接管", f"Job {job.id} ({job.kind}) was taken over by another worker."),
                        said("无需处理：本进程停止该任务，由另一个进程完成。", "Nothing to do: this worker stops the job and the other one finishes it."))


def finish(db: Session, job: Claimed, *, note: str | None = None) -> None:
    """Mark done within the results' transaction; raises LeaseLost (the caller rolls back) if the
    lease is no longer this worker's."""
    n = cast(CursorResult[Any], db.execute(
        update(Job).where(Job.id == job.id, Job.state == RUNNING, Job.lease_owner == job.worker)
        .values(state=DONE, progress=1.0, finished_at=utcnow(), note=note, lease_until=None))).rowcount
    if n != 1:
        raise LeaseLost(said(f"任务 {job.id}（{job.kind}）在完成前已被另一个处理进程接管", f"Job {job.id} ({job.kind}) was taken over by another worker before it finished."),
                        said("无需处理：保留另一个进程的结果。", "Nothing to do: the other worker's result is the one kept."))


def fail(archive: HasSessions, job: Claimed, *, error: str, permanent: bool = False) -> str:
    """Retry later with backoff, or give up; returns the new state."""
    with archive.sessions.begin() as db:
        row = db.get(Job, job.id, with_for_update=True)
        if row is None or row.state != RUNNING or row.lease_owner != job.worker:
            return row.state if row is not None else FAILED
        row.last_error = error
        row.lease_until = None
        if permanent or row.attempts >= row.max_attempts:
            row.state = FAILED
            row.finished_at = utcnow()
        else:
            row.state = PENDING
            row.run_after = utcnow() + dt.timedelta(seconds=min(300, 2 ** row.attempts))
        return row.state


def pending_count(db: Session) -> int:
    from sqlalchemy import func

    return db.scalar(select(func.count()).select_from(Job).where(Job.state.in_((PENDING, RUNNING)))) or 0
