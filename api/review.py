"""``/api/v1/review`` and ``/api/v1/cases/{case_id}/review``: legal review (法制审核).

The handling unit submits a case's proposed decision (``review.submit``); a legal reviewer of the
reviewing unit finds it in the queue, opens it (the first opening of a round takes it into review),
answers the checklist element by element and decides (``review.decide``); whoever may read cases
follows the rounds and the notices (``review.view``); a handler or reviewer marks a case major or
not by hand, with a reason (``review.mark``).

Cases are those of the user's units; a round is the user's when its case's unit or its reviewing
unit is one of the user's units; a round, case or notice of another unit answers exactly like one
that does not exist. Every refusal is a custody event: a role or unit refusal ``access_denied``
(``api.access``), a reviewer who may not review this case (``review.service.may_review``: handled
it, was an officer of one of its steps, no 法律职业资格 for a first penalty review) also
``access_denied``, naming the reason.
"""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import access
from api.access import CSRF_HEADER, CurrentUser
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS, LINE_NOT_BLANK, LINES, LINES_NOT_BLANK, MAX_ID
from archive.context import Archive
from auth.models import User
from cases.models import Case
from liuhen.config import OUTCOMES, PASSING_OUTCOMES
from liuhen.words import said
from review import catalogue as catalogue_
from review import service, views
from review.catalogue import Proposal, parse_amount, yuan
from review.errors import ReviewConflict, UnknownRound
from review.models import ReviewNotice, ReviewRound

router = APIRouter(tags=["review"], dependencies=[StrictQuery], responses={
    **ERRORS,
    409: {"model": ERRORS[400]["model"], "description": "the case is closed, or a decision needs a passing review"},
    422: {"model": ERRORS[400]["model"], "description": "the request was not understood, or the deadline falls in a "
                                                        "year the holiday calendar does not cover (calendar_uncovered)"}})
Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]
# yuan as a person types it (12000, 12,000.50, 1.2万, 12000元); no exponent, NaN or infinity
AMOUNT = r"^\s*([0-9][0-9,，]{0,20}(\.[0-9]{0,2})?万?元?)?\s*$"
Element = Annotated[str, PathParam(min_length=1, max_length=64, pattern=LINE_NOT_BLANK,
                                   description="an element of the checklist ([review] elements), e.g. 执法资格 or 未超越/滥用职权")]


# ---------------------------------------------------------------------------- bodies and answers


class MarkIn(BaseModel):
    major: bool = Field(description="true: a major decision (重大执法决定) needing legal review; false: not")
    reason: str = Field(min_length=1, max_length=2000, pattern=LINE_NOT_BLANK, examples=["涉及重大公共利益"])


class SubmitIn(BaseModel):
    decision_kind: str = Field(min_length=1, max_length=64, pattern=LINE_NOT_BLANK, examples=["罚款"],
                               description="one of [review] decision_kinds (GET /review/catalogue lists them)")
    content: str = Field(min_length=1, max_length=20000, pattern=LINES_NOT_BLANK,
                         description="the proposed decision (拟作决定内容)")
    legal_basis: str = Field(min_length=1, max_length=5000, pattern=LINES_NOT_BLANK, description="法律依据")
    discretion: str = Field(default="", max_length=5000, pattern=LINES, description="裁量基准 applied")
    amount: str | None = Field(default=None, max_length=32, pattern=AMOUNT, examples=["12000", "1.2万"],
                               description="罚没金额 in yuan as typed; empty or absent: none")
    statement: str = Field(min_length=1, max_length=20000, pattern=LINES_NOT_BLANK, description="承办人说明")


class AnswerIn(BaseModel):
    answer: Literal["yes", "no", "na"] = Field(description="yes 符合, no 不符合 (needs a comment), na 不适用")
    comment: str = Field(default="", max_length=5000, pattern=LINES)


class ChangedIn(BaseModel):
    decision_kind: str = Field(min_length=1, max_length=64, pattern=LINE_NOT_BLANK)
    content: str = Field(min_length=1, max_length=20000, pattern=LINES_NOT_BLANK)
    amount: str | None = Field(default=None, max_length=32, pattern=AMOUNT, description="yuan as typed")


class DecideIn(BaseModel):
    outcome: str = Field(min_length=1, max_length=16, pattern=LINE_NOT_BLANK, examples=["同意"],
                         description="同意, 变更, 纠正, 补充材料, 移送司法机关 or 不同意")
    opinion: str = Field(min_length=1, max_length=20000, pattern=LINES_NOT_BLANK, description="审核意见")
    changed: ChangedIn | None = Field(default=None, description="变更 only: the changed decision")


class RoundOut(BaseModel):
    round_id: int
    round_no: int
    case_id: int
    case_number: str
    state: str
    decision_kind: str
    proposal_sha256: str
    materials_sha256: str
    submitted_at: dt.datetime
    submitted_by: str
    due_on: dt.date = Field(description="the last statutory working day of the review")
    reviewer: str | None
    outcome: str | None
    opinion: str | None
    final_sha256: str | None = Field(description="the hash a recorded decision must match (同意, 变更)")
    decided_at: dt.datetime | None
    decided_by: str | None
    opinion_record_id: int | None = Field(description="the text record of the opinion document (法制审核意见书)")


class QueueItem(BaseModel):
    round_id: int
    round_no: int
    case_id: int
    case_number: str
    case_title: str
    case_category: str
    decision_kind: str
    amount: str
    state: str
    submitted_at: dt.datetime
    submitted_by: str
    due_on: dt.date
    workdays_left: int | None = Field(description="working days to the deadline (negative: overdue); null: "
                                                   "decided, or a year the calendar does not cover")
    reviewer: str | None
    outcome: str | None


class NoticeOut(BaseModel):
    notice_id: int
    case_id: int
    case_number: str
    round_id: int
    message: str
    created_at: dt.datetime
    read_at: dt.datetime | None
    read_by: str | None


def _round_out(rnd: ReviewRound, case: Case) -> RoundOut:
    return RoundOut(round_id=rnd.id, round_no=rnd.round_no, case_id=case.id, case_number=case.number,
                    state=rnd.state, decision_kind=rnd.decision_kind, proposal_sha256=rnd.proposal_sha256,
                    materials_sha256=rnd.materials_sha256, submitted_at=rnd.submitted_at,
                    submitted_by=rnd.submitted_by, due_on=rnd.due_on, reviewer=rnd.reviewer, outcome=rnd.outcome,
                    opinion=rnd.opinion, final_sha256=rnd.final_sha256, decided_at=rnd.decided_at,
                    decided_by=rnd.decided_by, opinion_record_id=rnd.opinion_record_id)


# ---------------------------------------------------------------------------- checks


def hidden_round(round_id: int) -> UnknownRound:
    """The answer for a round that does not exist, or is not of the user's units (the same sentence)."""
    return UnknownRound(said(f"没有法制审核第 {round_id} 号记录", f"There is no review round {round_id}."),
                        said("请打开案件页面，选择其中一轮审核。", "Open the case page and choose one of its review rounds."))


def hidden_notice(notice_id: int) -> UnknownRound:
    return UnknownRound(said(f"没有通知 {notice_id}", f"There is no notice {notice_id}."), said("请刷新通知列表。", "Reload the notices."))


def round_of(archive: Archive, db: Session, p: access.Principal, round_id: int, action: str,
             request: Request | None) -> ReviewRound:
    """The round ``p`` may act on with ``action``: its case's unit or its reviewing unit is one of
    ``p``'s; one of another unit answers exactly like one that does not exist (an ``access_denied``
    event; a missing one a ``not_found`` event)."""
    access.require(archive, db, p, action, request)
    rnd = db.get(ReviewRound, round_id)
    if rnd is None:
        access.missing(archive, db, p, what="review round", ident=round_id, request=request)
        raise hidden_round(round_id)
    if rnd.unit_id not in p.scope.units and rnd.reviewer_unit_id not in p.scope.units:
        access.denied(archive, db, p, permission=action, reason="unit", request=request)
        raise hidden_round(round_id)
    return rnd


def conflict_refused(archive: Archive, db: Session, p: access.Principal, err: ReviewConflict,
                     request: Request | None) -> None:
    """A reviewer ``may_review`` refused, as an ``access_denied`` event (committed)."""
    access.denied(archive, db, p, permission="review.decide", reason=f"review conflict: {err.detail}",
                  request=request)


def reviewer_checked(archive: Archive, db: Session, p: access.Principal, rnd: ReviewRound,
                     request: Request | None) -> User:
    """``p``'s account, if ``p`` may review ``rnd`` (``review.service.may_review``); else the refusal
    is logged and ``ReviewConflict`` (403) raised."""
    user = db.get_one(User, p.user_id)
    try:
        service.may_review(db, archive.settings, rnd=rnd, user=user)
    except ReviewConflict as e:
        conflict_refused(archive, db, p, e, request)
        raise
    return user


def same_site(p: access.Principal, request: Request) -> bool:
    """Whether a GET may change state for ``p``: an API token, or a console session that sent its
    ``X-CSRF-Token`` header (a bare cross-site GET carries the cookie, not the header)."""
    return p.via != "session" or hmac.compare_digest(request.headers.get(CSRF_HEADER, ""), p.csrf_token or "")


# ---------------------------------------------------------------------------- the catalogue, a case's review


@router.get("/review/catalogue", summary="The catalogue of major decisions (重大执法决定法制审核目录清单), the "
            "checklist's elements, the decision kinds and the outcomes")
def get_catalogue(archive: ArchiveDep, p: CurrentUser, request: Request) -> dict[str, Any]:
    r = archive.settings.review
    with archive.reads.begin() as db:
        access.require(archive, db, p, "review.view", request)
    return {"rules": catalogue_.describe(r), "elements": list(r.elements),
            "prefill": dict(r.prefill), "decision_kinds": list(r.decision_kinds),
            "outcomes": list(OUTCOMES), "passing_outcomes": list(PASSING_OUTCOMES),
            "days": dict(r.days), "decision_steps": list(r.decision_steps),
            "decision_records": list(r.decision_records)}


@router.get("/cases/{case_id}/review", summary="A case's legal review: major or not and why, its rounds, and "
            "whether a decision may be recorded now")
def case_review(case_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> dict[str, Any]:
    with archive.reads.begin() as db:
        c = access.case(archive, db, p, case_id, "review.view", request)
        out = views.case_review(db, archive.settings, c).to_dict()
        access.record(archive, db, p, "review_viewed", detail={"what": "case", "case_id": c.id,
                                                               "number": c.number})
        return out


@router.post("/cases/{case_id}/review/mark", status_code=201, summary="Mark a case major (or not major) by hand, "
             "with a reason; the latest mark wins over the catalogue")
def mark(case_id: Id, body: MarkIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> dict[str, Any]:
    with archive.sessions.begin() as db:
        c = access.case(archive, db, p, case_id, "review.mark", request)
        service.mark(db, archive.custody, archive.settings, case=c, major=body.major, reason=body.reason,
                     actor=p.actor)
        return views.case_review(db, archive.settings, c).to_dict()


@router.post("/cases/{case_id}/review", response_model=RoundOut, status_code=201,
             summary="Submit the case's proposed decision for legal review (提请法制审核): a new round, its "
                     "materials pinned by hash, due in statutory working days")
def submit(case_id: Id, body: SubmitIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> RoundOut:
    with archive.sessions.begin() as db:
        c = access.case(archive, db, p, case_id, "review.submit", request)
        proposal = Proposal(decision_kind=body.decision_kind.strip(), content=body.content,
                            legal_basis=body.legal_basis, discretion=body.discretion,
                            amount_fen=parse_amount(body.amount))
        rnd = service.submit(db, archive.custody, archive.settings, case=c, proposal=proposal,
                             statement=body.statement, actor=p.actor)
        return _round_out(rnd, c)


# ---------------------------------------------------------------------------- the reviewer's work


@router.get("/review/queue", response_model=list[QueueItem], summary="Rounds in the review queue of the user's "
            "units, soonest deadline first")
def queue(archive: ArchiveDep, p: CurrentUser, request: Request,
          all_: Annotated[bool, Query(alias="all", description="true: decided rounds too")] = False,
          ) -> list[QueueItem]:
    with archive.reads.begin() as db:
        access.require(archive, db, p, "review.view", request)
        rounds = service.queue(db, units=p.scope.units, open_only=not all_)
        cases = {c.id: c for c in db.scalars(select(Case).where(Case.id.in_({r.case_id for r in rounds})))} \
            if rounds else {}
        out = []
        for r in rounds:
            c = cases[r.case_id]
            out.append(QueueItem(
                round_id=r.id, round_no=r.round_no, case_id=c.id, case_number=c.number, case_title=c.title,
                case_category=c.category, decision_kind=r.decision_kind, amount=yuan(r.amount_fen), state=r.state,
                submitted_at=r.submitted_at, submitted_by=r.submitted_by, due_on=r.due_on,
                workdays_left=views.workdays_left(archive.settings, r.due_on) if r.state != "decided" else None,
                reviewer=r.reviewer, outcome=r.outcome))
        access.record(archive, db, p, "review_viewed", detail={"what": "queue", "all": all_,
                                                               "shown": [r.id for r in rounds]})
        return out


@router.get("/review/rounds/{round_id}", summary="The reviewer's workspace of a round; a reviewer "
            "(review.decide) opens an undecided round by this call (a review_opened custody event)")
def workspace(round_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> dict[str, Any]:
    """Documents and recordings as pinned at submission (each recording's coverage and how often the
    user played it), the checklist with liuhen's pre-filled findings, what changed since, the
    deadline and the earlier rounds; ``may_decide`` says whether the user may answer and decide,
    ``refusal`` why not. A console session opens the round only with its ``X-CSRF-Token`` header."""
    settings = archive.settings
    if not p.may("review.decide"):
        with archive.reads.begin() as db:
            rnd = round_of(archive, db, p, round_id, "review.view", request)
            out = views.workspace(db, settings, rnd, visible=p.scope.allows, actor=p.actor).to_dict()
            access.record(archive, db, p, "review_viewed", detail={"what": "round", "round_id": rnd.id,
                                                                   "case_id": rnd.case_id})
            return {**out, "may_decide": False, "refusal": None}
    with archive.sessions.begin() as db:
        rnd = round_of(archive, db, p, round_id, "review.view", request)
        refusal: str | None = None
        if rnd.state == "decided":
            refusal = f"第 {rnd.round_no} 轮法制审核已有结论 / Round {rnd.round_no} is already decided."
            access.record(archive, db, p, "review_viewed", detail={"what": "round", "round_id": rnd.id,
                                                                   "case_id": rnd.case_id})
        elif not same_site(p, request):
            refusal = (f"控制台会话打开审核须带 {CSRF_HEADER} 头 / A console session opens a round only with the "
                       f"{CSRF_HEADER} header; this view is read-only.")
            access.record(archive, db, p, "review_viewed", detail={"what": "round", "round_id": rnd.id,
                                                                   "case_id": rnd.case_id})
        conflict: ReviewConflict | None = None
        if refusal is None:
            user = db.get_one(User, p.user_id)
            try:
                service.may_review(db, settings, rnd=rnd, user=user)
            except ReviewConflict as e:
                refusal, conflict = e.diagnostics(), e
            else:
                service.open_round(db, archive.custody, settings, rnd=rnd, user=user, actor=p.actor)
        out = views.workspace(db, settings, rnd, visible=p.scope.allows, actor=p.actor).to_dict()
        if conflict is not None:  # read-only for this reviewer: the refusal is an event (committed, last)
            conflict_refused(archive, db, p, conflict, request)
        return {**out, "may_decide": refusal is None, "refusal": refusal}


@router.put("/review/rounds/{round_id}/answers/{element:path}", summary="Answer one element of the checklist "
            "(yes 符合, no 不符合, na 不适用) with a comment")
def answer(round_id: Id, element: Element, body: AnswerIn, archive: ArchiveDep, p: CurrentUser,
           request: Request) -> dict[str, Any]:
    with archive.sessions.begin() as db:
        rnd = round_of(archive, db, p, round_id, "review.decide", request)
        reviewer_checked(archive, db, p, rnd, request)
        a = service.answer(db, archive.custody, archive.settings, rnd=rnd, element=element, answer=body.answer,
                           comment=body.comment, actor=p.actor)
        return {"round_id": rnd.id, "element": a.element, "answer": a.answer, "comment": a.comment,
                "prefill": a.prefill, "prefill_reason": a.prefill_reason, "answered_by": a.answered_by,
                "answered_at": a.answered_at.isoformat() if a.answered_at else None}


@router.post("/review/rounds/{round_id}/decide", response_model=RoundOut, summary="Decide the round (同意, 变更, "
             "纠正, 补充材料, 移送司法机关, 不同意) with the opinion; the opinion document (法制审核意见书) is filed as "
             "a signed text record of the case and the handling unit is notified")
def decide(round_id: Id, body: DecideIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> RoundOut:
    with archive.sessions.begin() as db:
        rnd = round_of(archive, db, p, round_id, "review.decide", request)
        user = reviewer_checked(archive, db, p, rnd, request)
    changed = None
    if body.changed is not None:
        changed = Proposal(decision_kind=body.changed.decision_kind.strip(), content=body.changed.content,
                           amount_fen=parse_amount(body.changed.amount))
    try:
        done = service.decide(archive, round_id=round_id, outcome=body.outcome.strip(), opinion=body.opinion,
                              actor=p.actor, user=user, changed=changed)
    except ReviewConflict as e:  # (it changed between the check above and the decision's own)
        with archive.sessions.begin() as db:
            conflict_refused(archive, db, p, e, request)
        raise
    with archive.reads.begin() as db:
        return _round_out(done, db.get_one(Case, done.case_id))


# ---------------------------------------------------------------------------- notices


@router.get("/review/notices", response_model=list[NoticeOut], summary="Notices to the user's units (a round "
            "decided), newest first")
def notices(archive: ArchiveDep, p: CurrentUser, request: Request,
            all_: Annotated[bool, Query(alias="all", description="true: read notices too")] = False,
            ) -> list[NoticeOut]:
    with archive.reads.begin() as db:
        access.require(archive, db, p, "review.view", request)
        rows = service.notices(db, units=p.scope.units, unread_only=not all_)
        numbers = {i: n for i, n in db.execute(select(Case.id, Case.number).where(
            Case.id.in_({n.case_id for n in rows})))} if rows else {}
        return [NoticeOut(notice_id=n.id, case_id=n.case_id, case_number=numbers.get(n.case_id, ""),
                          round_id=n.round_id, message=n.message, created_at=n.created_at, read_at=n.read_at,
                          read_by=n.read_by) for n in rows]


@router.post("/review/notices/{notice_id}/read", response_model=NoticeOut, summary="Mark a notice read")
def read_notice(notice_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> NoticeOut:
    with archive.sessions.begin() as db:
        access.require(archive, db, p, "review.view", request)
        n = db.get(ReviewNotice, notice_id)
        if n is None:
            access.missing(archive, db, p, what="review notice", ident=notice_id, request=request)
            raise hidden_notice(notice_id)
        if n.unit_id not in p.scope.units:
            access.denied(archive, db, p, permission="review.view", reason="unit", request=request)
            raise hidden_notice(notice_id)
        was_read = n.read_at is not None
        service.read_notice(db, notice_id=n.id, units=p.scope.units, actor=p.actor)
        if not was_read:
            access.record(archive, db, p, "review_notice_read", detail={"notice_id": n.id, "case_id": n.case_id,
                                                                        "round_id": n.round_id})
        number = db.scalar(select(Case.number).where(Case.id == n.case_id)) or ""
        return NoticeOut(notice_id=n.id, case_id=n.case_id, case_number=number, round_id=n.round_id,
                         message=n.message, created_at=n.created_at, read_at=n.read_at, read_by=n.read_by)
