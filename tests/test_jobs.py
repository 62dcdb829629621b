"""The durable job queue: jobs commit with their cause, leases expire, results are written once."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select, update

from archive.intake import LocalIntake
from archive.models import Evidence
from ingest.station import Station
from jobs import queue
from jobs.errors import LeaseLost
from jobs.models import DONE, FAILED, PENDING, RUNNING, Job
from jobs.worker import JobContext, run_one, run_worker
from tests.docks import put


@pytest.fixture
def two_evidence(settings, archive, make_clip):
    put(settings.station.dock_root, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", make_clip())
    put(settings.station.dock_root, "bay1/DSJ-A001_000123_20261123094000_0002.MP4", make_clip(tone=880))
    station = Station(settings.station, LocalIntake(archive))
    try:
        station.offload_once(settings.station.dock_root)
    finally:
        station.close()
    return archive


def test_every_new_evidence_commits_with_its_probe_job(two_evidence):
    with two_evidence.sessions() as db:
        ids = set(db.execute(select(Evidence.id)).scalars())
        jobs = db.execute(select(Job)).scalars().all()
    assert {(j.kind, j.evidence_id) for j in jobs} == {("probe", i) for i in ids}
    assert all(j.state == PENDING for j in jobs)


def test_a_claimed_job_is_not_claimed_again_while_its_lease_holds(two_evidence):
    a = queue.claim(two_evidence, worker="A", lease_s=60)
    b = queue.claim(two_evidence, worker="B", lease_s=60)
    c = queue.claim(two_evidence, worker="C", lease_s=60)
    assert a is not None and b is not None and a.id != b.id
    assert c is None  # both jobs are leased


def test_an_expired_lease_is_taken_over_and_the_old_worker_cannot_finish(two_evidence):
    a = queue.claim(two_evidence, worker="A", lease_s=60)
    with two_evidence.sessions.begin() as db:  # A's lease runs out (A died or hangs)
        db.execute(update(Job).where(Job.id == a.id)
                   .values(lease_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    b = queue.claim(two_evidence, worker="B", lease_s=60)
    assert b is not None and b.id == a.id and b.attempts == 2
    with pytest.raises(LeaseLost):
        queue.heartbeat(two_evidence, a)
    with pytest.raises(LeaseLost):
        with two_evidence.sessions.begin() as db:
            queue.finish(db, a)
    with two_evidence.sessions.begin() as db:
        queue.finish(db, b)
    with two_evidence.sessions() as db:
        assert db.get(Job, a.id).state == DONE


def test_a_failing_job_backs_off_then_gives_up(two_evidence):
    j = queue.claim(two_evidence, worker="A")
    assert queue.fail(two_evidence, j, error="disk hiccup") == PENDING
    with two_evidence.sessions() as db:
        row = db.get(Job, j.id)
        assert row.run_after > dt.datetime.now(dt.UTC) and row.last_error == "disk hiccup"
    with two_evidence.sessions.begin() as db:
        db.execute(update(Job).where(Job.id == j.id).values(attempts=5, state=RUNNING, lease_owner="A"))
    assert queue.fail(two_evidence, j, error="again") == FAILED


def test_a_handler_bug_fails_the_job_not_the_worker(two_evidence):
    def broken(ctx: JobContext) -> None:
        raise ZeroDivisionError("bug")

    j = queue.claim(two_evidence, worker="A")
    assert run_one(two_evidence, j, {"probe": broken}) == PENDING
    with two_evidence.sessions() as db:
        assert "ZeroDivisionError" in db.get(Job, j.id).last_error


def test_worker_runs_every_job_once_and_results_commit_with_done(two_evidence):
    seen: list[int] = []

    def record(ctx: JobContext) -> None:
        with ctx.commit():
            seen.append(ctx.job.evidence_id)

    stop = threading.Event()
    n = run_worker(two_evidence, {"probe": record}, stop=stop, poll_s=0.05, until_idle=True)
    assert n == 2 and sorted(seen) == sorted(set(seen))
    with two_evidence.sessions() as db:
        assert {j.state for j in db.execute(select(Job)).scalars()} == {DONE}


def test_enqueue_wakes_this_process_only_when_its_transaction_commits(two_evidence):
    with two_evidence.sessions() as db:
        ev_id = db.execute(select(Evidence.id)).scalars().first()
    before = queue.wakeup.count()
    with two_evidence.sessions() as db:
        with db.begin():
            queue.enqueue(db, kind="proxy", evidence_id=ev_id)
            queue.enqueue(db, kind="previews", evidence_id=ev_id)
            assert queue.wakeup.count() == before  # flushed, not committed: nothing to claim yet
        assert queue.wakeup.count() == before + 1  # committed: one wake-up for the transaction
        with db.begin():
            queue.enqueue(db, kind="other", evidence_id=ev_id)
            db.rollback()
        assert queue.wakeup.count() == before + 1  # rolled back: no job, no wake-up
        with db.begin():
            queue.enqueue(db, kind="proxy", evidence_id=ev_id)  # exists already: nothing added
        assert queue.wakeup.count() == before + 1


def test_an_idle_worker_is_woken_by_a_committed_job_not_by_its_poll(settings, archive, make_clip, monkeypatch):
    """poll_s is an hour: the worker can only run the docked clip's probe job if the commit woke it."""
    idle = threading.Event()
    real_claim = queue.claim

    def claim(*a, **kw):
        job = real_claim(*a, **kw)
        if job is None:
            idle.set()  # the worker found nothing and is about to sleep
        return job

    monkeypatch.setattr(queue, "claim", claim)
    ran = threading.Event()

    def record(ctx: JobContext) -> None:
        with ctx.commit():
            ran.set()

    stop = threading.Event()
    t = threading.Thread(target=run_worker, args=(archive, {"probe": record}),
                         kwargs={"stop": stop, "poll_s": 3600}, daemon=True)
    t.start()
    try:
        assert idle.wait(60)
        put(settings.station.dock_root, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", make_clip())
        station = Station(settings.station, LocalIntake(archive))
        try:
            station.offload_once(settings.station.dock_root)  # commits the evidence with its probe job
        finally:
            station.close()
        assert ran.wait(60), "the committed probe job did not wake the idle worker"
        with archive.sessions() as db:
            assert [j.state for j in db.execute(select(Job)).scalars()] == [DONE]
    finally:
        stop.set()
        t.join(timeout=5)
    assert not t.is_alive()  # a stop is seen within 0.1 s, not after the hour's poll
