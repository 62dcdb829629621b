"""Legal holds (保全/冻结): placed with a reason and a scope, released only with a reason; what a hold
holds can never be disposed (the disposal service refuses, and a trigger refuses below it).

A hold's scope is resolved to evidence when it is placed (``HoldItem`` rows), within the units the
placing user may see (an evidence or case outside them answers exactly like one that does not exist):

- ``evidence``: ``{"evidence": [ids]}`` — those evidence;
- ``case``: ``{"case_id": n}`` — what is or was linked to the case, and (``extend``) what is linked
  to it later, while the hold stands;
- ``officer``: ``{"officer": "000123", "from": iso, "to": iso}`` — the officer's recordings made in
  that time range (``recorded_at``), and (``extend``) such recordings received later;
- ``search``: ``{"query": {...}}`` — a saved search (the filters of ``archive.query.Query``): what it
  matched when the hold was placed. It does NOT take what would match later (a search's result
  moves with every tag and note; a hold must say exactly what it held and since when).

Placing inserts the hold and its items and records ONE ``hold_placed`` custody event binding them
(a hold of more than ``CHUNK`` evidence continues in ``hold_extended`` events of ``CHUNK`` items
each); the retention hook (``retention.service.install``) then recomputes those evidence in the
same transaction (keep becomes ``held``). Evidence already destroyed is not added (the answer says
which); evidence pending disposal is held and its disposal stays pending: the disposal run checks
again and the database's trigger refuses to destroy held evidence (the answer says how many).

On S3 with Object Lock, ``sync_locks`` mirrors each evidence's keep onto its stored objects: an
object legal hold while it is held (or permanent), and a retain-until date extended (never
shortened) to its keep-until.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

import liuhen
from archive.errors import BadQuery, StoreError
from archive.models import DerivedFile, Evidence
from cases.errors import UnknownCase
from cases.models import Case, EvidenceLink, Step
from hashing.binding import bound
from hashing.custody import CustodyLog
from liuhen.db import utcnow
from liuhen.errors import NotFound, Text
from liuhen.words import said
from retention.bindings import HOLD, HOLD_ITEM
from retention.errors import ReasonRequired, RetentionError, UnknownHold
from retention.models import HOLD_SCOPES, Disposal, HoldItem, LegalHold, RetentionState

if TYPE_CHECKING:
    from archive.context import Archive
    from archive.query import Query

log = logging.getLogger(__name__)

TOOL = "liuhen-retention"
CHUNK = 500  # bound entries per custody event
IDS = 5000  # ids per IN list
GONE = ("destroying", "destroyed")
LOCKED_KEEPS = ("held", "permanent")
SYSTEM = "system:legal-hold"
QUERY_FIELDS = ("q", "officer", "device", "station", "important", "playback", "media_kind", "start", "end")


class HoldReleased(RetentionError):
    """The hold was released already (a release is final: place a new hold to hold again)."""

    code = "hold_released"


class NothingMatches(NotFound):
    """A saved search or time range that can match nothing: no hold is placed."""

    code = "nothing_matches"


class AlreadyDestroyed(RetentionError):
    """Every evidence a hold names is destroyed already: there is nothing left to hold."""

    code = "already_destroyed"


class HiddenEvidence(NotFound):
    """An evidence named by a hold's scope that does not exist or is not one the user may see (the
    same answer for both). ``foreign`` lists those that exist but are outside the user's units, for the
    caller's ``access_denied`` event; ``missing`` those that do not exist."""

    code = "not_found"

    def __init__(self, detail: Text, action: Text, *, foreign: list[int], missing: list[int]) -> None:
        super().__init__(detail, action)
        self.foreign = foreign
        self.missing = missing


class HiddenCase(UnknownCase):
    """The case of a case hold does not exist or is not one the user may see (the same answer)."""

    def __init__(self, detail: Text, action: Text, *, foreign: Case | None) -> None:
        super().__init__(detail, action)
        self.foreign = foreign


def hidden_hold(hold_id: int) -> UnknownHold:
    return UnknownHold(said(f"没有保全 {hold_id}", f"There is no legal hold {hold_id} that you may see."),
                       said("请在保全列表中核对", "Check the hold on the list of holds (`liuhen retention hold list`)."))


@dataclass
class Placed:
    """What placing a hold did, beside the hold itself: how many evidence it holds, which named
    evidence were already destroyed (not added), and how many of the held were pending disposal."""

    held: int = 0
    destroyed: list[int] = field(default_factory=list)
    pending_disposal: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"held": self.held, "destroyed_not_held": self.destroyed, "pending_disposal": len(self.pending_disposal),
                "pending_disposal_ids": self.pending_disposal}


def outcome(hold: LegalHold) -> Placed:
    """What ``place`` did (kept on the returned hold); an empty ``Placed`` for a hold read back."""
    got = sa_inspect(hold).info.get("liuhen.placed")
    return got if isinstance(got, Placed) else Placed()


def _chunks(ids: Sequence[int], n: int = IDS) -> Iterable[list[int]]:
    for i in range(0, len(ids), n):
        yield list(ids[i:i + n])


def _reason(reason: str | None, what: str) -> str:
    if reason is None or not reason.strip():
        raise ReasonRequired(said(f"{what}须说明理由", "A reason is required."),
                             said("说明依据，例如 行政复议受理通知书 2026-18 号", "Say why, e.g. the review or court "
                                  "order that requires it (--reason TEXT)."))
    return reason.strip()


def _time(value: Any, name: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        t = value
    else:
        try:
            t = dt.datetime.fromisoformat(str(value).strip())
        except ValueError as e:
            raise RetentionError(said(f"保全范围的「{name}」不是时间", f"{name!r} of the hold's scope is not a time: {value!r}."),
                                 said("请按 ISO 8601 带时区书写，例如 2026-11-23T09:30:00+08:00。", "Write it as ISO 8601 with its offset, e.g. 2026-11-23T09:30:00+08:00.")) from e
    if t.tzinfo is None:
        raise RetentionError(said(f"保全范围的「{name}」没有时区", f"{name!r} of the hold's scope has no time zone."),
                             said("请带时区给出，例如 2026-11-23T09:30:00+08:00。", "Give it with its offset, e.g. 2026-11-23T09:30:00+08:00."))
    return t


def query_of(spec: Mapping[str, Any] | Query) -> Query:
    """A saved search (JSON: the filter fields of ``archive.query.Query``) as a ``Query``; unknown
    fields, bad values or times without a zone are refused in words."""
    from archive.query import Query

    if isinstance(spec, Query):
        q = spec
    else:
        if not isinstance(spec, Mapping):
            raise RetentionError(said("保存的检索须为 JSON 对象", "A saved search is a JSON object."),
                                 said('例如 {"officer": "000123", "start": "2026-11-01T00:00:00+08:00"}', 'e.g. {"officer": "000123", "start": "2026-11-01T00:00:00+08:00"}'))
        unknown = sorted(set(spec) - set(QUERY_FIELDS))
        if unknown:
            raise RetentionError(said("保存的检索有未知字段", f"The saved search has unknown fields: {', '.join(unknown)}."),
                                 said("只能使用：" + "、".join(QUERY_FIELDS) + "。", "Use only: " + ", ".join(QUERY_FIELDS) + "."))
        kw: dict[str, Any] = {}
        for k in QUERY_FIELDS:
            v = spec.get(k)
            if v is None or v == "":
                continue
            if k in ("start", "end"):
                kw[k] = _time(v, k)
            elif k == "important":
                if not isinstance(v, bool):
                    raise RetentionError(said("检索的 important 须为 true 或 false", "important is true or false."),
                                         said('例如 {"important": true}', 'e.g. {"important": true}'))
                kw[k] = v
            else:
                if not isinstance(v, str):
                    raise RetentionError(said(f"检索的 {k} 须为文字", f"{k} of the saved search is text."),
                                         said(f'例如 {{"{k}": "..."}}', f'e.g. {{"{k}": "..."}}'))
                kw[k] = v
        q = Query(**kw, page=1, per_page=200)
    if q.finds_nothing():
        return q  # (``place`` says so: nothing to hold)
    try:
        q.check()
    except BadQuery as e:
        raise RetentionError(said(f"保存的检索无效：{e.said.zh}", f"The saved search is not valid: {e.said.en}"), e.said_action) from e
    return q


def query_json(q: Query) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in QUERY_FIELDS:
        v = getattr(q, k)
        if v is not None:
            out[k] = v.isoformat() if isinstance(v, dt.datetime) else v
    return out


# ---------------------------------------------------------------------------- resolving a scope


def _units_clause(units: frozenset[int] | None) -> Any:
    if units is None:
        return None
    return Evidence.unit_id.in_(sorted(units)) if units else Evidence.id.is_(None)  # (no unit: nothing)


def _resolve(db: Session, scope_kind: str, scope: Mapping[str, Any], units: frozenset[int] | None
             ) -> tuple[dict[str, Any], list[int], int | None]:
    """(the scope as stored, the evidence it holds now, the unit it belongs to when obvious)."""
    where_units = _units_clause(units)
    if scope_kind == "evidence":
        raw = scope.get("evidence")
        if not isinstance(raw, (list, tuple)) or not raw or not all(
                isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in raw):
            raise RetentionError(said("请给出证据编号", "A hold on evidence needs their ids."),
                                 said('例如 {"evidence": [12, 13]}（--evidence 12 13）', 'e.g. {"evidence": [12, 13]} (--evidence 12 13)'))
        ids = sorted(set(raw))
        seen: dict[int, int | None] = {}
        for chunk in _chunks(ids):
            for eid, unit in db.execute(select(Evidence.id, Evidence.unit_id).where(Evidence.id.in_(chunk))):
                seen[eid] = unit
        missing = [i for i in ids if i not in seen]
        foreign = [i for i in ids if i in seen and units is not None and seen[i] not in units]
        if missing or foreign:
            bad = sorted(missing + foreign)
            shown = ", ".join(str(i) for i in bad[:20]) + (" …" if len(bad) > 20 else "")
            raise HiddenEvidence(said(f"没有编号为 {shown} 的证据，或您无权查看", f"No evidence {shown} that you may see."),
                                 said("请核对编号；如需查看其他单位的证据，请联系管理员授权", "Check the numbers; nothing "
                                      "was held."), foreign=foreign, missing=missing)
        unit_ids = {seen[i] for i in ids}
        return {"evidence": ids}, ids, next(iter(unit_ids)) if len(unit_ids) == 1 else None
    if scope_kind == "case":
        ref = scope.get("case_id", scope.get("number"))
        case = None
        if isinstance(ref, int) and not isinstance(ref, bool):
            case = db.get(Case, ref)
        elif isinstance(ref, str) and ref.strip():
            case = db.scalar(select(Case).where(Case.number == ref.strip()))
            if case is None and ref.strip().isdigit() and len(ref.strip()) < 12:
                case = db.get(Case, int(ref.strip()))
        if case is None or (units is not None and case.unit_id not in units):
            raise HiddenCase(said(f"没有案件 {ref}", f"There is no case {ref} that you may see."),
                             said("请在案件列表中核对；未保全任何内容。", "Check the case on the case list; nothing was held."),
                             foreign=case)
        q = (select(EvidenceLink.evidence_id).join(Step, Step.id == EvidenceLink.step_id)
             .where(Step.case_id == case.id).distinct())
        if where_units is not None:
            q = q.where(EvidenceLink.evidence_id.in_(select(Evidence.id).where(where_units)))
        stored: dict[str, Any] = {"case_id": case.id, "number": case.number}
        if units is not None:
            stored["units"] = sorted(units)
        return stored, sorted(db.scalars(q)), case.unit_id
    if scope_kind == "officer":
        officer = scope.get("officer")
        if not isinstance(officer, str) or not officer.strip():
            raise RetentionError(said("请给出警号", "An officer hold needs the officer's number."),
                                 said('例如 {"officer": "000123", "from": "...", "to": "..."}', 'e.g. {"officer": "000123", "from": "...", "to": "..."}'))
        start, end = _time(scope.get("from"), "from"), _time(scope.get("to"), "to")
        if end < start:
            raise NothingMatches(said("时间范围的结束早于开始，没有可保全的录像", "The time range ends before it starts: "
                                      "there is nothing to hold."), said("请交换两个时间；未设保全。", "Swap the two times; no hold was placed."))
        stored = {"officer": officer.strip(), "from": start.isoformat(), "to": end.isoformat()}
        if units is not None:
            stored["units"] = sorted(units)
        conds = [Evidence.officer_id == officer.strip(), Evidence.recorded_at >= start, Evidence.recorded_at <= end]
        if where_units is not None:
            conds.append(where_units)
        return stored, sorted(db.scalars(select(Evidence.id).where(*conds))), None
    if scope_kind == "search":
        from archive import query as searching
        from archive.scope import Scope
        from auth.models import Unit

        raw_q = scope.get("query")
        saved = query_of(raw_q if raw_q is not None else {})
        if units is None:
            sc = Scope(units=frozenset(db.scalars(select(Unit.id))), unattributed=True)
        else:
            sc = Scope(units=units)
        if saved.finds_nothing():
            raise NothingMatches(said("该检索不可能有结果，未设保全", "The saved search can match nothing (a time range that "
                                      "ends before it starts, or text with no letter or digit): no hold was placed."),
                                 said("请先在证据列表中更正检索条件。", "Correct the search on the evidence list first."))
        try:
            conds = searching.filters(db, saved, sc)
        except BadQuery as e:
            raise RetentionError(said(f"保存的检索无效：{e.said.zh}", f"The saved search is not valid: {e.said.en}"), e.said_action) from e
        ids = sorted(db.scalars(select(Evidence.id).where(*conds)))
        if not ids:
            raise NothingMatches(said("该检索没有结果，未设保全", "The saved search matches nothing that you may see: no "
                                      "hold was placed."),
                                 said("请先在证据列表中核对检索条件。", "Check the search on the evidence list first."))
        stored = {"query": query_json(saved)}
        if units is not None:
            stored["units"] = sorted(units)
        return stored, ids, None
    raise RetentionError(said(f"没有保全范围「{scope_kind}」", f"There is no hold scope {scope_kind!r}."),
                         said("请使用以下之一：" + "、".join(HOLD_SCOPES) + "。", "Use one of: " + ", ".join(HOLD_SCOPES) + "."))


def _states(db: Session, ids: Sequence[int]) -> tuple[set[int], set[int]]:
    """(destroyed or being destroyed, pending disposal) among ``ids``."""
    gone: set[int] = set()
    pending: set[int] = set()
    for chunk in _chunks(ids):
        for eid, state in db.execute(select(Disposal.evidence_id, Disposal.state)
                                     .where(Disposal.evidence_id.in_(chunk),
                                            Disposal.state.in_(("pending", *GONE)))):
            (gone if state in GONE else pending).add(eid)
    return gone, pending


def _add_items(db: Session, custody: CustodyLog, hold: LegalHold, ids: Sequence[int], *, actor: str,
               first: dict[str, Any] | None, detail: dict[str, Any]) -> int:
    """Insert ``HoldItem`` rows for ``ids`` (not yet in the hold) and bind them: with ``first`` (the
    ``hold_placed`` detail) the first event is ``hold_placed`` carrying the hold too; the rest (and all,
    without ``first``) in ``hold_extended`` events of ``CHUNK`` items."""
    now = utcnow()
    items = [HoldItem(hold_id=hold.id, evidence_id=eid, added_at=now) for eid in ids]
    db.add_all(items)
    db.flush()
    pos = 0
    if first is not None:
        part = items[:CHUNK - 1]
        pos = len(part)
        custody.record(db, actor=actor, action="hold_placed", tool=TOOL, tool_version=liuhen.__version__,
                       evidence_id=part[0].evidence_id if len(ids) == 1 else None,
                       object_sha256=_sha(db, part[0].evidence_id) if len(ids) == 1 else None,
                       detail={**first, "hold_id": hold.id, "items": [i.evidence_id for i in part],
                               "bound": bound((HOLD, hold), *((HOLD_ITEM, i) for i in part))})
    while pos < len(items):
        part = items[pos:pos + CHUNK]
        pos += len(part)
        one = part[0].evidence_id if len(part) == 1 else None
        custody.record(db, actor=actor, action="hold_extended", tool=TOOL, tool_version=liuhen.__version__,
                       evidence_id=one, object_sha256=_sha(db, one) if one else None,
                       detail={**detail, "hold_id": hold.id, "count": len(part),
                               "items": [i.evidence_id for i in part],
                               "bound": bound(*((HOLD_ITEM, i) for i in part))})
    return len(items)


def _sha(db: Session, evidence_id: int) -> str | None:
    return db.scalar(select(Evidence.sha256).where(Evidence.id == evidence_id))


def place(db: Session, custody: CustodyLog, *, scope_kind: str, scope: Mapping[str, Any], reason: str, actor: str,
          unit_id: int | None, visible_units: frozenset[int] | None,
          context: dict[str, Any] | None = None) -> LegalHold:
    """Place a legal hold in the caller's transaction (see the module's docstring). ``visible_units``:
    the units the user may see (None: no limit, the archive's operator). ``unit_id``: whose hold it is
    (None: the case's unit for a case hold, else the one unit of what it holds, if there is one).
    What it did beside the hold (held, destroyed, pending disposal) is ``outcome(hold)``."""
    why = _reason(reason, "保全")
    if scope_kind not in HOLD_SCOPES:
        raise RetentionError(said(f"没有保全范围「{scope_kind}」", f"There is no hold scope {scope_kind!r}."),
                             said("请使用以下之一：" + "、".join(HOLD_SCOPES) + "。", "Use one of: " + ", ".join(HOLD_SCOPES) + "."))
    stored, ids, unit = _resolve(db, scope_kind, scope, visible_units)
    gone, pending = _states(db, ids)
    held = [i for i in ids if i not in gone]
    if not held and scope_kind in ("evidence", "search"):
        raise AlreadyDestroyed(
            said("所列证据均已销毁，未设保全", "Every evidence named is destroyed already: no hold was placed. "
                 f"({', '.join(str(i) for i in sorted(gone)[:20])})"),
            said("已销毁的证据只保留其记录（哈希值、元数据、保管链）；见 liuhen retention log。", "A destroyed evidence keeps its record (hash, metadata, custody) only; see `liuhen retention log`."))
    # whose hold it is: the unit of what it holds when that is one unit (so that the unit's own records
    # managers see it), else the placer's
    hold = LegalHold(unit_id=unit if unit is not None else unit_id, scope_kind=scope_kind,
                     scope=json.dumps(stored, ensure_ascii=False, sort_keys=True, separators=(",", ":")),
                     reason=why, placed_by=actor, placed_at=utcnow())
    db.add(hold)
    db.flush()
    summary = Placed(held=len(held), destroyed=sorted(gone), pending_disposal=sorted(set(held) & pending))
    first = {"scope_kind": scope_kind, "scope": stored, "reason": why, "count": len(held),
             "destroyed_not_held": summary.destroyed, "pending_disposal": len(summary.pending_disposal),
             **(context or {})}
    if held:
        _add_items(db, custody, hold, held, actor=actor, first=first, detail={"reason": "placed", **(context or {})})
    else:
        custody.record(db, actor=actor, action="hold_placed", tool=TOOL, tool_version=liuhen.__version__,
                       detail={**first, "hold_id": hold.id, "items": [], "bound": bound((HOLD, hold))})
    sa_inspect(hold).info["liuhen.placed"] = summary
    return hold


def release(db: Session, custody: CustodyLog, *, hold_id: int, reason: str, actor: str,
            visible_units: frozenset[int] | None, context: dict[str, Any] | None = None) -> LegalHold:
    """Release a hold, with a reason, in the caller's transaction: its evidence fall back to their other
    reasons (the retention hook recomputes them). A hold outside ``visible_units`` answers like a missing
    one (``UnknownHold``); a released one says when and by whom (``HoldReleased``)."""
    why = _reason(reason, "解除保全")
    hold = get_hold(db, hold_id, units=visible_units)
    if hold.released_at is not None:
        raise HoldReleased(said(f"保全 {hold.id} 已于 {hold.released_at.isoformat(timespec='seconds')} 由 {hold.released_by} "
                                "解除", f"Legal hold {hold.id} was released already, at "
                                f"{hold.released_at.isoformat(timespec='seconds')} by {hold.released_by}."),
                           said("解除是最终的：如需再次保全该证据，请设置新的保全。", "A release is final: place a new hold to hold the evidence again."))
    hold.released_at = utcnow()
    hold.released_by = actor
    hold.release_reason = why
    db.flush()
    count = db.scalar(select(func.count()).select_from(HoldItem).where(HoldItem.hold_id == hold.id)) or 0
    custody.record(db, actor=actor, action="hold_released", tool=TOOL, tool_version=liuhen.__version__,
                   detail={"hold_id": hold.id, "reason": why, "scope_kind": hold.scope_kind, "count": int(count),
                           **(context or {}), "bound": bound((HOLD, hold))})
    return hold


# ---------------------------------------------------------------------------- growing with the archive


def extend(db: Session, custody: CustodyLog, *, new_evidence: list[int], new_links: list[int]) -> int:
    """Called in every committing transaction that adds evidence or links (``retention.service.install``):
    a case hold takes what is newly linked to its case; an officer hold takes newly received footage of
    its officer and time range. Adds ``HoldItem`` rows with a ``hold_extended`` custody event; returns
    how many were added. With nothing new: no query; with no active case or officer hold: one."""
    if not new_evidence and not new_links:
        return 0
    active = db.execute(select(LegalHold.id, LegalHold.scope_kind, LegalHold.scope)
                        .where(LegalHold.released_at.is_(None), LegalHold.scope_kind.in_(("case", "officer")))
                        .order_by(LegalHold.id)).all()
    if not active:
        return 0
    wanted: dict[int, set[int]] = {}
    cases: dict[int, list[tuple[int, frozenset[int] | None]]] = {}
    officers: list[tuple[int, dict[str, Any]]] = []
    for hid, kind, raw in active:
        try:
            sc = json.loads(raw)
        except ValueError:
            log.error("legal hold %s has a scope that is not JSON: %r", hid, raw)
            continue
        units = frozenset(sc["units"]) if isinstance(sc.get("units"), list) else None
        if kind == "case" and isinstance(sc.get("case_id"), int):
            cases.setdefault(sc["case_id"], []).append((hid, units))
        elif kind == "officer":
            officers.append((hid, sc))
    if cases and new_links:
        for chunk in _chunks(sorted(new_links)):
            for eid, case_id, unit in db.execute(
                    select(EvidenceLink.evidence_id, Step.case_id, Evidence.unit_id)
                    .join(Step, Step.id == EvidenceLink.step_id).join(Evidence, Evidence.id == EvidenceLink.evidence_id)
                    .where(EvidenceLink.id.in_(chunk), Step.case_id.in_(sorted(cases)))):
                for hid, units in cases.get(case_id, ()):
                    if units is None or unit in units:
                        wanted.setdefault(hid, set()).add(eid)
    if officers and new_evidence:
        for hid, sc in officers:
            try:
                start, end = _time(sc.get("from"), "from"), _time(sc.get("to"), "to")
            except RetentionError:
                log.error("legal hold %s has a bad time range: %r", hid, sc)
                continue
            conds = [Evidence.officer_id == sc.get("officer"), Evidence.recorded_at >= start,
                     Evidence.recorded_at <= end]
            if isinstance(sc.get("units"), list):
                conds.append(Evidence.unit_id.in_(sorted(sc["units"])))
            for chunk in _chunks(sorted(new_evidence)):
                wanted.setdefault(hid, set()).update(db.scalars(select(Evidence.id).where(Evidence.id.in_(chunk), *conds)))
    added = 0
    for hid in sorted(wanted):
        ids = sorted(wanted[hid])
        if not ids:
            continue
        have: set[int] = set()
        for chunk in _chunks(ids):
            have.update(db.scalars(select(HoldItem.evidence_id).where(HoldItem.hold_id == hid,
                                                                      HoldItem.evidence_id.in_(chunk))))
        gone, _pending = _states(db, ids)
        new = [i for i in ids if i not in have and i not in gone]
        if not new:
            continue
        hold = db.get(LegalHold, hid)
        assert hold is not None
        added += _add_items(db, custody, hold, new, actor=SYSTEM, first=None,
                            detail={"reason": "linked to the held case" if hold.scope_kind == "case"
                                    else "received footage of the held officer and time range"})
    return added


# ---------------------------------------------------------------------------- reading


def holds_of(db: Session, *, units: frozenset[int] | None, active: bool | None = None, limit: int = 100,
             offset: int = 0) -> list[LegalHold]:
    """Holds of ``units`` (None: all), newest first; ``active`` True: not released, False: released."""
    q = select(LegalHold)
    if units is not None:
        q = q.where(LegalHold.unit_id.in_(sorted(units)), ~_foreign_items(LegalHold.id, units))
    if active is True:
        q = q.where(LegalHold.released_at.is_(None))
    elif active is False:
        q = q.where(LegalHold.released_at.is_not(None))
    return list(db.scalars(q.order_by(LegalHold.id.desc()).offset(offset).limit(limit)))


def is_visible(db: Session, hold: LegalHold, units: frozenset[int] | None) -> bool:
    """Whether someone who sees ``units`` (None: everything) may see the hold: it is of one of those
    units and holds nothing outside them."""
    if units is None:
        return True
    return hold.unit_id in units and not db.scalar(select(_foreign_items(hold.id, units)))


def _foreign_items(hold_id: Any, units: frozenset[int]) -> Any:
    """Whether the hold holds evidence outside ``units`` (such a hold is not shown or released by
    someone who may not see all it holds)."""
    return exists().where(HoldItem.hold_id == hold_id, HoldItem.evidence_id == Evidence.id,
                          or_(Evidence.unit_id.is_(None), Evidence.unit_id.not_in(sorted(units))))


def get_hold(db: Session, hold_id: int, *, units: frozenset[int] | None) -> LegalHold:
    """The hold, if it exists, is of ``units`` (None: any) and holds nothing outside them; else
    ``UnknownHold``, the same for every case."""
    hold = db.get(LegalHold, hold_id)
    if hold is None or not is_visible(db, hold, units):
        raise hidden_hold(hold_id)
    return hold


def count_items(db: Session, hold_ids: Sequence[int]) -> dict[int, int]:
    if not hold_ids:
        return {}
    return {hid: int(n) for hid, n in db.execute(select(HoldItem.hold_id, func.count())
                                                  .where(HoldItem.hold_id.in_(list(hold_ids)))
                                                  .group_by(HoldItem.hold_id))}


def items_of(db: Session, hold_id: int, limit: int = 100, offset: int = 0) -> list[HoldItem]:
    """The evidence a hold holds, in the order they were added."""
    return list(db.scalars(select(HoldItem).where(HoldItem.hold_id == hold_id).order_by(HoldItem.id)
                           .offset(offset).limit(limit)))


def holds_on(db: Session, evidence_id: int) -> list[LegalHold]:
    """The active holds of one evidence (for the evidence page)."""
    return list(db.scalars(select(LegalHold).join(HoldItem, HoldItem.hold_id == LegalHold.id)
                           .where(HoldItem.evidence_id == evidence_id, LegalHold.released_at.is_(None))
                           .order_by(LegalHold.id)))


def hold_dict(hold: LegalHold, *, items: int | None = None) -> dict[str, Any]:
    """A hold as the API and ``--json`` show it."""

    def t(v: dt.datetime | None) -> str | None:
        return v.astimezone(dt.UTC).isoformat() if v is not None else None

    try:
        scope = json.loads(hold.scope)
    except ValueError:
        scope = hold.scope
    out: dict[str, Any] = {"hold_id": hold.id, "unit_id": hold.unit_id, "scope_kind": hold.scope_kind,
                           "scope": scope, "reason": hold.reason, "placed_by": hold.placed_by,
                           "placed_at": t(hold.placed_at), "active": hold.released_at is None,
                           "released_at": t(hold.released_at), "released_by": hold.released_by,
                           "release_reason": hold.release_reason}
    if items is not None:
        out["items"] = items
    return out


# ---------------------------------------------------------------------------- Object Lock


def _lock_mismatch(now: dt.datetime) -> Any:
    """Rows whose Object Lock differs from their keep: the legal hold (held or permanent), or a
    keep-until later than the retain-until set (and still ahead: a past date needs no lock)."""
    want_hold = RetentionState.keep.in_(LOCKED_KEEPS)
    return or_(and_(want_hold, RetentionState.lock_hold.is_not(True)),
               and_(~want_hold, RetentionState.lock_hold.is_(True)),
               and_(RetentionState.retain_until.is_not(None), RetentionState.retain_until > now,
                    or_(RetentionState.lock_until.is_(None), RetentionState.retain_until > RetentionState.lock_until)))


def sync_locks(archive: Archive, *, limit: int = 1000, actor: str = "system:object-lock") -> dict[str, Any]:
    """Mirror each evidence's keep onto its stored objects (the original and every derived file), on a
    store with Object Lock: an object legal hold ON while it is held or permanent, OFF otherwise, and
    the retain-until date extended (never shortened) to its keep-until. ``lock_hold`` / ``lock_until``
    are updated only after the store said yes, one evidence per transaction (its retention row locked
    meanwhile, so two runs cannot cross). Errors are collected, never raised. Up to ``limit`` evidence a
    call (``more`` says whether some remain). One ``object_lock_synced`` custody event a run that did
    anything. A store without Object Lock: ``{"supported": False}``, nothing done."""
    store = archive.store
    try:
        supported = store.supports_lock()
    except StoreError as e:
        return {"supported": None, "failed": [{"evidence_id": None, "key": None, "reason": e.diagnostics()}]}
    if not supported:
        return {"supported": False}
    now = utcnow()
    with archive.reads.begin() as db:
        ids = list(db.scalars(select(RetentionState.evidence_id)
                              .where(_lock_mismatch(now),
                                     ~exists().where(Disposal.evidence_id == RetentionState.evidence_id,
                                                     Disposal.state.in_(GONE)))
                              .order_by(RetentionState.evidence_id).limit(limit + 1)))
    more = len(ids) > limit
    ids = ids[:limit]
    out: dict[str, Any] = {"supported": True, "checked": 0, "hold_on": 0, "hold_off": 0, "extended": 0,
                           "objects": 0, "failed": [], "more": more}
    for eid in ids:
        with archive.sessions.begin() as db:
            row = db.execute(select(RetentionState).where(RetentionState.evidence_id == eid)
                             .with_for_update()).scalar_one_or_none()
            ev = db.get(Evidence, eid)
            if row is None or ev is None:
                continue
            out["checked"] += 1
            want_hold = row.keep in LOCKED_KEEPS
            grow = (row.retain_until is not None and row.retain_until > now
                    and (row.lock_until is None or row.retain_until > row.lock_until))
            flip = bool(row.lock_hold) != want_hold
            if not flip and not grow:
                continue
            objects: list[tuple[str, str | None, bool]] = [(ev.store_key, ev.store_version, False)]
            objects += [(k, v, True) for k, v in db.execute(
                select(DerivedFile.store_key, DerivedFile.store_version).where(DerivedFile.evidence_id == eid)
                .order_by(DerivedFile.id))]
            current: tuple[str, str | None] | None = None
            try:
                for key, version, derived in objects:
                    current = (key, version)
                    if flip and not (not want_hold and derived and _shared_held(db, eid, key)):
                        store.set_legal_hold(key, version, want_hold)
                    if grow:
                        assert row.retain_until is not None
                        store.extend_retention(key, version, row.retain_until)
                    out["objects"] += 1
            except StoreError as e:  # the row is left as it was: the next run tries again
                out["failed"].append({"evidence_id": eid, "key": current[0] if current else None,
                                      "reason": e.diagnostics()})
                continue
            if flip:
                row.lock_hold = want_hold
                out["hold_on" if want_hold else "hold_off"] += 1
            if grow:
                row.lock_until = row.retain_until
                out["extended"] += 1
    if out["checked"] or out["failed"]:
        with archive.sessions.begin() as db:
            archive.custody.record(db, actor=actor, action="object_lock_synced", tool=TOOL,
                                   tool_version=liuhen.__version__,
                                   outcome="success" if not out["failed"] else "failure",
                                   detail={k: (len(v) if k == "failed" else v) for k, v in out.items()}
                                   | {"failures": out["failed"][:50], "store": store.describe()})
    return out


def _shared_held(db: Session, evidence_id: int, key: str) -> bool:
    """Whether another evidence that is held (or permanent) shares the derived object ``key``."""
    return db.scalar(select(DerivedFile.id).join(RetentionState, RetentionState.evidence_id == DerivedFile.evidence_id)
                     .where(DerivedFile.store_key == key, DerivedFile.evidence_id != evidence_id,
                            RetentionState.keep.in_(LOCKED_KEEPS)).limit(1)) is not None


__all__: list[Any] = ["CHUNK", "AlreadyDestroyed", "HiddenCase", "NothingMatches", "HiddenEvidence", "HoldReleased", "Placed", "count_items", "extend",
                      "get_hold", "hidden_hold", "hold_dict", "holds_of", "holds_on", "is_visible", "items_of",
                      "outcome", "place", "query_json", "query_of", "release", "sync_locks"]
