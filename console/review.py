"""Legal review (法制审核) in the console: the case page's review block, the reviewers' queue (审核队列),
the workspace of one round (审核工作台) and the notices to the handling unit.

Pages call ``review.service`` and ``review.views`` directly, as the API does. Every action is a form
POST carrying the session's CSRF token, checked against the role table (``review.submit``,
``review.mark``, ``review.decide``) and carried out by the service, which records its custody event.
A refusal (role, CSRF, a round of another unit, a reviewer who may not review this case, a decision
the gate refuses) is a custody event too: ``access_denied`` (``api.access``), or ``review_gate_refused``
(``review.service.record_refusal``) for a decision on a major case without a passing review.
Opening the workspace as a reviewer opens the round (``review_opened``); playing a recording goes
through the evidence proxy route, which records ``played``.
"""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from api import access
from api.deps import ArchiveDep
from api.schemas import EvidenceId
from archive.context import Archive
from auth.models import User
from cases.errors import CaseError
from cases.models import Case
from console.pages import _local_time, _user, case_response, render, templates
from console.records import _form_user
from liuhen.config import OUTCOMES
from liuhen.words import said
from review import service, views
from review.catalogue import Proposal, parse_amount
from review.errors import ReviewConflict, ReviewError, ReviewRequired, UnknownRound
from review.models import ReviewNotice, ReviewRound

router = APIRouter(include_in_schema=False)
CONFIRM = "结论一经作出不可更改，意见书将归档并通知承办单位 / The outcome cannot be changed once made; the opinion is " \
          "filed in the case and the handling unit is notified."
ANSWER_LABELS = {"yes": "符合", "no": "不符合", "na": "不适用"}


# ---------------------------------------------------------------------------- the case page's block


def case_block(db: Session, archive: Archive, p: access.Principal, case: Case) -> dict[str, Any]:
    """What the case page shows of the case's review (read-only: a page view changes nothing)."""
    settings = archive.settings
    cr = views.case_review(db, settings, case)
    notices: list[ReviewNotice] = []
    if p.may("review.submit"):
        notices = [n for n in service.notices(db, units=p.scope.units) if n.case_id == case.id]
    return {"review": cr, "notices": notices, "decision_kinds": settings.review.decision_kinds,
            "decision_steps": settings.review.decision_steps,
            "decision_records": [k for k in settings.review.decision_records if k == "决定书"]}


# ---------------------------------------------------------------------------- the top bar's count


def badge(request: Request, user: access.Principal | None) -> dict[str, int]:
    """Unread notices of the user's units (for the handling unit: ``review.submit``) and open rounds in
    the user's queue (``review.decide``), for the top bar."""
    out = {"notices": 0, "queue": 0}
    if user is None or not user.may("review.view"):
        return out
    archive: Archive = request.app.state.archive
    units = sorted(user.scope.units)
    try:
        with archive.reads.begin() as db:
            if user.may("review.submit"):
                out["notices"] = int(db.scalar(select(func.count()).select_from(ReviewNotice).where(
                    ReviewNotice.unit_id.in_(units), ReviewNotice.read_at.is_(None))) or 0)
            if user.may("review.decide"):
                out["queue"] = int(db.scalar(select(func.count()).select_from(ReviewRound).where(
                    ReviewRound.reviewer_unit_id.in_(units), ReviewRound.state != "decided")) or 0)
    except SQLAlchemyError:  # a count is not worth failing a page over (the page itself says what failed)
        pass
    return out


templates.env.globals["review_badge"] = badge


# ---------------------------------------------------------------------------- helpers


def _back(path: str, anchor: str = "", **args: Any) -> RedirectResponse:
    from urllib.parse import urlencode

    q = {k: v for k, v in args.items() if v not in (None, "")}
    return RedirectResponse(path + (f"?{urlencode(q)}" if q else "") + (f"#{anchor}" if anchor else ""),
                            status_code=303)


def _round(archive: Archive, db: Session, p: access.Principal, round_id: int, action: str,
           request: Request) -> ReviewRound:
    """The round ``p`` may act on with ``action``: of the handling unit's or the reviewing unit's;
    one of another unit answers like one that does not exist (a refusal logged)."""
    access.require(archive, db, p, action, request)
    rnd = db.get(ReviewRound, round_id)
    gone = UnknownRound(said(f"没有法制审核第 {round_id} 号记录，或您无权查看", f"There is no review round {round_id} that "
                             "you may see."), said("请从审核队列或案件页面打开", "Open it from the review queue or the case page."))
    if rnd is None:
        access.missing(archive, db, p, what="review_round", ident=round_id, request=request)
        raise gone
    if rnd.unit_id not in p.scope.units and rnd.reviewer_unit_id not in p.scope.units:
        access.denied(archive, db, p, permission=action, reason=f"unit (review round {round_id})", request=request)
        raise gone
    return rnd


def _conflict(archive: Archive, p: access.Principal, request: Request, round_id: int, err: ReviewConflict) -> None:
    """A reviewer ``may_review`` refuses: an ``access_denied`` event with the reason, committed."""
    with archive.sessions.begin() as db:
        access.denied(archive, db, p, permission="review.decide", request=request,
                      reason=f"review conflict (round {round_id}): {err.detail}")


# ---------------------------------------------------------------------------- case page actions


@router.post("/cases/{case_id}/review/submit")
def submit(case_id: EvidenceId, request: Request, archive: ArchiveDep, csrf: str = Form(""),
           decision_kind: str = Form(""), content: str = Form(""), legal_basis: str = Form(""),
           discretion: str = Form(""), amount: str = Form(""), statement: str = Form("")) -> Response:
    """提请法制审核: the proposed decision and the handler's statement; the service pins the materials."""
    p = _form_user(archive, request, csrf, "review.submit")
    try:
        proposal = Proposal(decision_kind=decision_kind.strip(), content=content, legal_basis=legal_basis,
                            discretion=discretion, amount_fen=parse_amount(amount))
        with archive.sessions.begin() as db:
            c = access.case(archive, db, p, case_id, "review.submit", request)
            rnd = service.submit(db, archive.custody, archive.settings, case=c, proposal=proposal,
                                 statement=statement, actor=p.actor)
            round_no = rnd.round_no
    except (ReviewError, CaseError) as e:
        return case_response(request, archive, case_id, error=e.diagnostics(), status=400)
    return _back(f"/cases/{case_id}", "review", done=f"submitted:{round_no}")


@router.post("/cases/{case_id}/review/mark")
def mark(case_id: EvidenceId, request: Request, archive: ArchiveDep, csrf: str = Form(""), major: str = Form(""),
         reason: str = Form("")) -> Response:
    """认定重大/非重大: a hand mark with its reason (wins over the catalogue for this case)."""
    p = _form_user(archive, request, csrf, "review.mark")
    try:
        with archive.sessions.begin() as db:
            c = access.case(archive, db, p, case_id, "review.mark", request)
            service.mark(db, archive.custody, archive.settings, case=c, major=major == "yes", reason=reason,
                         actor=p.actor)
    except ReviewError as e:
        return case_response(request, archive, case_id, error=e.diagnostics(), status=400)
    return _back(f"/cases/{case_id}", "review", done="marked")


@router.post("/cases/{case_id}/review/decision")
def record_decision(case_id: EvidenceId, request: Request, archive: ArchiveDep, csrf: str = Form(""),
                    what: str = Form("step"), kind: str = Form(""), start: str = Form(""), end: str = Form(""),
                    place: str = Form(""), officers: Annotated[list[str] | None, Form()] = None, party: str = Form(""),
                    facts: str = Form(""), law: str = Form(""), decision: str = Form(""),
                    decision_kind: str = Form(""), amount: str = Form(""), remedy: str = Form(""),
                    decided_on: str = Form("")) -> Response:
    """Record the decision: a 决定 step, or a 决定书 form. On a major case the gate (``review.gate``)
    refuses it unless the latest round passed and the decision is the reviewed one: the refusal is a
    ``review_gate_refused`` event and the case page says why."""
    from cases import records as recording
    from cases import service as case_service

    settings = archive.settings
    p = _form_user(archive, request, csrf, "cases.manage")
    if what == "record":
        kind = kind or "决定书"
    try:
        if what == "record":
            with archive.sessions.begin() as db:
                access.case(archive, db, p, case_id, "cases.manage", request)
            fields = {"party": party, "facts": facts, "law": law, "decision": decision, "remedy": remedy,
                      "decided_on": decided_on, "decision_kind": decision_kind, "amount": amount}
            recording.add_form(archive, case_id=case_id, actor=p.actor, kind=kind,
                               fields={k: v for k, v in fields.items() if v.strip()})
        else:
            tz = ZoneInfo(settings.station.timezone)
            started, ended = _local_time(start, tz), _local_time(end, tz)
            if started is None or ended is None:
                raise CaseError(said("请填写决定环节的起止时间", "Give the decision step's start and end."),
                                said("例如 2026-11-26 10:00 – 2026-11-26 10:30", "e.g. 2026-11-26 10:00 – 2026-11-26 10:30"))
            with archive.sessions.begin() as db:
                c = access.case(archive, db, p, case_id, "cases.manage", request)
                case_service.add_step(db, archive.custody, settings.cases, case=c, kind=kind, started_at=started,
                                      ended_at=ended, actor=p.actor, place=place or None, officers=officers or ())
    except ReviewRequired as e:
        service.record_refusal(archive, case_id=case_id, what=what, kind=kind, actor=p.actor, reason=e.detail,
                               context=p.where())
        return case_response(request, archive, case_id, error=e.diagnostics(), status=409)
    except (CaseError, ReviewError) as e:
        return case_response(request, archive, case_id, error=e.diagnostics(), status=400)
    return _back(f"/cases/{case_id}", "review", done="decision")


# ---------------------------------------------------------------------------- notices


@router.get("/review/notices/{notice_id}")
def open_notice(notice_id: EvidenceId, request: Request, archive: ArchiveDep) -> Response:
    """Open a notice: it is marked read, and the case's review block is shown."""
    p = _user(archive, request)
    with archive.sessions.begin() as db:
        access.require(archive, db, p, "review.view", request)
        n = db.get(ReviewNotice, notice_id)
        if n is None or n.unit_id not in p.scope.units:
            if n is None:
                access.missing(archive, db, p, what="review_notice", ident=notice_id, request=request)
            else:  # another unit's notice: a refusal, answered exactly like a missing one (as the API does)
                access.denied(archive, db, p, permission="review.view", reason="unit", request=request)
            raise UnknownRound(said(f"没有通知 {notice_id}", f"There is no notice {notice_id}."),
                               said("请刷新页面。", "Reload the page."))
        if p.may("review.submit"):  # read by the handling unit, not by whoever else passes by
            service.read_notice(db, notice_id=notice_id, units=p.scope.units, actor=p.actor)
        case_id, round_id = n.case_id, n.round_id
    return _back(f"/cases/{case_id}", f"round-{round_id}")


# ---------------------------------------------------------------------------- the queue


@router.get("/review")
def queue_page(request: Request, archive: ArchiveDep) -> HTMLResponse:
    """审核队列: the rounds in the reviewer's units, soonest deadline first; and the handling unit's notices."""
    settings = archive.settings
    p = _user(archive, request)
    rows: list[dict[str, Any]] = []
    with archive.reads.begin() as db:
        access.require(archive, db, p, "review.view", request)
        rounds = service.queue(db, units=p.scope.units) if p.may("review.decide") else []
        cases = {c.id: c for c in db.scalars(select(Case).where(Case.id.in_([r.case_id for r in rounds])))}
        for r in rounds:
            c = cases[r.case_id]
            rows.append({"round": r, "case": c, "left": views.workdays_left(settings, r.due_on)})
        mine = (list(db.scalars(select(ReviewRound).where(ReviewRound.unit_id.in_(sorted(p.scope.units)))
                                .order_by(ReviewRound.id.desc()).limit(100))) if p.may("review.submit") else [])
        mine_cases = {c.id: c for c in db.scalars(select(Case).where(Case.id.in_([r.case_id for r in mine])))}
        notices = service.notices(db, units=p.scope.units) if p.may("review.submit") else []
        access.record(archive, db, p, "review_viewed", detail={"what": "review queue", "rounds": [r.id for r in rounds]})
    return render(request, "review_queue.html", user=p, rows=rows, notices=notices,
                  mine=[(r, mine_cases.get(r.case_id)) for r in mine])


# ---------------------------------------------------------------------------- the workspace


def _workspace(request: Request, archive: Archive, p: access.Principal, round_id: int, *,
               refusal: ReviewConflict | None = None, error: str | None = None, status: int = 200) -> HTMLResponse:
    settings = archive.settings
    with archive.reads.begin() as db:
        rnd = service.get_round(db, round_id)
        ws = views.workspace(db, settings, rnd, visible=p.scope.allows, actor=p.actor)
    decide = p.may("review.decide") and refusal is None and ws.state == "in_review"
    return render(request, "review_workspace.html", status=status, user=p, ws=ws, refusal=refusal, error=error,
                  can_decide=decide, outcomes=OUTCOMES, kinds=settings.review.decision_kinds, answers=ANSWER_LABELS,
                  confirm=CONFIRM, done=request.query_params.get("done"))


@router.get("/review/rounds/{round_id}")
def workspace_page(round_id: EvidenceId, request: Request, archive: ArchiveDep) -> HTMLResponse:
    """审核工作台. A reviewer's visit opens the round (``review_opened``, the first one takes it into
    review); a reviewer who may not review the case (handled it, was an officer, lacks the
    qualification) is told why, with no forms, and the refusal is an ``access_denied`` event."""
    settings = archive.settings
    p = _user(archive, request)
    refusal: ReviewConflict | None = None
    with archive.sessions.begin() as db:
        rnd = _round(archive, db, p, round_id, "review.view", request)
        if p.may("review.decide") and rnd.state != "decided":
            user = db.get_one(User, p.user_id)
            try:
                service.may_review(db, settings, rnd=rnd, user=user)
            except ReviewConflict as e:
                refusal = e
            else:
                service.open_round(db, archive.custody, settings, rnd=rnd, user=user, actor=p.actor)
        else:
            access.record(archive, db, p, "review_viewed", detail={"what": "review round", "round_id": rnd.id,
                                                                   "case_id": rnd.case_id})
    if refusal is not None:
        _conflict(archive, p, request, round_id, refusal)
    return _workspace(request, archive, p, round_id, refusal=refusal, status=403 if refusal else 200)


def _reviewer(archive: Archive, request: Request, csrf: str, round_id: int) -> tuple[access.Principal, Response | None]:
    """The reviewer of a form POST on the workspace, checked by ``may_review``; a refusal answers with
    the workspace saying why (and is an ``access_denied`` event)."""
    p = _form_user(archive, request, csrf, "review.decide")
    with archive.sessions.begin() as db:
        rnd = _round(archive, db, p, round_id, "review.decide", request)
        try:
            service.may_review(db, archive.settings, rnd=rnd, user=db.get_one(User, p.user_id))
        except ReviewConflict as e:
            refusal = e
        else:
            return p, None
    _conflict(archive, p, request, round_id, refusal)
    return p, _workspace(request, archive, p, round_id, refusal=refusal, status=403)


@router.post("/review/rounds/{round_id}/answer")
def answer(round_id: EvidenceId, request: Request, archive: ArchiveDep, csrf: str = Form(""),
           element: str = Form(""), answer: str = Form(""), comment: str = Form("")) -> Response:
    """One element of the checklist: 符合 / 不符合 / 不适用 with a comment, saved on its own."""
    p, refused = _reviewer(archive, request, csrf, round_id)
    if refused is not None:
        return refused
    try:
        with archive.sessions.begin() as db:
            rnd = service.get_round(db, round_id)
            service.answer(db, archive.custody, archive.settings, rnd=rnd, element=element, answer=answer,
                           comment=comment, actor=p.actor)
    except ReviewError as e:
        return _workspace(request, archive, p, round_id, error=e.diagnostics(), status=400)
    index = archive.settings.review.elements.index(element)
    return _back(f"/review/rounds/{round_id}", f"element-{index}", done="answered")


def _changed(rnd: ReviewRound, outcome: str, kind: str, content: str,
             amount: str) -> Proposal | None:
    if outcome != "变更":
        return None
    return Proposal(decision_kind=kind.strip() or rnd.decision_kind, content=content, legal_basis=rnd.legal_basis,
                    discretion=rnd.discretion, amount_fen=parse_amount(amount))


@router.post("/review/rounds/{round_id}/decide")
def decide(round_id: EvidenceId, request: Request, archive: ArchiveDep, csrf: str = Form(""),
           outcome: str = Form(""), opinion: str = Form(""), changed_kind: str = Form(""),
           changed_content: str = Form(""), changed_amount: str = Form(""), confirmed: str = Form("")) -> Response:
    """The outcome. Without ``confirmed`` a confirmation page says what will happen; with it,
    ``review.service.decide`` files the opinion and notifies the handling unit."""
    p, refused = _reviewer(archive, request, csrf, round_id)
    if refused is not None:
        return refused
    settings = archive.settings
    try:
        with archive.sessions() as db:
            rnd = service.get_round(db, round_id)
            changed = _changed(rnd, outcome, changed_kind, changed_content, changed_amount)
            service._check_outcome(db, settings, rnd, outcome, opinion, changed)
            case = db.get_one(Case, rnd.case_id)
            summary = {"number": case.number, "title": case.title, "round_no": rnd.round_no,
                       "decision_kind": rnd.decision_kind, "content": rnd.content}
        if confirmed != "yes":
            return render(request, "review_confirm.html", user=p, round_id=round_id, outcome=outcome,
                          opinion=opinion, changed=changed, changed_kind=changed_kind,
                          changed_content=changed_content, changed_amount=changed_amount, summary=summary,
                          confirm=CONFIRM)
        user = _db_user(archive, p)
        service.decide(archive, round_id=round_id, outcome=outcome, opinion=opinion, actor=p.actor, user=user,
                       changed=changed)
    except ReviewConflict as e:
        _conflict(archive, p, request, round_id, e)
        return _workspace(request, archive, p, round_id, refusal=e, status=403)
    except ReviewError as e:
        return _workspace(request, archive, p, round_id, error=e.diagnostics(), status=400)
    return _back(f"/review/rounds/{round_id}", "outcome", done="decided")


def _db_user(archive: Archive, p: access.Principal) -> User:
    with archive.sessions() as db:
        user = db.get_one(User, p.user_id)
        db.expunge(user)
        return user
