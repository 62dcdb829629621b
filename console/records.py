"""The records manager's console (档案管理): retention rules and report, legal holds, the pending-disposal
queue, the destruction log, and the retention block of the evidence page.

Pages read the retention tables within the user's units; every action is a form POST carrying the
session's CSRF token, checked server-side against the role table (``retention.view``, ``.hold``,
``.restore``, ``.dispose``, ``.classify``) and carried out by the retention services, which record
its custody event. A refusal (role, a wrong CSRF token) is an ``access_denied`` event, like every
console refusal; a hold, disposal or evidence outside the user's units answers like one that does not
exist.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from api import access
from api.deps import ArchiveDep
from api.schemas import EvidenceId
from archive import query as searching
from archive.context import Archive
from archive.models import Evidence
from auth.errors import Forbidden
from auth.models import Unit
from cases.models import Case, EvidenceLink, Step
from console.pages import _local_time, _user, render
from liuhen.config import RetentionSettings
from liuhen.db import utcnow
from liuhen.errors import LiuhenError
from liuhen.words import said
from retention import holds as holding
from retention.errors import DisposalRefused
from retention.models import Disposal, DisposalApproval, LegalHold, RetentionChange, RetentionState

router = APIRouter(include_in_schema=False)
PER_PAGE = 100


# ---------------------------------------------------------------------------- who may, and the forms


def _form_user(archive: Archive, request: Request, csrf: str, action: str) -> access.Principal:
    """The signed-in user of a console form POST: the form's ``csrf`` field must be the session's token
    and the role must allow ``action``; either refusal is an ``access_denied`` event and a 403."""
    p = access.authenticate_request(archive, request, check_csrf=False)
    request.state.principal = p
    with archive.sessions.begin() as db:
        if not hmac.compare_digest(csrf or "", p.csrf_token or ""):
            access.denied(archive, db, p, permission="csrf", reason="missing or wrong csrf form field",
                          request=request)
            raise Forbidden(said("表单已失效", "The form expired or did not come from this console."),
                            said("请刷新页面后重试", "Reload the page and try again."))
        access.require(archive, db, p, action, request)
    return p


def _view_user(archive: Archive, request: Request, db: Session, action: str = "retention.view") -> access.Principal:
    p = _user(archive, request)
    access.require(archive, db, p, action, request)
    return p


def _back(path: str, **args: Any) -> RedirectResponse:
    q = {k: v for k, v in args.items() if v not in (None, "", 0)}
    return RedirectResponse(path + (f"?{urlencode(q)}" if q else ""), status_code=303)


def _reason(text: str) -> str:
    from retention.errors import ReasonRequired

    if not text.strip():
        raise ReasonRequired(said("请填写理由", "A reason is required."),
                             said("每次保全、解除、恢复和更改保存期限都须说明理由", "Say why: every hold, release, restore "
                                  "and class change records its reason."))
    return text.strip()


def _count(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and len(raw) < 10 else 0


def _tz(archive: Archive) -> ZoneInfo:
    return ZoneInfo(archive.settings.station.timezone)


def _evidence_in_scope(archive: Archive, db: Session, p: access.Principal, evidence_id: int, action: str,
                       request: Request) -> Evidence:
    return access.evidence(archive, db, p, evidence_id, action, request)


# ---------------------------------------------------------------------------- reading: the evidence block


@dataclass
class EvidenceRetention:
    class_name: str
    class_label: str
    class_is_default: bool
    keep: str  # until | open_case | held | permanent
    retain_until: dt.datetime | None
    reasons: list[dict[str, Any]]
    holds: list[LegalHold]
    disposal: Disposal | None
    approvals: list[DisposalApproval]
    cases: list[dict[str, Any]]
    changes: list[RetentionChange] = field(default_factory=list)

    @property
    def destroyed(self) -> bool:
        return self.disposal is not None and self.disposal.state in ("destroying", "destroyed")

    @property
    def pending(self) -> bool:
        return self.disposal is not None and self.disposal.state == "pending"


def evidence_retention(db: Session, settings: RetentionSettings, ev: Evidence) -> EvidenceRetention:
    """What the evidence page shows of ``ev``'s retention: its class, keep-until and reasons, the holds
    on it, its disposal (latest), the cases it is or was linked to, and its keep-until's history."""
    from retention import holds, service

    state = db.get(RetentionState, ev.id)
    if state is not None:
        keep, until, reasons = state.keep, state.retain_until, json.loads(state.reasons or "[]")
        cls = state.class_name
    else:  # computed before every commit that moves it; an evidence from before 0012 may have none yet
        d = service.decisions(db, settings, [ev.id])[ev.id]
        keep, until, reasons, cls = d.keep, d.retain_until, d.reasons, None
    name = cls or settings.default_class
    held = holds.holds_on(db, ev.id)
    disposal = db.scalars(select(Disposal).where(Disposal.evidence_id == ev.id)
                          .order_by(Disposal.id.desc()).limit(1)).first()
    approvals = (list(db.scalars(select(DisposalApproval).where(DisposalApproval.disposal_id == disposal.id)
                                 .order_by(DisposalApproval.id))) if disposal is not None else [])
    cases = [{"case_id": cid, "number": number, "status": status, "unlinked_at": unlinked}
             for cid, number, status, unlinked in db.execute(
                 select(Case.id, Case.number, Case.status, EvidenceLink.unlinked_at)
                 .join(Step, Step.case_id == Case.id).join(EvidenceLink, EvidenceLink.step_id == Step.id)
                 .where(EvidenceLink.evidence_id == ev.id).order_by(EvidenceLink.id))]
    changes = list(db.scalars(select(RetentionChange).where(RetentionChange.evidence_id == ev.id)
                              .order_by(RetentionChange.id.desc()).limit(20)))
    label = settings.classes[name].label if name in settings.classes else name
    for r in reasons:  # dates as times, for the page's clock
        for k in ("until", "closed_at", "restored_at"):
            if isinstance(r.get(k), str):
                r[k] = _time(r[k])
        if r.get("class") in settings.classes:
            r["label"] = settings.classes[r["class"]].label
    return EvidenceRetention(name, label, cls is None, keep, until, reasons, held, disposal, approvals, cases,
                             changes)


def _time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


# ---------------------------------------------------------------------------- rules and report


def _unit_names(db: Session, ids: Iterable[int | None]) -> dict[int | None, str]:
    wanted = sorted({i for i in ids if i is not None})
    names: dict[int | None, str] = {None: "—"}
    for uid, code, name in db.execute(select(Unit.id, Unit.code, Unit.name).where(Unit.id.in_(wanted))):
        names[uid] = f"{name} ({code})"
    return names


def _kept_by_class_and_unit(db: Session, settings: RetentionSettings, units: Iterable[int]) -> list[dict[str, Any]]:
    """Counts and bytes of the evidence still kept (not destroyed), per class and unit, with how many
    of each are kept to a date, while a case is open, on hold or for ever (one GROUP BY)."""
    cls = func.coalesce(RetentionState.class_name, settings.default_class)
    gone = select(Disposal.evidence_id).where(Disposal.state.in_(("destroying", "destroyed")))
    rows = db.execute(select(cls, Evidence.unit_id, RetentionState.keep, func.count(),
                             func.coalesce(func.sum(Evidence.size), 0))
                      .select_from(RetentionState).join(Evidence, Evidence.id == RetentionState.evidence_id)
                      .where(Evidence.unit_id.in_(sorted(units)), Evidence.id.not_in(gone))
                      .group_by(cls, Evidence.unit_id, RetentionState.keep)
                      .order_by(cls, Evidence.unit_id)).all()
    kept: dict[tuple[str, int | None], dict[str, Any]] = {}
    for c, u, keep, n, b in rows:
        row = kept.setdefault((c, u), {"class": c, "unit_id": u, "count": 0, "bytes": 0, "keeps": {}})
        row["count"] += int(n)
        row["bytes"] += int(b)
        row["keeps"][keep] = row["keeps"].get(keep, 0) + int(n)
    return list(kept.values())


@router.get("/retention")
def retention_page(request: Request, archive: ArchiveDep) -> HTMLResponse:
    """The rules in force and the report (``retention.report``), within the user's units."""
    from retention import report as surface

    settings = archive.settings.retention
    with archive.reads.begin() as db:
        p = _view_user(archive, request, db)
        rep = surface.report(db, settings, now=utcnow(), units=p.scope.units)
        kept = _kept_by_class_and_unit(db, settings, p.scope.units)
        names = _unit_names(db, [r["unit_id"] for r in kept])
        access.record(archive, db, p, "retention_viewed", detail={"what": "rules and report"})
    return render(request, "retention.html", user=p, rules=surface.rules(archive.settings), settings=settings,
                  report=rep, kept=kept, unit_names=names, tab="rules")


# ---------------------------------------------------------------------------- holds


def _hold(archive: Archive, db: Session, p: access.Principal, hold_id: int, action: str,
          request: Request) -> LegalHold:
    """The hold ``p`` may see; one of another unit answers like one that does not exist."""
    from retention.errors import UnknownHold

    h = db.get(LegalHold, hold_id)
    gone = UnknownHold(said(f"没有保全 {hold_id}", f"There is no legal hold {hold_id} that you may see."),
                       said("请在保全列表中核对", "Check the hold on the list of holds."))
    if h is None:
        access.missing(archive, db, p, what="legal_hold", ident=hold_id, request=request)
        raise gone
    if not holding.is_visible(db, h, p.scope.units):
        access.denied(archive, db, p, permission=action, reason=f"unit (hold {hold_id})", request=request)
        raise gone
    return h


HOLD_EVENTS = ("hold_placed", "hold_extended", "hold_released")
SEARCH_FIELDS = ("q", "officer", "device", "station", "important", "playback", "start", "end")


def _search_query(archive: Archive, f: Any) -> searching.Query:
    tz = _tz(archive)
    return searching.Query(q=f.get("q") or None, officer=f.get("officer") or None, device=f.get("device") or None,
                           station=f.get("station") or None, important=True if f.get("important") else None,
                           playback=f.get("playback") or None, start=_local_time(f.get("start"), tz),
                           end=_local_time(f.get("end"), tz))


@router.get("/retention/holds")
def holds_page(request: Request, archive: ArchiveDep) -> HTMLResponse:
    from retention import holds

    f = request.query_params
    state = f.get("state") or "active"
    if state not in ("active", "released", "all"):
        state = "active"
    scope = f.get("scope") if f.get("scope") in ("evidence", "case", "officer", "search") else "evidence"
    search = {k: f.get(k) for k in SEARCH_FIELDS if f.get(k)} if scope == "search" else {}
    with archive.reads.begin() as db:
        p = _view_user(archive, request, db)
        rows = holds.holds_of(db, units=p.scope.units, active={"active": True, "released": False}.get(state),
                              limit=PER_PAGE)
        counts = holds.count_items(db, [h.id for h in rows])
        units = [(u.code, u.name) for u in access.visible_unit_rows(db, p)]
        access.record(archive, db, p, "retention_viewed", detail={"what": "legal holds", "state": state})
    return render(request, "holds.html", user=p, rows=rows, counts=counts, state=state, scope=scope, search=search,
                  units=units, form=dict(f), tab="holds", scopes=[(h, json.loads(h.scope or "{}")) for h in rows])


@router.post("/retention/holds")
def place_hold(request: Request, archive: ArchiveDep, csrf: str = Form(""), scope_kind: str = Form(""),
               reason: str = Form(""), evidence_ids: str = Form(""), case_number: str = Form(""),
               officer: str = Form(""), start: str = Form(""), end: str = Form(""), q: str = Form(""),
               device: str = Form(""), station: str = Form(""), important: str = Form(""),
               playback: str = Form("")) -> Response:
    """Place a hold from the holds page's form (evidence ids, a case number, an officer and time range)
    or from the search page (the search's own fields: ``scope_kind`` search)."""
    p = _form_user(archive, request, csrf, "retention.hold")
    why = _reason(reason)
    scope = _scope_of(archive, scope_kind, {
        "evidence_ids": evidence_ids, "case_number": case_number, "officer": officer, "start": start, "end": end,
        "q": q, "device": device, "station": station, "important": important, "playback": playback})
    with archive.sessions.begin() as db:
        hold_id, did = _services().place(db, archive, p, kind=scope_kind, scope=scope, reason=why, request=request)
    _services().sync(archive)
    return _back(f"/retention/holds/{hold_id}", done="placed", destroyed=len(did.get("destroyed_not_held") or []),
                 pending=did.get("pending_disposal") or 0)


def _scope_of(archive: Archive, kind: str, f: dict[str, str]) -> dict[str, Any]:
    """The scope of a hold from its form (``retention.holds`` resolves it within the user's units)."""
    from retention.errors import RetentionError

    if kind == "evidence":
        raw = [x.strip() for x in f.get("evidence_ids", "").replace("，", ",").replace(" ", ",").split(",")]
        raw = [x for x in raw if x]
        if not raw or not all(x.isdigit() and len(x) < 19 and int(x) > 0 for x in raw):
            raise RetentionError(said("请填写证据编号（逗号分隔）", "Give evidence ids, separated by commas."),
                                 said("例如 12, 13, 15", "e.g. 12, 13, 15"))
        return {"evidence": sorted({int(x) for x in raw})}
    if kind == "case":
        return {"number": f.get("case_number", "").strip()}
    if kind == "officer":
        tz = _tz(archive)
        start, end = _local_time(f.get("start"), tz), _local_time(f.get("end"), tz)
        if start is None or end is None:
            raise RetentionError(said("请填写警号和起止时间", "Give an officer number and a time range."),
                                 said("例如 000123, 2026-11-01 00:00 – 2026-11-30 23:59", "e.g. 000123, 2026-11-01 00:00 – 2026-11-30 23:59"))
        return {"officer": f.get("officer", "").strip(), "from": start.isoformat(), "to": end.isoformat()}
    if kind == "search":
        from retention import holds

        q = _search_query(archive, f)
        return {"query": holds.query_json(q)}
    raise RetentionError(said(f"没有保全范围「{kind}」", f"There is no hold scope {kind!r}."),
                         said("请使用 证据、案件、警号 或 检索 范围之一（evidence、case、officer、search）。", "Use evidence, case, officer or search."))


@router.get("/retention/holds/{hold_id}")
def hold_page(hold_id: EvidenceId, request: Request, archive: ArchiveDep) -> HTMLResponse:
    from hashing.models import CustodyEvent
    from retention import holds

    with archive.reads.begin() as db:
        p = _view_user(archive, request, db)
        h = _hold(archive, db, p, hold_id, "retention.view", request)
        held = holds.items_of(db, h.id, limit=1000)
        evs = {e.id: e for e in db.scalars(select(Evidence).where(Evidence.id.in_([i.evidence_id for i in held])))}
        items = [(i, evs[i.evidence_id]) for i in held if i.evidence_id in evs]
        total = holds.count_items(db, [h.id]).get(h.id, 0)
        like = or_(CustodyEvent.detail.like(f'%"hold_id": {h.id}%'), CustodyEvent.detail.like(f'%"hold_id":{h.id}%'))
        history = [e for e in db.scalars(select(CustodyEvent).where(CustodyEvent.action.in_(HOLD_EVENTS), like)
                                         .order_by(CustodyEvent.seq.desc()).limit(200))
                   if json.loads(e.detail or "{}").get("hold_id") == h.id]
        access.record(archive, db, p, "retention_viewed", detail={"what": "legal hold", "hold_id": h.id})
    return render(request, "hold.html", user=p, hold=h, scope=json.loads(h.scope or "{}"), items=items, total=total,
                  history=history, tab="holds", done=request.query_params.get("done"),
                  skipped=_count(request.query_params.get("destroyed")),
                  pending=_count(request.query_params.get("pending")))


@router.post("/retention/holds/{hold_id}/release")
def release_hold(hold_id: EvidenceId, request: Request, archive: ArchiveDep, csrf: str = Form(""),
                 reason: str = Form("")) -> Response:
    p = _form_user(archive, request, csrf, "retention.hold")
    why = _reason(reason)
    with archive.sessions.begin() as db:
        h = _hold(archive, db, p, hold_id, "retention.hold", request)
        _services().release(db, archive, p, hold=h, reason=why)
    _services().sync(archive)
    return _back(f"/retention/holds/{hold_id}", done="released")


# ---------------------------------------------------------------------------- pending disposal


def _disposal(archive: Archive, db: Session, p: access.Principal, disposal_id: int, action: str,
              request: Request) -> tuple[Disposal, Evidence]:
    from retention.errors import UnknownDisposal

    d = db.get(Disposal, disposal_id)
    gone = UnknownDisposal(said(f"没有待销毁项 {disposal_id}", f"There is no disposal {disposal_id} that you may see."),
                           said("请在待销毁列表中核对", "Check the pending-disposal queue."))
    if d is None:
        access.missing(archive, db, p, what="disposal", ident=disposal_id, request=request)
        raise gone
    ev = db.get(Evidence, d.evidence_id)
    assert ev is not None
    if not p.scope.allows(ev):
        access.denied(archive, db, p, permission=action, reason=f"unit (disposal {disposal_id})", request=request,
                      evidence=ev)
        raise gone
    return d, ev


def _rule(settings: RetentionSettings, raw: str | None) -> dict[str, Any]:
    """A disposal's rule as scheduled (class, reasons) with the class's label and the keep-until it had."""
    try:
        rule: dict[str, Any] = json.loads(raw or "{}")
    except ValueError:
        return {"raw": raw}
    name = rule.get("class")
    rule["label"] = settings.classes[name].label if name in settings.classes else name
    dates = [t for r in rule.get("reasons") or [] if isinstance(r, dict) for t in [_time(r.get("until"))] if t]
    rule["until"] = max(dates) if dates else None
    return rule


def _disposal_row(settings: RetentionSettings, r: dict[str, Any], actor: str) -> dict[str, Any]:
    """A row of ``retention.disposal.pending`` / ``destruction_log`` as the pages show it (times as times)."""
    out = dict(r)
    for k in ("scheduled_at", "due_at", "destroy_started_at", "destroyed_at"):
        out[k] = _time(r.get(k))
    out["rule"] = _rule(settings, json.dumps(r.get("rule") or {}))
    out["approvals"] = list(r.get("approvers") or [])
    out["mine"] = r.get("scheduled_by") == actor or actor in out["approvals"]
    return out


@router.get("/retention/pending")
def pending_page(request: Request, archive: ArchiveDep) -> HTMLResponse:
    from retention import disposal

    settings = archive.settings.retention
    with archive.reads.begin() as db:
        p = _view_user(archive, request, db)
        rows = disposal.pending(db, units=p.scope.units, limit=PER_PAGE * 5, settings=settings)
        access.record(archive, db, p, "retention_viewed", detail={"what": "pending disposal"})
    return render(request, "pending.html", user=p, items=[_disposal_row(settings, r, p.actor) for r in rows],
                  settings=settings, tab="pending", now=utcnow(), done=request.query_params.get("done"))


@router.post("/retention/pending/{disposal_id}/restore")
def restore(disposal_id: EvidenceId, request: Request, archive: ArchiveDep, csrf: str = Form(""),
            reason: str = Form(""), class_name: str = Form(""), back: str = Form("")) -> Response:
    p = _form_user(archive, request, csrf, "retention.restore")
    why = _reason(reason)
    with archive.sessions.begin() as db:
        d, ev = _disposal(archive, db, p, disposal_id, "retention.restore", request)
        _services().restore(db, archive, p, disposal=d, reason=why, class_name=class_name or None)
    return _back(f"/evidence/{ev.id}" if back == "evidence" else "/retention/pending", done="restored")


@router.post("/retention/pending/{disposal_id}/approve")
def approve(disposal_id: EvidenceId, request: Request, archive: ArchiveDep, csrf: str = Form("")) -> Response:
    p = _form_user(archive, request, csrf, "retention.dispose")
    with archive.sessions.begin() as db:
        d, _ = _disposal(archive, db, p, disposal_id, "retention.dispose", request)
        try:
            _services().approve(db, archive, p, disposal=d)
        except DisposalRefused as e:  # (the scheduler, a second approval): a refusal, recorded like every other
            access.denied(archive, db, p, permission="retention.dispose", request=request,
                          reason=f"two-person rule (disposal {disposal_id}): {e.detail}")
            raise
    return _back("/retention/pending", done="approved")


# ---------------------------------------------------------------------------- destruction log


@router.get("/retention/destroyed")
def destroyed_page(request: Request, archive: ArchiveDep) -> HTMLResponse:
    from retention import disposal

    settings = archive.settings.retention
    with archive.reads.begin() as db:
        p = _view_user(archive, request, db)
        rows = disposal.destruction_log(db, units=p.scope.units, limit=PER_PAGE * 5)
        access.record(archive, db, p, "retention_viewed", detail={"what": "destruction log"})
    return render(request, "destroyed.html", user=p, items=[_disposal_row(settings, r, p.actor) for r in rows],
                  tab="destroyed")


# ---------------------------------------------------------------------------- the evidence's class


@router.post("/evidence/{evidence_id}/retention/class")
def set_class(evidence_id: EvidenceId, request: Request, archive: ArchiveDep, csrf: str = Form(""),
              class_name: str = Form(""), reason: str = Form("")) -> Response:
    from retention import service

    p = _form_user(archive, request, csrf, "retention.classify")
    why = _reason(reason)
    with archive.sessions.begin() as db:
        ev = _evidence_in_scope(archive, db, p, evidence_id, "retention.classify", request)
        service.set_class(db, archive.custody, archive.settings.retention, evidence_id=ev.id,
                          class_name=class_name or None, actor=p.actor, reason=why, context=p.where())
    return _back(f"/evidence/{evidence_id}", done="classified")


# ---------------------------------------------------------------------------- the services


class Unavailable(LiuhenError):
    code = "retention_unavailable"


class _Services:
    """The retention services the console's actions call (holds, disposal), in one place."""

    def place(self, db: Session, archive: Archive, p: access.Principal, *, kind: str, scope: dict[str, Any],
              reason: str, request: Request) -> tuple[int, dict[str, Any]]:
        """Place a hold in the user's units; a named evidence or case outside them (or missing) is refused
        like a missing one, with its ``access_denied`` (``not_found``) event."""
        holds = _module("retention.holds", "保全 / Placing legal holds")
        try:
            h = holds.place(db, archive.custody, scope_kind=kind, scope=scope, reason=reason, actor=p.actor,
                            unit_id=None if kind == "case" else p.unit_id, visible_units=p.scope.units,
                            context=p.where())
        except holds.HiddenEvidence as e:
            if e.foreign:
                access.denied(archive, db, p, permission="retention.hold", reason="unit", request=request,
                              evidence=db.get(Evidence, e.foreign[0]))
            else:
                access.missing(archive, db, p, what="evidence", ident=e.missing[0], request=request)
            raise
        except holds.HiddenCase as e:
            if e.foreign is not None:
                access.denied(archive, db, p, permission="retention.hold", reason=f"unit (case {e.foreign.number})",
                              request=request)
            else:
                access.missing(archive, db, p, what="case", ident=str(scope.get("number")), request=request)
            raise
        return int(h.id), dict(holds.outcome(h).to_dict())

    def release(self, db: Session, archive: Archive, p: access.Principal, *, hold: LegalHold, reason: str) -> None:
        holds = _module("retention.holds", "解除保全 / Releasing legal holds")
        holds.release(db, archive.custody, hold_id=hold.id, reason=reason, actor=p.actor,
                      visible_units=p.scope.units, context=p.where())

    def sync(self, archive: Archive) -> None:
        """Mirror holds to the store's Object Lock now (the daily run does it again if this fails)."""
        import logging

        holds = _module("retention.holds", "保全 / Legal holds")
        if hasattr(holds, "sync_locks"):
            try:
                holds.sync_locks(archive)
            except Exception:
                logging.getLogger("liuhen.console").exception("mirroring legal holds to Object Lock failed")

    def restore(self, db: Session, archive: Archive, p: access.Principal, *, disposal: Disposal, reason: str,
                class_name: str | None) -> None:
        disposal_service = _module("retention.disposal", "恢复 / Restoring from pending disposal")
        disposal_service.restore(db, archive.custody, archive.settings.retention, disposal_id=disposal.id,
                                 reason=reason, actor=p.actor, visible_units=p.scope.units, class_name=class_name,
                                 context=p.where())

    def approve(self, db: Session, archive: Archive, p: access.Principal, *, disposal: Disposal) -> None:
        disposal_service = _module("retention.disposal", "批准销毁 / Approving disposals")
        disposal_service.approve(db, archive.custody, archive.settings.retention, disposal_id=disposal.id,
                                 actor=p.actor, visible_units=p.scope.units, context=p.where())


def _module(name: str, what: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise Unavailable(said(f"{what}：此版本尚未提供", f"{what.split(' / ')[-1]} is not available in this build."),
                          said("请使用命令行或联系管理员", "Use the command line, or ask the administrator.")) from e


def _services() -> _Services:
    return _Services()
