"""Each evidence's keep-until, kept right on every change that can move it.

``recompute`` reads what the retention of a set of evidence depends on (``gather``: class, the
important mark, every case it is or was linked to, holds, restores), decides each
(``retention.rules.decide``), and writes what changed set-based: the ``evidence_retention`` rows,
one ``retention_changes`` row per changed evidence (old, new, why) and **one** custody event
``retention_changed`` for them all (``evidence_id`` set when it is one evidence), so closing a case
with ten thousand recordings is one event, not ten thousand. A first computation (a new
recording) records no event: it follows from bound rows alone, and ``liuhen verify`` recomputes it.

``install`` makes this automatic: it listens on the archive's sessions, notes in each flush what
can move a retention (a new evidence, its recording time or officer found later, the important mark, a link or unlink, a case closed or
reopened, a class set, a hold placed or released, a restore), and recomputes those evidence just
before the transaction commits, in it — so no front end (API, console, CLI, a remote station) can
make a change and forget its retention, and a rollback leaves neither. The event's actor is the
actor of the change's own custody event in that transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BigInteger,
    Select,
    any_,
    bindparam,
    cast,
    event,
    exists,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import NullType

import liuhen
from archive.models import Evidence
from cases.models import Case, EvidenceLink, Step
from hashing.binding import bound
from hashing.custody import CustodyLog
from hashing.models import CustodyEvent
from liuhen.config import RetentionSettings
from liuhen.db import utcnow
from liuhen.errors import NotFound
from liuhen.words import said
from retention.bindings import CLASS
from retention.errors import ReasonRequired, UnknownClass
from retention.models import Disposal, HoldItem, LegalHold, RetentionChange, RetentionState
from retention.rules import CaseTie, Decision, Inputs, decide

TOOL = "liuhen-retention"
CHUNK = 5000  # ids per IN list
PG_CHUNK = 50_000  # ids per array parameter on PostgreSQL (one value, however many): each chunk reads the links once
ACTIVE_DISPOSAL = ("pending", "destroying", "destroyed")


def _chunks(ids: Sequence[int], size: int = CHUNK) -> Iterable[list[int]]:
    for i in range(0, len(ids), size):
        yield list(ids[i:i + size])


def _pg(db: Session) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def _among(db: Session, col: Any, ids: list[int]) -> Any:
    """``col IN ids``. On PostgreSQL one array parameter (``= ANY``): a chunk of 5,000 ids as 5,000
    placeholders costs more to compile and parse than the query takes to run."""
    if _pg(db):  # the array's text, of no type (a VARCHAR would be cast again for every row)
        return col == any_(cast(bindparam(None, "{" + ",".join(map(str, ids)) + "}", type_=NullType()),
                                ARRAY(BigInteger)))
    return col.in_(ids)


# PostgreSQL: the rows of a recompute in one statement per chunk, handed over as one JSON document
# (psycopg quotes a text array element by element, slower than the update itself)
_PG_UPDATE = text(
    "UPDATE evidence_retention AS r SET keep = v.keep, retain_until = v.retain_until, reasons = v.reasons, "
    "computed_at = :now FROM json_to_recordset(CAST(:rows AS json)) "
    "AS v(evidence_id bigint, keep text, retain_until timestamptz, reasons text) WHERE r.evidence_id = v.evidence_id")
_PG_CHANGES = text(
    "INSERT INTO retention_changes (evidence_id, seq, at, old, new, reason) "
    "SELECT v.evidence_id, :seq, :at, v.old, v.new, :reason FROM json_to_recordset(CAST(:rows AS json)) "
    "AS v(evidence_id bigint, old text, new text)")


def _json_rows(rows: Iterable[dict[str, Any]]) -> str:
    return json.dumps([{k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in r.items()} for r in rows],
                      ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------------------- reading the inputs


def gather(db: Session, evidence_ids: Iterable[int],
           stored: dict[int, tuple[str, dt.datetime | None, str]] | None = None) -> list[Inputs]:
    """The inputs of each evidence's retention, in four set-based queries per chunk of ids; with
    ``stored``, also what is stored now (keep, keep-until, reasons) of those that have a row."""
    ids = sorted(set(evidence_ids))
    out: list[Inputs] = []
    for chunk in _chunks(ids, PG_CHUNK if _pg(db) else CHUNK):
        cases: dict[int, list[CaseTie]] = {}
        for eid, cid, number, status, category, closed_at in db.execute(
                select(EvidenceLink.evidence_id, Case.id, Case.number, Case.status, Case.category, Case.closed_at)
                .join(Step, Step.id == EvidenceLink.step_id).join(Case, Case.id == Step.case_id)
                .where(_among(db, EvidenceLink.evidence_id, chunk)).distinct()):
            cases.setdefault(eid, []).append(CaseTie(cid, number, status, category, closed_at))
        holds: dict[int, list[int]] = {}
        for eid, hid in db.execute(select(HoldItem.evidence_id, HoldItem.hold_id)
                                   .join(LegalHold, LegalHold.id == HoldItem.hold_id)
                                   .where(_among(db, HoldItem.evidence_id, chunk), LegalHold.released_at.is_(None))):
            holds.setdefault(eid, []).append(hid)
        restored: dict[int, list[dt.datetime]] = {}
        for eid, at in db.execute(select(Disposal.evidence_id, Disposal.restored_at)
                                  .where(_among(db, Disposal.evidence_id, chunk), Disposal.state == "restored")):
            if at is not None:
                restored.setdefault(eid, []).append(at)
        for eid, recorded_at, created_at, important, class_name, keep, until, reasons in db.execute(
                select(Evidence.id, Evidence.recorded_at, Evidence.created_at, Evidence.important,
                       RetentionState.class_name, RetentionState.keep, RetentionState.retain_until,
                       RetentionState.reasons)
                .outerjoin(RetentionState, RetentionState.evidence_id == Evidence.id)
                .where(_among(db, Evidence.id, chunk))):
            if stored is not None and keep is not None:
                stored[eid] = (keep, until, reasons)
            out.append(Inputs(eid, recorded_at, created_at, class_name=class_name, important=bool(important),
                              cases=tuple(sorted(cases.get(eid, ()), key=lambda c: c.case_id)),
                              holds=tuple(sorted(holds.get(eid, ()))),
                              restored_at=tuple(sorted(restored.get(eid, ())))))
    return out


def decisions(db: Session, settings: RetentionSettings, evidence_ids: Iterable[int]) -> dict[int, Decision]:
    """What the rules in force say of each evidence now (nothing written)."""
    return {x.evidence_id: decide(settings, x) for x in gather(db, evidence_ids)}


# ---------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class Change:
    evidence_id: int
    old: str | None  # None: computed for the first time
    new: str


def _label(keep: str, until: dt.datetime | None) -> str:
    return Decision(keep, until).label


def recompute(db: Session, custody: CustodyLog, settings: RetentionSettings, *, evidence_ids: Iterable[int],
              actor: str, reason: str, detail: dict[str, Any] | None = None) -> list[Change]:
    """Recompute and store the retention of ``evidence_ids`` in the caller's transaction; record the
    changes (not first computations) in one ``retention_changed`` custody event. Returns every
    change, first computations included."""
    ids = sorted(set(evidence_ids))
    if not ids:
        return []
    existing: dict[int, tuple[str, dt.datetime | None, str]] = {}
    decided = {x.evidence_id: decide(settings, x) for x in gather(db, ids, existing)}
    now = utcnow()
    new_rows: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    changes: list[Change] = []
    for eid, d in decided.items():
        reasons = d.reasons_json()
        was = existing.get(eid)
        if was is None:
            new_rows.append({"evidence_id": eid, "keep": d.keep, "retain_until": d.retain_until, "reasons": reasons,
                             "computed_at": now, "lock_hold": False})
            changes.append(Change(eid, None, d.label))
            continue
        old = _label(was[0], was[1])
        if old != d.label or was[2] != reasons:
            updates.append({"evidence_id": eid, "keep": d.keep, "retain_until": d.retain_until, "reasons": reasons,
                            "computed_at": now})
        if old != d.label:
            changes.append(Change(eid, old, d.label))
    if new_rows:
        db.execute(insert(RetentionState), new_rows)
    if updates and _pg(db):
        for i in range(0, len(updates), PG_CHUNK):
            db.execute(_PG_UPDATE, {"now": now, "rows": _json_rows(
                {k: u[k] for k in ("evidence_id", "keep", "retain_until", "reasons")} for u in updates[i:i + PG_CHUNK])})
    elif updates:
        db.execute(update(RetentionState), updates)
    moved = [c for c in changes if c.old is not None]
    if moved:
        one = moved[0].evidence_id if len(moved) == 1 else None
        ev = custody.record(db, actor=actor, action="retention_changed", tool=TOOL, tool_version=liuhen.__version__,
                            evidence_id=one,
                            object_sha256=db.scalar(select(Evidence.sha256).where(Evidence.id == one)) if one else None,
                            detail={"reason": reason, **(detail or {}), "count": len(moved),
                                    "changes": [[c.evidence_id, c.old, c.new] for c in moved]})
        if _pg(db):
            for i in range(0, len(moved), PG_CHUNK):
                db.execute(_PG_CHANGES, {"seq": ev.seq, "at": ev.at, "reason": reason, "rows": _json_rows(
                    {"evidence_id": c.evidence_id, "old": c.old, "new": c.new} for c in moved[i:i + PG_CHUNK])})
        else:
            db.execute(insert(RetentionChange), [{"evidence_id": c.evidence_id, "seq": ev.seq, "at": ev.at,
                                                 "old": c.old, "new": c.new, "reason": reason} for c in moved])
    return changes


def missing_ids(db: Session, *, limit: int = CHUNK) -> list[int]:
    """Evidence whose retention was never computed (received before retention existed)."""
    return list(db.scalars(select(Evidence.id).where(~exists().where(RetentionState.evidence_id == Evidence.id))
                           .order_by(Evidence.id).limit(limit)))


def set_class(db: Session, custody: CustodyLog, settings: RetentionSettings, *, evidence_id: int,
              class_name: str | None, actor: str, reason: str, context: dict[str, Any] | None = None) -> Change | None:
    """Give the evidence a retention class (None: back to the default), with a reason; the class is
    bound to the log, and the keep-until follows (in the same transaction). Returns the keep-until's change."""
    if class_name is not None and class_name not in settings.classes:
        raise UnknownClass(said(f"没有保存期限类别「{class_name}」", f"There is no retention class {class_name!r}."),
                           said("请使用以下之一：" + "、".join(f"{k}（{c.label}）" for k, c in settings.classes.items()) + "。", "Use one of: " + ", ".join(f"{k} ({c.label})" for k, c in settings.classes.items()) + "."))
    if not reason.strip():
        raise ReasonRequired(said("更改保存期限类别须说明理由", "A class change needs a reason."), said("请说明理由，例如 当事人申请复议。", "Say why, e.g. 当事人申请复议."))
    ev = db.get(Evidence, evidence_id)
    if ev is None:
        raise NotFound(said(f"没有证据 {evidence_id}", f"There is no evidence {evidence_id}."), said("请核对证据编号。", "Check the evidence id."))
    state = db.get(RetentionState, evidence_id)
    if state is None:
        recompute(db, custody, settings, evidence_ids=[evidence_id], actor=actor, reason="first computation")
        state = db.get(RetentionState, evidence_id)
        assert state is not None
    before = state.class_name
    if before == class_name:
        return None
    state.class_name = class_name
    db.flush()
    custody.record(db, actor=actor, action="retention_class_set", tool=TOOL, tool_version=liuhen.__version__,
                   evidence_id=ev.id, object_sha256=ev.sha256,
                   detail={"old": before, "new": class_name, "reason": reason.strip(), **(context or {}),
                           "bound": bound((CLASS, state))})
    changes = recompute(db, custody, settings, evidence_ids=[evidence_id], actor=actor, reason="class set",
                        detail={"class": class_name})
    return changes[0] if changes else None


# ---------------------------------------------------------------------------- automatic, on commit

_PENDING = "liuhen.retention.pending"


@dataclass
class _Pending:
    evidence: set[int] = field(default_factory=set)
    new_evidence: set[int] = field(default_factory=set)
    new_links: set[int] = field(default_factory=set)
    cases: set[int] = field(default_factory=set)
    holds: set[int] = field(default_factory=set)
    cause: tuple[str, str, dict[str, Any]] | None = None  # actor, action, detail of the change's own event
    cause_seq: int = 0
    running: bool = False


def _changed(obj: Any, attr: str) -> bool:
    return bool(inspect(obj).attrs[attr].history.has_changes())


def _collect(session: Session, _ctx: Any) -> None:
    p: _Pending | None = session.info.get(_PENDING)
    if p is not None and p.running:
        return
    for obj in session.new:
        if p is None and isinstance(obj, (Evidence, EvidenceLink, HoldItem, CustodyEvent)):
            p = session.info.setdefault(_PENDING, _Pending())
        if isinstance(obj, Evidence):
            assert p is not None
            p.new_evidence.add(obj.id)
        elif isinstance(obj, EvidenceLink):
            assert p is not None
            p.evidence.add(obj.evidence_id)
            p.new_links.add(obj.id)
        elif isinstance(obj, HoldItem):
            assert p is not None
            p.evidence.add(obj.evidence_id)
        elif isinstance(obj, CustodyEvent) and obj.action != "retention_changed":
            assert p is not None
            if p.cause is not None and p.cause_seq > obj.seq:
                continue  # the newest event of the transaction names the change
            try:
                detail = json.loads(obj.detail or "{}")
            except ValueError:
                detail = {}
            p.cause = (obj.actor, obj.action, {k: detail[k] for k in ("case_id", "number", "hold_id", "link_id",
                                                                       "disposal_id") if k in detail})
            p.cause_seq = obj.seq
    for obj in session.dirty:
        hit: tuple[str, int] | None = None
        if isinstance(obj, Evidence) and (_changed(obj, "recorded_at") or _changed(obj, "officer_id")):
            # its class counts from the recording time, and an officer hold may now take it
            p = session.info.setdefault(_PENDING, _Pending())
            p.new_evidence.add(obj.id)
            continue
        if isinstance(obj, Evidence) and _changed(obj, "important"):
            hit = ("evidence", obj.id)
        elif isinstance(obj, EvidenceLink) and _changed(obj, "unlinked_at"):
            hit = ("evidence", obj.evidence_id)
        elif isinstance(obj, Case) and _changed(obj, "status"):
            hit = ("case", obj.id)
        elif isinstance(obj, LegalHold) and _changed(obj, "released_at"):
            hit = ("hold", obj.id)
        elif isinstance(obj, Disposal) and _changed(obj, "state") and obj.state == "restored":
            hit = ("evidence", obj.evidence_id)
        elif isinstance(obj, RetentionState) and _changed(obj, "class_name"):
            hit = ("evidence", obj.evidence_id)
        if hit is None:
            continue
        p = session.info.setdefault(_PENDING, _Pending())
        {"evidence": p.evidence, "case": p.cases, "hold": p.holds}[hit[0]].add(hit[1])


def _affected(db: Session, p: _Pending) -> set[int]:
    ids = set(p.evidence) | set(p.new_evidence)
    if p.cases:
        ids.update(db.scalars(select(EvidenceLink.evidence_id).join(Step, Step.id == EvidenceLink.step_id)
                              .where(Step.case_id.in_(sorted(p.cases))).distinct()))
    if p.holds:
        ids.update(db.scalars(select(HoldItem.evidence_id).where(HoldItem.hold_id.in_(sorted(p.holds)))))
    return ids


def install(sessions: sessionmaker[Session], custody: CustodyLog, settings: RetentionSettings) -> None:
    """Recompute retentions in every transaction of ``sessions`` that changes what they depend on."""

    def before_commit(session: Session) -> None:
        p: _Pending | None = session.info.get(_PENDING)
        if p is None or p.running:
            return
        session.flush()  # what is still pending is noted by _collect
        p.running = True
        try:
            from retention import holds

            holds.extend(session, custody, new_evidence=sorted(p.new_evidence), new_links=sorted(p.new_links))
            ids = _affected(session, p)
            if not ids:
                return
            actor, action, detail = p.cause or ("system:retention", "change", {})
            recompute(session, custody, settings, evidence_ids=ids, actor=actor, reason=action, detail=detail)
        finally:
            session.info.pop(_PENDING, None)

    def forget(session: Session, *_: Any) -> None:
        session.info.pop(_PENDING, None)

    event.listen(sessions, "after_flush", _collect)
    event.listen(sessions, "before_commit", before_commit)
    event.listen(sessions, "after_rollback", forget)
    event.listen(sessions, "after_soft_rollback", forget)


# ---------------------------------------------------------------------------- what falls due


def held_clause(evidence_id: Any) -> Any:
    return exists().where(HoldItem.evidence_id == evidence_id, HoldItem.hold_id == LegalHold.id,
                          LegalHold.released_at.is_(None))


def open_case_clause(evidence_id: Any) -> Any:
    return exists().where(EvidenceLink.evidence_id == evidence_id, EvidenceLink.step_id == Step.id,
                          Step.case_id == Case.id, Case.status == "open")


DueRow = Select[int, dt.datetime | None, str | None, int, int | None, str]


def due(now: dt.datetime, *, units: Iterable[int] | None = None) -> DueRow:
    """Evidence past its keep-until, not held, not linked to an open case and not already on its way
    out: one set-based query (the planner of ``liuhen retention run``). Columns: evidence id, keep-until,
    class (NULL: the default), size, unit, reasons."""
    q = (select(RetentionState.evidence_id, RetentionState.retain_until, RetentionState.class_name, Evidence.size,
                Evidence.unit_id, RetentionState.reasons)
         .join(Evidence, Evidence.id == RetentionState.evidence_id)
         .where(RetentionState.keep == "until", RetentionState.retain_until <= now,
                ~held_clause(RetentionState.evidence_id), ~open_case_clause(RetentionState.evidence_id),
                ~exists().where(Disposal.evidence_id == RetentionState.evidence_id,
                                Disposal.state.in_(ACTIVE_DISPOSAL))))
    if units is not None:
        q = q.where(Evidence.unit_id.in_(sorted(units)))
    return q


def due_summary(db: Session, settings: RetentionSettings, now: dt.datetime, *,
                units: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """What ``due`` would schedule, grouped by class and unit (count and bytes), in one query."""
    sub = due(now, units=units).subquery()
    cls = func.coalesce(sub.c.class_name, settings.default_class)
    rows = db.execute(select(cls, sub.c.unit_id, func.count(), func.coalesce(func.sum(sub.c.size), 0))
                      .group_by(cls, sub.c.unit_id).order_by(cls, sub.c.unit_id)).all()
    return [{"class": c, "label": settings.classes[c].label if c in settings.classes else c, "unit_id": u,
             "count": int(n), "bytes": int(b)} for c, u, n, b in rows]


def case_keep(settings: RetentionSettings, case: Case) -> Decision:
    """How long a case file (its text records) is kept: while open, without end; then its category's class."""
    x = Inputs(0, None, case.created_at, cases=(CaseTie(case.id, case.number, case.status, case.category,
                                                        case.closed_at),))
    d = decide(settings, x)
    if d.keep == "until":  # the evidence's own class (reason 0) does not apply to a case file
        dates = [dt.datetime.fromisoformat(r["until"]) for r in d.reasons if r["reason"] == "case" and "until" in r]
        return Decision("until", max(dates) if dates else None, [r for r in d.reasons if r["reason"] == "case"])
    return Decision(d.keep, None, [r for r in d.reasons if r["reason"] == "case"])


def state_of(db: Session, evidence_id: int) -> RetentionState | None:
    return db.get(RetentionState, evidence_id)


def destroyed(db: Session, evidence_ids: Iterable[int]) -> dict[int, Disposal]:
    """The disposals (destroying or destroyed) of those of ``evidence_ids`` whose bytes are gone by design."""
    ids = sorted(set(evidence_ids))
    out: dict[int, Disposal] = {}
    for chunk in _chunks(ids):
        for d in db.scalars(select(Disposal).where(Disposal.evidence_id.in_(chunk),
                                                   Disposal.state.in_(("destroying", "destroyed")))):
            out[d.evidence_id] = d
    return out


def refuse_destroyed(db: Session, evidence_ids: Iterable[int]) -> None:
    """Raise ``Destroyed`` (in words: which evidence, when, by which disposal) if any of ``evidence_ids`` was
    destroyed: its record, links and custody stay, its bytes do not."""
    from retention.errors import Destroyed

    gone = destroyed(db, evidence_ids)
    if not gone:
        return
    eid, d = sorted(gone.items())[0]
    when = (d.destroyed_at or d.destroy_started_at or d.scheduled_at).astimezone(dt.UTC).strftime("%Y-%m-%d")
    raise Destroyed(said(f"证据 {eid} 的原始文件已于 {when} 依保存期限规则销毁（销毁记录 {d.id}）", "The original of evidence "
                         f"{eid} was destroyed under the retention rules on {when} (disposal {d.id}); its record, links and "
                         "custody remain, its bytes do not."),
                    said("其销毁记录在保管链中（liuhen retention log）；本档案库无法恢复它。", "Its destruction record is in the custody log (`liuhen retention log`); nothing can restore it "
                         "from this archive."))


def destroyed_content(db: Session, sha256: str) -> str | None:
    """Why content offered to the archive again must not be stored: its evidence was destroyed (or is
    being destroyed) under the retention rules (``archive.context.Archive.refuse_content``)."""
    d = db.scalar(select(Disposal).join(Evidence, Evidence.id == Disposal.evidence_id)
                  .where(Evidence.sha256 == sha256, Disposal.state.in_(("destroying", "destroyed"))))
    if d is None:
        return None
    when = (d.destroyed_at or d.destroy_started_at or d.scheduled_at).astimezone(dt.UTC).strftime("%Y-%m-%d")
    return (f"这段录像（证据 {d.evidence_id}）已于 {when} 依保存期限规则销毁（销毁记录 {d.id}），不再收存 / This recording "
            f"(evidence {d.evidence_id}) was destroyed under the retention rules on {when} (disposal {d.id}); the "
            "archive does not take it back.")
