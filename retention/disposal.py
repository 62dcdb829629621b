"""Disposal (销毁): evidence past its keep-until becomes *pending* for ``grace_days``, in which anyone
entitled may restore it with a reason; after the grace period, and with two people's signatures when
``require_approval`` (the approver is never the one who scheduled it), its bytes are destroyed in the
store — the original and every derived file no remaining evidence needs (S3: every version) — while
the evidence row stays as a tombstone (hash, size, metadata, sightings, links, custody).

A destruction goes in three steps, each safe to be cut short (``kill -9``) at any point:

1. one transaction re-decides the evidence's retention from fresh inputs (a hold, an open case or a
   moved date restores it instead), then moves the disposal to ``destroying`` and records the custody
   event ``destroyed``: the destruction record (销毁记录) with what, its hash, the store keys to
   remove, the rule, who scheduled and who approved, when. A trigger refuses the move for held
   evidence or evidence linked to an open case (``0012``), below this code;
2. the bytes go, key by key (``store.destroy``: 0 when already gone, so a repeat is safe);
3. one transaction marks it ``destroyed`` with the keys removed (``destruction_completed``), drops
   their fixity state and cancels the evidence's queued media jobs.

Bytes are therefore never missing without a record; a run that was cut short leaves ``destroying``
items, and the next run finishes them from their record. Before anything, the store is asked whether
it can be reached (``store.ping``): an unreachable store marks nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, insert, literal, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

import liuhen
from archive.context import Archive
from archive.errors import StoreError
from archive.models import DerivedFile, Evidence, FixityState
from cases.models import Case, EvidenceLink, Step
from hashing.binding import bound
from hashing.custody import CustodyLog
from hashing.models import CustodyEvent
from jobs.models import FAILED, PENDING, Job
from liuhen import faults
from liuhen.config import RetentionSettings
from liuhen.db import utcnow
from liuhen.words import said
from retention import rules, service
from retention.bindings import APPROVAL, DISPOSAL
from retention.errors import DisposalRefused, ReasonRequired, StoreUnavailable, UnknownDisposal
from retention.models import Disposal, DisposalApproval, RetentionState

log = logging.getLogger("liuhen.retention")

TOOL = service.TOOL
SYSTEM = "system:retention"
EVENT_CHUNK = 500  # bound rows per custody event
GONE = ("destroying", "destroyed")


def _iso(t: dt.datetime | None) -> str | None:
    return rules.iso(t) if t is not None else None


def _version() -> str:
    return liuhen.__version__


# ---------------------------------------------------------------------------- scheduling


def compute_missing(db: Session, custody: CustodyLog, settings: RetentionSettings, *, actor: str) -> int:
    """Compute the retention of evidence that has none yet (received before retention existed), in
    batches, in the caller's transaction. Returns how many."""
    n = 0
    while True:
        ids = service.missing_ids(db)
        if not ids:
            return n
        service.recompute(db, custody, settings, evidence_ids=ids, actor=actor, reason="first computation")
        db.flush()
        n += len(ids)
        faults.point("disposal.schedule.missing")


def schedule(db: Session, custody: CustodyLog, settings: RetentionSettings, *, now: dt.datetime, actor: str,
             units: Iterable[int] | None = None) -> list[int]:
    """Make every due evidence (``retention.service.due``) pending disposal until ``now + grace_days``:
    one set-based ``INSERT ... SELECT``, then ``disposal_scheduled`` custody events binding the new rows
    (``EVENT_CHUNK`` a event). In the caller's transaction. Returns the new disposal ids."""
    faults.point("disposal.schedule.begin")
    compute_missing(db, custody, settings, actor=actor)
    before = db.scalar(select(func.coalesce(func.max(Disposal.id), 0))) or 0
    due = service.due(now, units=units).subquery()
    cls = func.coalesce(due.c.class_name, settings.default_class)
    rule = literal('{"class":"') + cls + literal('","reasons":') + due.c.reasons + literal("}")
    due_at = now + dt.timedelta(days=settings.grace_days)
    db.execute(insert(Disposal).from_select(
        ["evidence_id", "state", "rule", "scheduled_at", "scheduled_by", "due_at"],
        select(due.c.evidence_id, literal("pending"), rule, literal(now, Disposal.scheduled_at.type),
               literal(actor), literal(due_at, Disposal.due_at.type))))
    faults.point("disposal.schedule.inserted")
    rows = list(db.scalars(select(Disposal).where(Disposal.id > before, Disposal.state == "pending",
                                                  Disposal.scheduled_by == actor).order_by(Disposal.id)))
    for i in range(0, len(rows), EVENT_CHUNK):
        chunk = rows[i:i + EVENT_CHUNK]
        one = chunk[0].evidence_id if len(chunk) == 1 else None
        custody.record(db, actor=actor, action="disposal_scheduled", tool=TOOL, tool_version=_version(),
                       evidence_id=one,
                       object_sha256=db.scalar(select(Evidence.sha256).where(Evidence.id == one)) if one else None,
                       detail={"count": len(chunk), "due_at": _iso(due_at), "grace_days": settings.grace_days,
                               "disposals": [[d.id, d.evidence_id] for d in chunk],
                               "bound": bound(*((DISPOSAL, d) for d in chunk))})
        faults.point("disposal.schedule.event")
    return [d.id for d in rows]


# ---------------------------------------------------------------------------- one disposal, by a person


def _locked(db: Session, disposal_id: int) -> Disposal | None:
    """The disposal, its row locked until the transaction ends (PostgreSQL; SQLite writers are serial):
    a restore, an approval and the start of a destruction of one disposal never interleave."""
    return db.execute(select(Disposal).where(Disposal.id == disposal_id).with_for_update()
                      .execution_options(populate_existing=True)).scalar_one_or_none()


def _get(db: Session, disposal_id: int, visible_units: Iterable[int] | None) -> tuple[Disposal, Evidence]:
    d = _locked(db, disposal_id)
    ev = db.get(Evidence, d.evidence_id) if d is not None else None
    if d is None or ev is None or (visible_units is not None and ev.unit_id not in set(visible_units)):
        raise UnknownDisposal(said(f"没有待销毁记录 {disposal_id}，或您无权查看", f"No disposal {disposal_id} that you may see."),
                              said("请在待销毁列表（liuhen retention pending）中核对编号。", "Check the id on the pending-disposal queue (`liuhen retention pending`)."))
    return d, ev


def _pending_only(d: Disposal, doing: str) -> None:
    if d.state != "pending":
        raise DisposalRefused(said(f"待销毁记录 {d.id} 的状态为 {d.state}，不能{doing}", f"Disposal {d.id} is {d.state}: only a "
                                   f"pending disposal can be {'restored' if doing == '恢复' else 'approved'}."),
                              said("请用 liuhen retention pending 或 liuhen retention log 查看。", "Look at it with `liuhen retention pending` or `liuhen retention log`."))


def restore(db: Session, custody: CustodyLog, settings: RetentionSettings, *, disposal_id: int, reason: str,
            actor: str, visible_units: Iterable[int] | None, class_name: str | None = None,
            context: dict[str, Any] | None = None) -> Disposal:
    """Keep a pending evidence (within or after its grace period, until destruction starts), with a
    reason; optionally give it another class. The evidence's keep-until then counts its class again
    from now (the ``restored`` reason of ``retention.rules``)."""
    d, ev = _get(db, disposal_id, visible_units)
    _pending_only(d, "恢复")
    why = reason.strip()
    if not why:
        raise ReasonRequired(said("恢复须说明理由", "A restore needs a reason."), said("请说明为何须保留，例如 当事人已申请复议。", "Say why it must be kept, e.g. 当事人已申请复议."))
    if class_name is not None:
        service.set_class(db, custody, settings, evidence_id=ev.id, class_name=class_name, actor=actor, reason=why,
                          context=context)
    d.state = "restored"
    d.restored_at = utcnow()
    d.restored_by = actor
    d.restore_reason = why
    db.flush()
    custody.record(db, actor=actor, action="disposal_restored", tool=TOOL, tool_version=_version(),
                   evidence_id=ev.id, object_sha256=ev.sha256,
                   detail={"disposal_id": d.id, "reason": why, "class": class_name, **(context or {}),
                           "bound": bound((DISPOSAL, d))})
    return d


def approve(db: Session, custody: CustodyLog, settings: RetentionSettings, *, disposal_id: int, actor: str,
            visible_units: Iterable[int] | None, context: dict[str, Any] | None = None) -> DisposalApproval:
    """A person's approval of a pending disposal: never the one who scheduled it, once per person."""
    d, ev = _get(db, disposal_id, visible_units)
    _pending_only(d, "批准")
    if rules.person(actor) is not None and rules.person(actor) == rules.person(d.scheduled_by):
        raise DisposalRefused(said(f"销毁由 {actor} 安排，不能由同一人批准", f"{actor} scheduled disposal {d.id} and cannot "
                                   "also approve it: two different people sign every destruction."),
                              said("请另一位档案管理员批准。", "Ask another records manager to approve it."))
    if not rules.is_person(actor):
        raise DisposalRefused(said("只有人员可以批准销毁", f"Only a person can approve a disposal, not {actor}."),
                              said("请以您本人的账户在控制台或用 liuhen retention approve 批准。", "Approve it in the console or with `liuhen retention approve` under your own account."))
    if rules.person(actor) in {rules.person(a) for a in db.scalars(
            select(DisposalApproval.actor).where(DisposalApproval.disposal_id == d.id))}:
        raise DisposalRefused(said(f"{actor} 已批准过待销毁记录 {d.id}", f"{actor} has already approved disposal {d.id}."),
                              said("第二次批准须由另一人作出。", "A second approval must come from another person."))
    a = DisposalApproval(disposal_id=d.id, actor=actor, at=utcnow())
    db.add(a)
    db.flush()
    approvers = list(db.scalars(select(DisposalApproval.actor).where(DisposalApproval.disposal_id == d.id)))
    custody.record(db, actor=actor, action="disposal_approved", tool=TOOL, tool_version=_version(),
                   evidence_id=ev.id, object_sha256=ev.sha256,
                   detail={"disposal_id": d.id, "approved": rules.approved(settings, d.scheduled_by, approvers),
                           **(context or {}), "bound": bound((APPROVAL, a))})
    return a


# ---------------------------------------------------------------------------- destruction


@dataclass
class Report:
    scheduled: int = 0
    destroyed: list[int] = field(default_factory=list)  # evidence ids
    restored_automatically: list[dict[str, Any]] = field(default_factory=list)
    waiting_approval: int = 0
    waiting_grace: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    bytes_destroyed: int = 0
    locks: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"scheduled": self.scheduled, "destroyed": len(self.destroyed), "destroyed_evidence": self.destroyed,
                "bytes_destroyed": self.bytes_destroyed,
                "restored_automatically": len(self.restored_automatically),
                "restored": self.restored_automatically, "waiting_approval": self.waiting_approval,
                "waiting_grace": self.waiting_grace, "failed": len(self.failed), "failures": self.failed,
                **({"locks": self.locks} if self.locks is not None else {})}


def _approvers(db: Session, ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for i in range(0, len(ids), service.CHUNK):
        for did, actor in db.execute(select(DisposalApproval.disposal_id, DisposalApproval.actor)
                                     .where(DisposalApproval.disposal_id.in_(ids[i:i + service.CHUNK]))
                                     .order_by(DisposalApproval.id)):
            out.setdefault(did, []).append(actor)
    return out


def _ready(db: Session, settings: RetentionSettings, now: dt.datetime,
           units: Iterable[int] | None = None) -> tuple[list[int], int, int]:
    """The disposals to carry out now (``destroying`` ones first: a run cut short), and how many due
    ones wait for approval and how many pending ones wait for their grace period to end; with
    ``units``, only those of evidence of those units."""
    q = (select(Disposal.id, Disposal.state, Disposal.scheduled_by, Disposal.due_at)
         .where(Disposal.state.in_(("pending", "destroying"))).order_by(Disposal.id))
    if units is not None:
        q = q.join(Evidence, Evidence.id == Disposal.evidence_id).where(Evidence.unit_id.in_(sorted(set(units))))
    rows = db.execute(q).all()
    signed = _approvers(db, [r[0] for r in rows if r[1] == "pending"])
    go, waiting, grace = [r[0] for r in rows if r[1] == "destroying"], 0, 0
    for did, state, by, due_at in rows:
        if state != "pending":
            continue
        if due_at > now:
            grace += 1
        elif rules.approved(settings, by, signed.get(did, [])):
            go.append(did)
        else:
            waiting += 1
    return go, waiting, grace


def _keys(db: Session, ev: Evidence) -> tuple[list[str], list[str]]:
    """The store keys to remove with ``ev``, and those kept because evidence still needing them shares
    them (the same derived content of another recording)."""
    mine = [ev.store_key, *db.scalars(select(DerivedFile.store_key).where(DerivedFile.evidence_id == ev.id)
                                       .order_by(DerivedFile.id))]
    mine = list(dict.fromkeys(mine))
    gone = select(Disposal.evidence_id).where(Disposal.state.in_(GONE))
    needed = set(db.scalars(select(DerivedFile.store_key).where(
        DerivedFile.store_key.in_(mine), DerivedFile.evidence_id != ev.id, DerivedFile.evidence_id.not_in(gone))))
    needed.update(db.scalars(select(Evidence.store_key).where(
        Evidence.store_key.in_(mine), Evidence.id != ev.id, Evidence.id.not_in(gone))))
    return [k for k in mine if k not in needed], [k for k in mine if k in needed]


def _object_locked(db: Session, evidence_id: int, now: dt.datetime) -> str | None:
    """Why the store's Object Lock would refuse to delete the evidence's objects now (as mirrored by
    ``holds.sync_locks``: a legal hold on, or a retain-until date still ahead), or None."""
    state = db.get(RetentionState, evidence_id)
    if state is None:
        return None
    if state.lock_hold:
        return "an object legal hold is on"
    if state.lock_until is not None and state.lock_until > now:
        return f"retained until {_iso(state.lock_until)}"
    return None


def _record_of(db: Session, d: Disposal) -> dict[str, Any] | None:
    """The destruction record (the ``destroyed`` event's detail) of a disposal under way."""
    for detail in db.scalars(select(CustodyEvent.detail).where(CustodyEvent.evidence_id == d.evidence_id,
                                                               CustodyEvent.action == "destroyed")
                             .order_by(CustodyEvent.seq.desc())):
        rec: dict[str, Any] = json.loads(detail or "{}")
        if rec.get("disposal_id") == d.id:
            return rec
    return None


def _refused_words(e: DBAPIError) -> str:
    text = str(e.orig) if e.orig is not None else str(e)
    return text.strip().splitlines()[0][:300]


def _start(archive: Archive, disposal_id: int, now: dt.datetime, actor: str, report: Report) -> dict[str, Any] | None:
    """Step 1: re-decide, then ``destroying`` with its record, committed. Returns the record, or None
    when the item is not to be destroyed now (restored, refused)."""
    settings = archive.settings.retention
    try:
        with archive.sessions.begin() as db:
            d = _locked(db, disposal_id)
            if d is None or d.state not in ("pending", "destroying"):
                return None
            # On PostgreSQL (read committed) a hold or link being added in another transaction holds a key
            # share on the evidence row until it commits, and a case being reopened its row: lock both, so
            # that the decision below sees them (SQLite: writers are serial already).
            ev = db.execute(select(Evidence).where(Evidence.id == d.evidence_id).with_for_update()
                            .execution_options(populate_existing=True)).scalar_one()
            db.execute(select(Case.id).join(Step, Step.case_id == Case.id)
                       .join(EvidenceLink, EvidenceLink.step_id == Step.id)
                       .where(EvidenceLink.evidence_id == ev.id).with_for_update(read=True)).all()
            if d.state == "destroying":
                rec = _record_of(db, d)
                if rec is not None:
                    return rec
            faults.point("disposal.item.decide")
            decision = service.decisions(db, settings, [ev.id])[ev.id]
            if d.state == "pending" and (decision.keep != "until" or decision.retain_until is None
                                         or decision.retain_until > now):
                why = {"held": "a legal hold holds it (保全)", "open_case": "it is linked to an open case (案件未结)",
                       "permanent": "its class keeps it permanently (永久)"}.get(
                    decision.keep, f"it is now kept until {_iso(decision.retain_until)}")
                d.state, d.restored_at, d.restored_by = "restored", utcnow(), SYSTEM
                d.restore_reason = f"no longer due: {why}"
                db.flush()
                archive.custody.record(db, actor=SYSTEM, action="disposal_restored", tool=TOOL,
                                       tool_version=_version(), evidence_id=ev.id, object_sha256=ev.sha256,
                                       detail={"disposal_id": d.id, "reason": d.restore_reason,
                                               "keep": decision.label, "bound": bound((DISPOSAL, d))})
                faults.point("disposal.item.restore_before_commit")
                report.restored_automatically.append({"disposal_id": d.id, "evidence_id": ev.id,
                                                      "reason": d.restore_reason})
                return None
            locked = _object_locked(db, ev.id, now)
            if d.state == "pending" and locked:
                report.failed.append({"disposal_id": d.id, "evidence_id": ev.id, "step": "lock", "reason": (
                    f"存储的对象锁定仍有效，暂不销毁 / The store's Object Lock still holds it ({locked}); nothing was "
                    "destroyed or marked. It stays pending: the run carries it out once the lock has ended.")})
                return None
            keys, kept = _keys(db, ev)
            approvers = _approvers(db, [d.id]).get(d.id, [])
            started = utcnow()
            d.state, d.destroy_started_at = "destroying", started
            db.flush()
            rec = {"disposal_id": d.id, "evidence_id": ev.id, "file_name": ev.file_name, "sha256": ev.sha256,
                   "size": ev.size, "keys": keys, "kept_shared": kept, "rule": json.loads(d.rule),
                   "scheduled_by": d.scheduled_by, "scheduled_at": _iso(d.scheduled_at), "due_at": _iso(d.due_at),
                   "approvers": approvers, "approval_required": settings.require_approval,
                   "at": _iso(started), "store": archive.store.describe()}
            archive.custody.record(db, actor=actor, action="destroyed", tool=TOOL, tool_version=_version(),
                                   evidence_id=ev.id, object_sha256=ev.sha256,
                                   detail={**rec, "bound": bound((DISPOSAL, d))})
            faults.point("disposal.item.record_before_commit")
        faults.point("disposal.item.record_after_commit")
        return rec
    except DBAPIError as e:
        report.failed.append({"disposal_id": disposal_id, "step": "record", "reason": (
            "数据库拒绝销毁（证据被保全或关联未结案件）/ The database refused to start this destruction — the evidence "
            f"is held or linked to an open case: {_refused_words(e)}. Nothing was destroyed.")})
        return None


def _still_needed(db: Session, key: str, evidence_id: int) -> bool:
    """Whether evidence other than ``evidence_id``, not on its way out, has come to need ``key`` since the
    record was made (a media job storing the same derived content meanwhile)."""
    gone = select(Disposal.evidence_id).where(Disposal.state.in_(GONE))
    return db.scalar(select(DerivedFile.id).where(DerivedFile.store_key == key, DerivedFile.evidence_id != evidence_id,
                                                  DerivedFile.evidence_id.not_in(gone)).limit(1)) is not None


def _remove(archive: Archive, rec: dict[str, Any], report: Report) -> bool:
    """Step 2: remove the bytes of every key in the record (but one that other evidence has come to need)."""
    for key in list(rec["keys"]):
        faults.point("disposal.key.before")
        with archive.sessions() as db:
            if _still_needed(db, key, int(rec["evidence_id"])):
                log.info("disposal %s: %s is needed by other evidence since its record was made; kept",
                         rec["disposal_id"], key)
                rec["keys"] = [k for k in rec["keys"] if k != key]  # (what completes lists what went)
                rec["kept_shared"] = [*rec.get("kept_shared", []), key]
                continue
        try:
            archive.store.destroy(key)
        except StoreError as e:
            report.failed.append({"disposal_id": rec["disposal_id"], "evidence_id": rec["evidence_id"],
                                  "step": "bytes", "key": key, "reason": (
                                      f"{e} — the disposal stays 'destroying' with its record; the next "
                                      "`liuhen retention run` finishes it.")})
            return False
        faults.point("disposal.key.after")
    return True


def _complete(archive: Archive, rec: dict[str, Any], actor: str, report: Report) -> None:
    """Step 3: ``destroyed``, with the keys removed; fixity state and queued media jobs go."""
    with archive.sessions.begin() as db:
        d = db.get(Disposal, rec["disposal_id"])
        assert d is not None
        if d.state == "destroyed":
            return
        now = utcnow()
        d.state, d.destroyed_at = "destroyed", now
        d.destroyed_keys = json.dumps(rec["keys"], separators=(",", ":"))
        db.flush()
        if rec["keys"]:
            db.execute(delete(FixityState).where(FixityState.store_key.in_(rec["keys"])))
        cancelled = cast(CursorResult[Any], db.execute(update(Job).where(Job.evidence_id == d.evidence_id, Job.state == PENDING)
                               .values(state=FAILED, finished_at=now,
                                       last_error="cancelled: the evidence was destroyed by disposal"))).rowcount
        archive.custody.record(db, actor=actor, action="destruction_completed", tool=TOOL, tool_version=_version(),
                               evidence_id=d.evidence_id, object_sha256=rec["sha256"],
                               detail={"disposal_id": d.id, "keys": rec["keys"], "at": _iso(now),
                                       "jobs_cancelled": int(cancelled or 0), "bound": bound((DISPOSAL, d))})
        faults.point("disposal.item.complete_before_commit")
    faults.point("disposal.item.complete_after_commit")
    report.destroyed.append(int(rec["evidence_id"]))
    report.bytes_destroyed += int(rec["size"])


def _ping(archive: Archive) -> None:
    try:
        archive.store.ping()
    except StoreError as e:
        raise StoreUnavailable(
            said("存储无法访问，未销毁任何内容", f"The store {archive.store.describe()} cannot be reached, so nothing was "
                 f"destroyed or marked destroyed: {e}"),
            said("请恢复对存储的访问（检查文件夹，或 S3 地址和凭据），然后再次运行 liuhen retention run。", "Make the store reachable (check the folder or the S3 endpoint and credentials), then run "
                 "`liuhen retention run` again.")) from e


def destroy_due(archive: Archive, *, now: dt.datetime, actor: str, report: Report | None = None,
                units: Iterable[int] | None = None) -> Report:
    """Carry out every disposal that is due and approved (with ``units``: of evidence of those units
    only), and finish those a cut-short run left ``destroying``. ``StoreUnavailable`` (before anything
    is marked) when the store cannot be reached. One item that fails is reported and never stops the others."""
    report = report if report is not None else Report()
    _ping(archive)
    faults.point("disposal.destroy.pinged")
    with archive.sessions() as db:
        go, report.waiting_approval, report.waiting_grace = _ready(db, archive.settings.retention, now, units)
    for did in go:
        faults.point("disposal.item.begin")
        rec = _start(archive, did, now, actor, report)
        if rec is None:
            continue
        if _remove(archive, rec, report):
            faults.point("disposal.item.bytes_gone")
            try:
                _complete(archive, rec, actor, report)
            except DBAPIError as e:
                log.error("disposal %s: its completion could not be recorded: %s", did, e)
                report.failed.append({"disposal_id": did, "evidence_id": rec["evidence_id"], "step": "complete",
                                      "reason": f"{_refused_words(e)} — its bytes are gone and its destruction record "
                                                "is in the log; the next `liuhen retention run` records the completion."})
        faults.point("disposal.item.end")
    return report


# ---------------------------------------------------------------------------- the run


def run(archive: Archive, *, now: dt.datetime | None = None, actor: str, dry_run: bool = False,
        units: Iterable[int] | None = None) -> dict[str, Any]:
    """The disposal run (``liuhen retention run``, daily inside ``liuhen serve``): compute missing
    retentions, schedule what is due (in ``units``; None: every unit), destroy what is due and
    approved, sync object locks. With ``dry_run``, what it would do, writing nothing."""
    now = now or utcnow()
    settings = archive.settings.retention
    if dry_run:
        with archive.sessions() as db:
            summary = service.due_summary(db, settings, now, units=units)
            go, waiting, grace = _ready(db, settings, now, units)
            missing = len(service.missing_ids(db))
        return {"dry_run": True, "at": _iso(now), "would_schedule": sum(s["count"] for s in summary),
                "would_schedule_bytes": sum(s["bytes"] for s in summary), "by_class_and_unit": summary,
                "missing_retention": missing, "due_for_destruction": len(go), "waiting_approval": waiting,
                "waiting_grace": grace, "grace_days": settings.grace_days,
                "require_approval": settings.require_approval}
    report = Report()
    faults.point("disposal.run.begin")
    with archive.sessions.begin() as db:
        report.scheduled = len(schedule(db, archive.custody, settings, now=now, actor=actor, units=units))
        faults.point("disposal.schedule.before_commit")
    faults.point("disposal.schedule.after_commit")
    try:
        destroy_due(archive, now=now, actor=actor, report=report, units=units)
    except StoreUnavailable as e:
        report.failed.append({"step": "store", "reason": e.diagnostics()})
    from retention import holds

    try:
        report.locks = holds.sync_locks(archive)
    except Exception as e:  # the locks are mirrored again next run
        log.exception("object lock sync failed")
        report.failed.append({"step": "locks", "reason": str(e)})
    faults.point("disposal.run.end")
    out = report.to_dict()
    out.update(dry_run=False, at=_iso(now))
    return out


# ---------------------------------------------------------------------------- reading


def _page(db: Session, states: tuple[str, ...], units: Iterable[int] | None, limit: int, offset: int,
          order: Any) -> list[tuple[Disposal, Evidence]]:
    q = (select(Disposal, Evidence).join(Evidence, Evidence.id == Disposal.evidence_id)
         .where(Disposal.state.in_(states)))
    if units is not None:
        q = q.where(Evidence.unit_id.in_(sorted(set(units))))
    return [(d, e) for d, e in db.execute(q.order_by(order, Disposal.id).limit(limit).offset(offset))]


def approvers_of(db: Session, disposal_id: int) -> list[str]:
    return _approvers(db, [disposal_id]).get(disposal_id, [])


def row(db: Session, d: Disposal, ev: Evidence, settings: RetentionSettings | None = None) -> dict[str, Any]:
    """One disposal as the queue and the API show it."""
    approvers = approvers_of(db, d.id)
    out: dict[str, Any] = {
        "disposal_id": d.id, "evidence_id": ev.id, "state": d.state, "file_name": ev.file_name,
        "sha256": ev.sha256, "size": ev.size, "unit_id": ev.unit_id, "rule": json.loads(d.rule),
        "scheduled_by": d.scheduled_by, "scheduled_at": _iso(d.scheduled_at), "due_at": _iso(d.due_at),
        "approvers": approvers}
    if settings is not None:
        out["approved"] = rules.approved(settings, d.scheduled_by, approvers)
    return out


def pending(db: Session, *, units: Iterable[int] | None, limit: int = 100, offset: int = 0,
            settings: RetentionSettings | None = None) -> list[dict[str, Any]]:
    """The pending-disposal queue (soonest due first)."""
    return [row(db, d, e, settings) for d, e in _page(db, ("pending",), units, limit, offset, Disposal.due_at)]


def destruction_log(db: Session, *, units: Iterable[int] | None, limit: int = 100,
                    offset: int = 0) -> list[dict[str, Any]]:
    """Destroyed (and being destroyed) evidence with their destruction records, newest first."""
    out = []
    for d, e in _page(db, GONE, units, limit, offset, Disposal.destroy_started_at.desc()):
        out_row = row(db, d, e)
        rec = _record_of(db, d) or {}
        out_row.update(destroy_started_at=_iso(d.destroy_started_at), destroyed_at=_iso(d.destroyed_at),
                   destroyed_keys=json.loads(d.destroyed_keys) if d.destroyed_keys else None,
                   record={k: v for k, v in rec.items() if k != "bound"})
        out.append(out_row)
    return out


# ---------------------------------------------------------------------------- inside `liuhen serve`


def scheduler(archive: Archive, *, stop: threading.Event, first_after_s: float = 120.0,
              interval_s: float | None = None) -> threading.Thread:
    """A thread that runs the disposal ``first_after_s`` after it starts and then every
    ``[retention] interval_hours`` as ``system:retention``; a failure is logged and recorded (a
    ``retention_run_failed`` custody event), never raised."""
    settings = archive.settings.retention
    every = interval_s if interval_s is not None else settings.interval_hours * 3600

    def loop() -> None:
        stop.wait(first_after_s)
        while not stop.is_set():
            try:
                r = run(archive, actor=SYSTEM)
                if r["scheduled"] or r["destroyed"] or r["failed"]:
                    log.info("retention run: %d scheduled, %d destroyed, %d failed", r["scheduled"], r["destroyed"],
                             r["failed"])
            except Exception as e:  # serve must outlive it; the next run retries
                log.exception("retention run failed; retrying in %s hours", settings.interval_hours)
                try:
                    with archive.sessions.begin() as db:
                        archive.custody.record(db, actor=SYSTEM, action="retention_run_failed", outcome="failure",
                                               tool=TOOL, tool_version=_version(),
                                               detail={"error": f"{type(e).__name__}: {e}"[:1000]})
                except Exception:
                    log.exception("could not record the failed retention run")
            stop.wait(every)

    t = threading.Thread(target=loop, name="retention-scheduler", daemon=True)
    t.start()
    return t


__all__ = ["Report", "approve", "approvers_of", "row", "compute_missing", "destroy_due", "destruction_log", "pending", "restore", "run",
           "schedule", "scheduler"]
