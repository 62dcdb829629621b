"""Continuous fixity: every stored object (originals and derived files) re-hashed within a period.

* ``hash_parallel`` re-hashes stored objects on all cores: threads, each reading through
  ``archive.store`` (local folder or S3) and hashing with hashlib, which releases the GIL while
  it reads and hashes, so N threads use N cores. ``liuhen verify`` hashes its originals with it too.
* ``run`` is one audit pass: it takes the objects due (never checked, or last checked longer ago
  than ``[fixity] period_days`` less the scheduler's interval), claims them a few at a time under a
  lease (``fixity_state.claimed_by``/``claimed_until``, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL)
  so that audits on several hosts never share an object, hashes them in parallel and commits each
  result as it comes: a ``verified`` custody event (success or failure) and the object's state row
  in ONE transaction. A crash or kill leaves every committed result in place and loses only the
  objects in flight, whose claim expires after ``lease_seconds``; the next pass checks them and
  nothing else, so each object is checked once in the period.
* A failure is an alert three times over: the custody event (outcome ``failure``), a log line at
  ERROR, and the object's state (``last_outcome = 'failure'``) that ``status`` — ``liuhen fixity
  status`` and the console — shows until a later check finds the object whole again.
* ``scheduler`` runs passes every ``interval_minutes`` inside ``liuhen serve`` and ``liuhen worker``
  (the first a minute after start).
* The embedded station's originals are stored on the station's own stream digest (one hash pass,
  ``archive.service.receive(trusted=True)``); their state row is written with the evidence, never
  checked, so the next pass re-reads them first. ``check_now`` runs that check at once for one
  object, cold (its cached pages dropped first, so the disk is read, not memory): the station
  calls it, through ``archive.service.verify_received``, before it wipes a recorder file.
* Evidence destroyed by a disposal has no bytes by design. The archive layer knows nothing of
  retention, so the roof passes ``gone``: a query of the evidence ids whose bytes are gone
  (``retention.verify.gone``). Their originals, and derived files no other evidence shares, are
  neither tracked, claimed nor counted; ``liuhen verify`` checks that they really are absent.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, exists, func, literal, or_, select, true, union, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

import liuhen
from archive.context import Archive
from archive.errors import StoreError
from archive.models import DerivedFile, Evidence, FixityState
from hashing import digest as digesting
from hashing.digest import Digest, hash_stream
from liuhen.config import FixitySettings
from liuhen.db import utcnow

log = logging.getLogger("liuhen.fixity")

ORIGINAL, DERIVED = "original", "derived"
CHUNK = 1024 * 1024  # per read: large enough that hashlib releases the GIL, small enough for many threads


def cores(threads: int = 0) -> int:
    """Hashing threads: ``threads``, or one per core this process may run on."""
    if threads > 0:
        return threads
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class StoredItem:
    """One stored object to re-hash and what it must hash to."""

    key: str
    version: str | None
    sha256: str
    size: int
    kind: str  # original | derived
    evidence_id: int | None
    derived_kind: str | None = None  # proxy, poster, ... for a derived file


@dataclass(frozen=True)
class Hashed:
    """What re-hashing one object found: ``problem`` is None when it is whole."""

    item: StoredItem
    sha256: str | None  # None when it could not be read
    size: int
    problem: str | None
    action: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _drop_cached(f: Any) -> None:
    """Ask the kernel to drop the file's cached pages (clean after the store's fsync), so what is
    hashed next comes from the disk. A no-op where that is not possible (S3 streams, not Linux)."""
    try:
        fd = f.fileno()
    except (AttributeError, OSError, ValueError):
        return
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)


def hash_one(archive: Archive, item: StoredItem, *, cold: bool = False) -> Hashed:
    what = "original" if item.kind == ORIGINAL else f"derived file ({item.derived_kind})"
    try:
        with archive.store.open(item.key, item.version) as f:
            if cold:
                _drop_cached(f)
            got, n = hash_stream(f, CHUNK)
    except StoreError as e:
        return Hashed(item, None, 0, f"the stored {what} of evidence {item.evidence_id} cannot be read: {e.detail}",
                      e.action or "Restore it from backup.")
    except OSError as e:  # a bad sector, a file turned into something else: what fixity is there to find
        return Hashed(item, None, 0, f"the stored {what} {item.key} of evidence {item.evidence_id} cannot be read: "
                      f"{e.strerror or e}",
                      "Check the disk (dmesg, SMART) and restore the object from backup.")
    if got != Digest(item.sha256) or n != item.size:
        return Hashed(item, got.hex, n,
                      f"the stored {what} {item.key} of evidence {item.evidence_id} now hashes to {got.hex} "
                      f"({n} bytes), not {item.sha256} ({item.size} bytes)",
                      "The stored copy is damaged: restore it from backup (an original can also be re-offloaded "
                      "from the recorder, a derived file re-made from its original); keep the damaged copy "
                      "for investigation.")
    return Hashed(item, got.hex, n, None, None)


def hash_parallel(archive: Archive, items: Iterable[StoredItem], *, threads: int = 0) -> Iterator[Hashed]:
    """Re-hash ``items`` on ``threads`` threads (0: one per core), yielding each result as it is done
    (not in order). At most twice as many objects as threads are open at once."""
    n = cores(threads)
    pending = iter(items)
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="fixity") as pool:
        inflight: set[Future[Hashed]] = set()
        exhausted = False
        while True:
            while not exhausted and len(inflight) < 2 * n:
                item = next(pending, None)
                if item is None:
                    exhausted = True
                else:
                    inflight.add(pool.submit(hash_one, archive, item))
            if not inflight:
                return
            done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
            for fut in done:
                yield fut.result()


def record(db: Session, archive: Archive, h: Hashed, *, actor: str, detail: dict[str, Any] | None = None) -> str:
    """The ``verified`` custody event of one re-hashed object, in the caller's transaction; returns the
    outcome. A failure is also logged at ERROR (the alert an operator's log watcher sees)."""
    it = h.item
    outcome = "success" if h.ok else "failure"
    info: dict[str, Any] = {"object": it.kind, "store": archive.store.describe(), "key": it.key,
                            "liuhen": liuhen.__version__, **(detail or {})}
    if it.derived_kind:
        info["derived"] = it.derived_kind
    if not h.ok:
        info["problem"] = h.problem
        if h.sha256:
            info["found_sha256"], info["found_size"] = h.sha256, h.size
        log.error("FIXITY FAILURE: %s. %s", h.problem, h.action)
    archive.custody.record(db, actor=actor, action="verified", evidence_id=it.evidence_id, object_sha256=it.sha256,
                           outcome=outcome, tool=digesting.TOOL, tool_version=digesting.TOOL_VERSION, detail=info)
    return outcome


# ---------------------------------------------------------------------------------------------
# the audit


@dataclass
class AuditResult:
    checked: int = 0
    failed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    bytes: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"ok": not self.failed, "checked": self.checked, "failed": self.failed, "bytes": self.bytes,
                "seconds": round(self.seconds, 3), "failures": self.failures}


def audit_id() -> str:
    return f"fixity:{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


Gone = Select[int]
"""A query of the ids of evidence whose bytes are gone by design (destroyed by a disposal): passed
down by the roof (``retention.verify.gone``), as the archive may not know of retention."""


def dead_keys(gone: Gone) -> Any:
    """The store keys that only ``gone`` evidence names: their originals, and derived files no other
    evidence shares (a select of one column, ``store_key``)."""
    live = aliased(DerivedFile)
    originals = select(Evidence.store_key).where(Evidence.id.in_(gone))
    derived = (select(DerivedFile.store_key).where(DerivedFile.evidence_id.in_(gone))
               .where(~exists().where(live.store_key == DerivedFile.store_key, live.evidence_id.not_in(gone))))
    return union(originals, derived)


def _live(gone: Gone | None) -> Any:
    """A clause on ``FixityState``: its object is not one that only destroyed evidence names."""
    if gone is None:
        return true()
    return FixityState.store_key.not_in(select(dead_keys(gone).subquery().c[0]))  # keys are never NULL


def track(db: Session, *, gone: Gone | None = None) -> None:
    """Give every stored object a state row (new originals and derived files since the last pass);
    objects of ``gone`` evidence (destroyed) get none."""
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    cols = [FixityState.store_key, FixityState.kind, FixityState.evidence_id]
    known = select(FixityState.store_key)
    originals = select(Evidence.store_key, literal(ORIGINAL), Evidence.id).where(Evidence.store_key.not_in(known))
    derived = (select(DerivedFile.store_key, literal(DERIVED), func.min(DerivedFile.evidence_id))
               .where(DerivedFile.store_key.not_in(known)).group_by(DerivedFile.store_key))
    if gone is not None:
        originals = originals.where(Evidence.id.not_in(gone))
        derived = derived.where(DerivedFile.evidence_id.not_in(gone))
    for q in (originals, derived):
        db.execute(insert(FixityState).from_select(cols, q).on_conflict_do_nothing())


def _due_clause(cutoff: dt.datetime) -> Any:
    return or_(FixityState.last_checked_at.is_(None), FixityState.last_checked_at < cutoff)


def cutoff_for(settings: FixitySettings, now: dt.datetime) -> dt.datetime:
    """An object last checked before this is due: the period less one scheduler interval, so that the
    scheduler reaches it before the period is over."""
    return now - dt.timedelta(days=settings.period_days) + dt.timedelta(minutes=settings.interval_minutes)


def _claim(archive: Archive, *, me: str, cutoff: dt.datetime, n: int, lease_s: float,
           gone: Gone | None = None) -> list[StoredItem]:
    now = utcnow()
    with archive.sessions.begin() as db:
        free = or_(FixityState.claimed_until.is_(None), FixityState.claimed_until < now)
        keys = list(db.execute(
            select(FixityState.store_key).where(_due_clause(cutoff), free, _live(gone))
            .order_by(FixityState.last_checked_at.asc().nulls_first(), FixityState.store_key)
            .limit(n).with_for_update(skip_locked=True)).scalars())
        if not keys:
            return []
        db.execute(update(FixityState).where(FixityState.store_key.in_(keys))
                   .values(claimed_by=me, claimed_until=now + dt.timedelta(seconds=lease_s)))
        return _items(db, keys, gone)


def _items(db: Session, keys: list[str], gone: Gone | None = None) -> list[StoredItem]:
    items: dict[str, StoredItem] = {}
    for e in db.execute(select(Evidence.store_key, Evidence.store_version, Evidence.sha256, Evidence.size, Evidence.id)
                        .where(Evidence.store_key.in_(keys))):
        items[e.store_key] = StoredItem(e.store_key, e.store_version, e.sha256, e.size, ORIGINAL, e.id)
    derived = (select(DerivedFile.store_key, DerivedFile.store_version, DerivedFile.sha256, DerivedFile.size,
                      DerivedFile.evidence_id, DerivedFile.kind)
               .where(DerivedFile.store_key.in_(keys)).order_by(DerivedFile.id))
    if gone is not None:  # a shared derived file is checked as the living evidence's
        derived = derived.where(DerivedFile.evidence_id.not_in(gone))
    for d in db.execute(derived):
        items.setdefault(d.store_key, StoredItem(d.store_key, d.store_version, d.sha256, d.size, DERIVED,
                                                 d.evidence_id, d.kind))
    for key in keys:  # tracked, but its row is gone: released here; `liuhen verify` names the missing row
        if key not in items:
            db.execute(update(FixityState).where(FixityState.store_key == key)
                       .values(claimed_by=None, claimed_until=None, last_checked_at=utcnow(), last_outcome="gone",
                               last_detail="no evidence or derived-file row names this object any more"))
    return [items[k] for k in keys if k in items]


def run(archive: Archive, *, settings: FixitySettings, actor: str = "system:fixity", everything: bool = False,
        stop: threading.Event | None = None, progress: Callable[[int, int], None] | None = None,
        gone: Gone | None = None) -> AuditResult:
    """One audit pass: every object due (``everything``: every object not yet checked by this pass),
    re-hashed in parallel, each result committed as it comes. Returns when nothing due is left
    unclaimed, or when ``stop`` is set (the objects in flight are finished and recorded first).
    Objects only ``gone`` (destroyed) evidence names are skipped."""
    import time

    started, t0 = utcnow(), time.monotonic()
    me = audit_id()
    cutoff = started if everything else cutoff_for(settings, started)
    n = cores(settings.threads)
    with archive.sessions.begin() as db:
        track(db, gone=gone)
        total = db.scalar(select(func.count()).select_from(FixityState).where(_due_clause(cutoff), _live(gone))) or 0
    result = AuditResult()

    def items() -> Iterator[StoredItem]:
        while stop is None or not stop.is_set():
            batch = _claim(archive, me=me, cutoff=cutoff, n=n, lease_s=settings.lease_seconds, gone=gone)
            if not batch:
                return
            yield from batch

    for h in hash_parallel(archive, items(), threads=n):
        with archive.sessions.begin() as db:
            # only while this audit still holds the object: one whose lease ran out may be another's now
            mine = db.execute(update(FixityState).where(FixityState.store_key == h.item.key,
                                                        FixityState.claimed_by == me)
                              .values(claimed_by=None, claimed_until=None, last_checked_at=utcnow(),
                                      last_outcome="success" if h.ok else "failure", last_detail=h.problem))
            if getattr(mine, "rowcount", 1) != 1:
                continue
            record(db, archive, h, actor=actor, detail={"audit": "continuous", "period_days": settings.period_days})
        result.checked += 1
        result.bytes += h.size
        if not h.ok:
            result.failed += 1
            result.failures.append({"key": h.item.key, "object": h.item.kind, "evidence_id": h.item.evidence_id,
                                    "detail": h.problem, "action": h.action})
        if progress:
            progress(result.checked, max(total, result.checked))
    if result.checked:
        with archive.sessions.begin() as db:
            archive.custody.checkpoint(db)
    result.seconds = time.monotonic() - t0
    return result


def check_now(archive: Archive, item: StoredItem, *, actor: str, detail: dict[str, Any] | None = None) -> bool:
    """Re-hash one stored object now, cold, and commit its ``verified`` event and state row together
    (as an audit pass would); True when it is whole. Used for the independent check of an original
    the embedded station handed in on its own digest, before its recorder file may be wiped."""
    h = hash_one(archive, item, cold=True)
    with archive.sessions.begin() as db:
        values = dict(claimed_by=None, claimed_until=None, last_checked_at=utcnow(),
                      last_outcome="success" if h.ok else "failure", last_detail=h.problem)
        done = db.execute(update(FixityState).where(FixityState.store_key == item.key).values(**values))
        if getattr(done, "rowcount", 1) != 1:
            db.add(FixityState(store_key=item.key, kind=item.kind, evidence_id=item.evidence_id, **values))
        record(db, archive, h, actor=actor, detail=detail)
    return h.ok


@dataclass(frozen=True)
class Status:
    objects: int
    checked_in_period: int
    due: int
    never_checked: int
    failing: list[dict[str, Any]]
    oldest_check: dt.datetime | None
    period_days: float

    @property
    def ok(self) -> bool:
        return not self.failing

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "objects": self.objects, "checked_in_period": self.checked_in_period,
                "due": self.due, "never_checked": self.never_checked, "period_days": self.period_days,
                "oldest_check": self.oldest_check.isoformat() if self.oldest_check else None,
                "failing": self.failing}


def status(archive: Archive, *, settings: FixitySettings, gone: Gone | None = None) -> Status:
    """Where the audit stands: how many objects, how many checked within the period, how many due, and
    every object whose last check failed (the alert stays visible until a check finds it whole).
    Objects only ``gone`` (destroyed) evidence names are not counted."""
    now = utcnow()
    with archive.sessions.begin() as db:
        track(db, gone=gone)
        live = and_(FixityState.last_outcome.is_distinct_from("gone"), _live(gone))
        objects = db.scalar(select(func.count()).select_from(FixityState).where(live)) or 0
        in_period = db.scalar(select(func.count()).select_from(FixityState).where(
            live, FixityState.last_checked_at >= now - dt.timedelta(days=settings.period_days))) or 0
        due = db.scalar(select(func.count()).select_from(FixityState).where(
            live, _due_clause(cutoff_for(settings, now)))) or 0
        never = db.scalar(select(func.count()).select_from(FixityState).where(
            FixityState.last_checked_at.is_(None), _live(gone))) or 0
        oldest = db.scalar(select(func.min(FixityState.last_checked_at)).where(live))
        failing = [{"key": s.store_key, "object": s.kind, "evidence_id": s.evidence_id,
                    "checked_at": s.last_checked_at.isoformat() if s.last_checked_at else None,
                    "detail": s.last_detail}
                   for s in db.execute(select(FixityState).where(FixityState.last_outcome == "failure", _live(gone))
                                       .order_by(FixityState.last_checked_at)).scalars()]
    return Status(objects, in_period, due, never, failing, oldest, settings.period_days)


def mark_checked(db: Session, *, key: str, outcome: str, detail: str | None) -> None:
    """A check made elsewhere (``liuhen verify``) counts for the audit too."""
    db.execute(update(FixityState).where(FixityState.store_key == key, FixityState.claimed_by.is_(None))
               .values(last_checked_at=utcnow(), last_outcome=outcome, last_detail=detail))


def scheduler(archive: Archive, *, settings: FixitySettings, stop: threading.Event,
              first_after_s: float = 60.0, gone: Gone | None = None) -> threading.Thread:
    """A thread that runs an audit pass ``first_after_s`` after it starts (so that start-up stays
    quick) and then every ``interval_minutes``, until ``stop``; objects of ``gone`` evidence skipped."""

    def loop() -> None:
        stop.wait(first_after_s)
        while not stop.is_set():
            try:
                r = run(archive, settings=settings, stop=stop, gone=gone)
                if r.checked:
                    log.info("fixity audit: %d object(s) re-hashed, %d failure(s)", r.checked, r.failed)
            except Exception:  # the audit must outlive a database hiccup; the next pass retries
                log.exception("fixity audit pass failed; retrying in %s minutes", settings.interval_minutes)
            stop.wait(settings.interval_minutes * 60)

    t = threading.Thread(target=loop, name="fixity-scheduler", daemon=True)
    t.start()
    return t
