"""Legal review (法制审核): submissions, the reviewer's work, the outcome, and what the gate asks.

Plain keyword-only functions in the caller's transaction, each change a custody event whose
``bound`` entry vouches for the rows it wrote (``review.bindings``); ``decide`` alone takes the
archive, because it renders and stores the opinion (法制审核意见书) before recording it, with the
outcome, in one transaction.

A round pins its materials at submission: the latest version of every text record of the case,
every linked recording (its SHA-256, step and linked part) and the coverage report, as canonical
JSON hashed into ``materials_sha256``. ``changes_since`` compares them with the case as it is now,
so the reviewer is told what changed after submission.

(CORE READY: the signatures front ends build on are stable.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

import liuhen
from archive.context import Archive
from archive.models import Evidence
from auth.models import Unit, User
from auth.policy import visible_units
from cases.coverage import check_case
from cases.models import Case, EvidenceLink, Step, TextRecord, TextRecordVersion
from cases.service import _open, current_links, step_officers
from hashing.binding import bound
from hashing.custody import CustodyLog, canonical
from hashing.models import CustodyEvent
from liuhen import faults
from liuhen.config import OUTCOMES, PASSING_OUTCOMES, Settings
from liuhen.db import utcnow
from liuhen.words import said
from review.bindings import ANSWER, DECISION, MARK, ROUND
from review.catalogue import Majority, Proposal, judge, parse_amount, proposal_hash
from review.errors import ReviewConflict, ReviewError, ReviewRequired, UnknownRound
from review.models import ANSWERS, ReviewAnswer, ReviewCase, ReviewDecision, ReviewMark, ReviewNotice, ReviewRound
from roster.models import Certificate, Officer

TOOL = "liuhen-review"
HEARING = "听证"
OPINION_KIND = "法制审核意见书"  # the text-record kind of the opinion: filed only by ``decide``
FILING_OPINION = "review.filing_opinion"  # (set in a session's info while ``decide`` files the opinion)
ANSWER_WORDS = {"yes": "符合", "no": "不符合", "na": "不适用"}


def _event(custody: CustodyLog, db: Session, actor: str, action: str, *, outcome: str = "success",
           **detail: Any) -> None:
    custody.record(db, actor=actor, action=action, tool=TOOL, tool_version=liuhen.__version__, outcome=outcome,
                   detail=detail)


def _unit_code(db: Session, unit_id: int) -> str:
    unit = db.get(Unit, unit_id)
    return unit.code if unit else ""


def _tz(settings: Settings) -> str:
    return settings.station.timezone


# ---------------------------------------------------------------------------- major or not


def _latest_mark(db: Session, case_id: int) -> ReviewMark | None:
    return db.scalars(select(ReviewMark).where(ReviewMark.case_id == case_id)
                      .order_by(ReviewMark.id.desc()).limit(1)).first()


def latest_round(db: Session, case_id: int) -> ReviewRound | None:
    return db.scalars(select(ReviewRound).where(ReviewRound.case_id == case_id)
                      .order_by(ReviewRound.round_no.desc()).limit(1)).first()


def judge_case(db: Session, settings: Settings, case: Case, *, decision_kind: str | None = None,
               amount_fen: int | None = None, hearing: bool | None = None) -> Majority:
    """Whether the case's decision is major, and why, computed (nothing written): major when the latest
    hand mark says so, or else when any catalogue rule holds for the case (category, a hearing held or
    about to be: ``hearing``), for the decision of any of its rounds (proposed or changed), or for
    ``decision_kind``/``amount_fen`` (what a decision document states). Once major by a round, always
    major: a later, lesser proposal or a document never lowers it; only a reviewer's mark does."""
    mark = _latest_mark(db, case.id)
    unit = _unit_code(db, case.unit_id)
    if hearing is None or not hearing:
        hearing = bool(hearing) or any(st.kind == HEARING for st in case.steps)
    if mark is not None:
        return judge(settings.review, category=case.category, unit_code=unit, decision_kind=None, amount_fen=None,
                     hearing=hearing, mark=(mark.major, mark.reason))
    intended: list[tuple[str | None, int | None]] = [(None, None)]
    for rnd in rounds_of(db, case.id):
        intended.append((rnd.decision_kind, rnd.amount_fen))
        if rnd.changed_kind is not None:
            intended.append((rnd.changed_kind, rnd.changed_amount_fen))
    if decision_kind is not None:
        intended.append((decision_kind, amount_fen))
    reasons: list[str] = []
    for kind, amount in intended:
        for why in judge(settings.review, category=case.category, unit_code=unit, decision_kind=kind,
                         amount_fen=amount, hearing=hearing).reasons:
            if why not in reasons:
                reasons.append(why)
    return Majority(bool(reasons), tuple(reasons))


def standing(db: Session, settings: Settings, case: Case, *, decision_kind: str | None = None,
             amount_fen: int | None = None, hearing: bool | None = None) -> Majority:
    """``judge_case``, stored in ``review_cases`` (what the database's gate reads)."""
    majority = judge_case(db, settings, case, decision_kind=decision_kind, amount_fen=amount_fen, hearing=hearing)
    reasons = json.dumps(list(majority.reasons), ensure_ascii=False)
    ins = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.execute(ins(ReviewCase).values(case_id=case.id, major=majority.major, reasons=reasons, updated_at=utcnow())
               .on_conflict_do_nothing())  # (two first actions on a case at once: one inserts, both go on)
    row = db.execute(select(ReviewCase).where(ReviewCase.case_id == case.id)).scalar_one()
    db.refresh(row)
    if row.major != majority.major or row.reasons != reasons:
        row.major, row.reasons, row.updated_at = majority.major, reasons, utcnow()
    db.flush()
    return majority


def mark(db: Session, custody: CustodyLog, settings: Settings, *, case: Case, major: bool, reason: str,
         actor: str) -> ReviewMark:
    """Mark ``case`` major (or not major) by hand, with a reason; the latest mark wins over the catalogue.
    Nobody who handled the case may mark it not major (they would be lifting their own gate)."""
    if not reason.strip():
        raise ReviewError(said("认定是否属于重大执法决定须说明理由", "Marking a case needs a reason."),
                          said("请说明理由，例如 涉及重大公共利益 或 经集体讨论不属于重大执法决定。", "Say why, e.g. 涉及重大公共利益 or 经集体讨论不属于重大执法决定."))
    if not major and actor in handlers_of(db, case):
        raise ReviewConflict(said(f"您参与办理了案件 {case.number}，不能认定其不属于重大执法决定", "You took part in handling case "
                                  f"{case.number} and may not mark it not major."),
                             said("由未参与办案的法制审核人员认定", "A legal reviewer who did not handle it must."))
    row = ReviewMark(case_id=case.id, major=major, reason=reason.strip(), marked_by=actor, marked_at=utcnow())
    db.add(row)
    db.flush()
    majority = standing(db, settings, case)
    _event(custody, db, actor, "review_marked", case_id=case.id, number=case.number, major=major,
           reason=row.reason, reasons=list(majority.reasons), bound=bound((MARK, row)))
    return row


# ---------------------------------------------------------------------------- materials


def preload(db: Session, case: Case) -> None:
    """Load the case's steps, their links and the linked recordings into the session in three queries,
    so that walking them (coverage, materials, pre-filled findings) asks the database nothing more
    (``db.get`` finds a loaded row in the session; a step's ``links`` are loaded with it)."""
    held = db.info.setdefault("review.preloaded", {})
    if case.id in held:
        return
    steps = list(db.scalars(select(Step).where(Step.case_id == case.id).options(selectinload(Step.links))))
    ids = sorted({lk.evidence_id for st in steps for lk in st.links})
    evidence = [ev for chunk in range(0, len(ids), 500)
                for ev in db.scalars(select(Evidence).where(Evidence.id.in_(ids[chunk:chunk + 500])))]
    # the session holds its rows weakly: keep them for its life, or they are gone before they are used
    held[case.id] = (steps, evidence)


def materials_of(db: Session, settings: Settings, case: Case) -> dict[str, Any]:
    """What a submission pins: the latest version of every text record, every current link to a
    recording (with the recording's SHA-256), and the coverage report of the case as it is now."""
    preload(db, case)
    latest = (select(TextRecordVersion.record_id, func.max(TextRecordVersion.version).label("version"))
              .join(TextRecord, TextRecord.id == TextRecordVersion.record_id).where(TextRecord.case_id == case.id)
              .group_by(TextRecordVersion.record_id).subquery())
    records = []
    for rec, v in db.execute(select(TextRecord, TextRecordVersion)
                             .join(latest, latest.c.record_id == TextRecord.id)
                             .join(TextRecordVersion, (TextRecordVersion.record_id == latest.c.record_id)
                                   & (TextRecordVersion.version == latest.c.version))
                             .order_by(TextRecord.id)).all():
        records.append({"record_id": rec.id, "kind": rec.kind, "title": rec.title, "version": v.version,
                        "sha256": v.sha256, "size": v.size, "mime": v.mime, "file_name": v.file_name})
    recordings = []
    for st in sorted(case.steps, key=lambda s: (s.started_at, s.id)):
        for lk in current_links(st):
            ev = db.get(Evidence, lk.evidence_id)
            recordings.append({"evidence_id": lk.evidence_id, "sha256": ev.sha256 if ev else None,
                               "link_id": lk.id, "step_id": st.id, "step_kind": st.kind, "start_s": lk.start_s,
                               "end_s": lk.end_s, "duration_s": ev.duration_s if ev else None})
    coverage = check_case(db, case, settings.cases, tz=_tz(settings)).to_dict()
    return {"records": records, "recordings": recordings, "coverage": coverage,
            "coverage_sha256": hashlib.sha256(canonical(coverage)).hexdigest()}


def pinned(rnd: ReviewRound) -> dict[str, Any]:
    return dict(json.loads(rnd.materials))


def changes_since(db: Session, settings: Settings, rnd: ReviewRound) -> list[str]:
    """What changed in the case's materials since ``rnd`` was submitted, in words (empty: nothing)."""
    case = db.get_one(Case, rnd.case_id)
    then, now = pinned(rnd), materials_of(db, settings, case)
    out: list[str] = []
    old_records = {r["record_id"]: r for r in then["records"]}
    for r in now["records"]:
        was = old_records.pop(r["record_id"], None)
        if was is None:
            out.append(f"提请后新增文书「{r['title']}」（{r['kind']}） / Text record {r['title']} was added after "
                       "submission.")
        elif was["sha256"] != r["sha256"]:
            out.append(f"文书「{r['title']}」提请时为第 {was['version']} 版，现为第 {r['version']} 版 / Text record "
                       f"{r['title']} was version {was['version']} when submitted, now {r['version']}.")
    old_links = {x["link_id"]: x for x in then["recordings"]}
    new_links = {x["link_id"]: x for x in now["recordings"]}
    for lid, x in new_links.items():
        if lid not in old_links:
            out.append(f"提请后新关联录像 {x['evidence_id']}（{x['step_kind']}） / Recording {x['evidence_id']} was "
                       f"linked to {x['step_kind']} after submission.")
        elif old_links[lid]["sha256"] != x["sha256"]:
            out.append(f"录像 {x['evidence_id']} 的哈希值与提请时不同 / Recording {x['evidence_id']} no longer "
                       "hashes as it did at submission.")
    for lid, x in old_links.items():
        if lid not in new_links:
            out.append(f"提请后录像 {x['evidence_id']} 已取消关联（{x['step_kind']}） / Recording {x['evidence_id']} "
                       f"was unlinked from {x['step_kind']} after submission.")
    if then["coverage_sha256"] != now["coverage_sha256"] and not out:
        out.append("提请后全过程记录覆盖情况有变化（环节或录像时间） / The coverage report changed after submission "
                   "(steps or recording times).")
    return out


# ---------------------------------------------------------------------------- submission


def _sha(obj: Any) -> str:
    return hashlib.sha256(canonical(obj)).hexdigest()


def _reviewer_unit(db: Session, settings: Settings, case: Case) -> int:
    code = settings.review.reviewer_units.get(_unit_code(db, case.unit_id))
    if code:
        unit = db.scalar(select(Unit).where(Unit.code == code))
        if unit is None:
            raise ReviewError(said(f"[review.reviewer_units] 指定的审核单位 {code} 不存在", f"The reviewing unit {code} "
                                   "named in [review.reviewer_units] does not exist."),
                              said("请添加该单位（liuhen units add）或更正配置。", "Add the unit (liuhen units add) or correct the config."))
        return unit.id
    return case.unit_id


def submit(db: Session, custody: CustodyLog, settings: Settings, *, case: Case, proposal: Proposal,
           statement: str, actor: str, calendar: Any = None) -> ReviewRound:
    """Submit ``case``'s proposed decision for legal review (提请法制审核): a new round with the
    materials pinned by hash and its deadline in working days (``calendar``: a
    ``review.calendar.WorkCalendar``; None: made from settings)."""
    _open(case)
    r = settings.review
    if proposal.decision_kind not in r.decision_kinds:
        raise ReviewError(said(f"决定种类「{proposal.decision_kind}」不在本机构的种类中", f"{proposal.decision_kind!r} is not "
                               "one of this agency's decision kinds."), said("请使用以下之一：" + "、".join(r.decision_kinds) + "。", "Use one of: " + "、".join(r.decision_kinds) + "."))
    for value, zh, en in ((proposal.content, "拟作决定内容", "the proposed decision"),
                          (proposal.legal_basis, "法律依据", "the legal basis"), (statement, "承办人说明", "the statement")):
        if not value.strip():
            raise ReviewError(said(f"{zh}为空", f"{en} is empty."), said(f"请填写{zh}。", f"Fill in {en} ({zh})."))
    db.execute(select(Case.id).where(Case.id == case.id).with_for_update())  # one submission of a case at a time
    last = latest_round(db, case.id)
    if last is not None and last.state != "decided":
        raise ReviewError(said(f"案件 {case.number} 第 {last.round_no} 轮法制审核尚未结束", f"Round {last.round_no} of "
                               f"case {case.number} is still under review."),
                          said("请等待审核人作出结论；之后可再提请新一轮审核。", "Wait for the reviewer's outcome; a new round can be submitted after it."))
    if calendar is None:
        from review.calendar import WorkCalendar

        calendar = WorkCalendar.from_settings(r)
    now = utcnow()
    due = calendar.due_on(now, r.days_for(proposal.decision_kind), _tz(settings))
    materials = materials_of(db, settings, case)
    majority = standing(db, settings, case, decision_kind=proposal.decision_kind, amount_fen=proposal.amount_fen)
    rnd = ReviewRound(case_id=case.id, round_no=(last.round_no + 1) if last else 1, unit_id=case.unit_id,
                      reviewer_unit_id=_reviewer_unit(db, settings, case), state="submitted", major=majority.major,
                      major_reasons=json.dumps(list(majority.reasons), ensure_ascii=False),
                      decision_kind=proposal.decision_kind, content=proposal.content.strip(),
                      legal_basis=proposal.legal_basis.strip(), discretion=proposal.discretion.strip(),
                      amount_fen=proposal.amount_fen, statement=statement.strip(), proposal_sha256=proposal.sha256,
                      materials=canonical(materials).decode("utf-8"), materials_sha256=_sha(materials),
                      submitted_by=actor, submitted_at=now, due_on=due)
    db.add(rnd)
    db.flush()
    _event(custody, db, actor, "review_submitted", case_id=case.id, number=case.number, round_id=rnd.id,
           round_no=rnd.round_no, decision_kind=rnd.decision_kind, proposal_sha256=rnd.proposal_sha256,
           materials_sha256=rnd.materials_sha256, records=len(materials["records"]),
           recordings=len(materials["recordings"]), due_on=due.isoformat(), major=majority.major,
           bound=bound((ROUND, rnd)))
    return rnd


def get_round(db: Session, round_id: int) -> ReviewRound:
    rnd = db.get(ReviewRound, round_id)
    if rnd is None:
        raise UnknownRound(said(f"没有法制审核第 {round_id} 号记录", f"There is no review round {round_id}."),
                           said("请打开案件页面，选择其中一轮审核。", "Open the case page and choose one of its review rounds."))
    return rnd


def rounds_of(db: Session, case_id: int) -> list[ReviewRound]:
    return list(db.scalars(select(ReviewRound).where(ReviewRound.case_id == case_id).order_by(ReviewRound.round_no)))


# ---------------------------------------------------------------------------- who may review


def handlers_of(db: Session, case: Case) -> set[str]:
    """Everyone who built the case file: opened it, added steps, linked footage, filed records, submitted."""
    who = {case.created_by}
    who |= {st.created_by for st in case.steps}
    step_ids = [st.id for st in case.steps]
    if step_ids:
        who |= set(db.scalars(select(EvidenceLink.linked_by).where(EvidenceLink.step_id.in_(step_ids))))
    # (the opinions filed by reviewers are not the handlers' records: a reviewer reviews the next round too)
    opinions = select(ReviewRound.opinion_record_id).where(ReviewRound.opinion_record_id.is_not(None))
    rec_ids = select(TextRecord.id).where(TextRecord.case_id == case.id, TextRecord.id.not_in(opinions))
    who |= set(db.scalars(select(TextRecordVersion.created_by).where(TextRecordVersion.record_id.in_(rec_ids))))
    who |= set(db.scalars(select(ReviewRound.submitted_by).where(ReviewRound.case_id == case.id)))
    return who


def may_review(db: Session, settings: Settings, *, rnd: ReviewRound, user: User) -> None:
    """Refuse (``ReviewConflict``) a reviewer outside the round's reviewing unit, who handled the case,
    was an officer of one of its steps, or reviews a penalty decision for the first time without
    法律职业资格."""
    case = db.get_one(Case, rnd.case_id)
    actor = f"user:{user.username}"
    if rnd.reviewer_unit_id not in visible_units(db, user):
        raise ReviewConflict(said(f"案件 {case.number} 的法制审核由其他单位负责", f"The legal review of case {case.number} "
                                  "belongs to another unit's reviewers."),
                             said("由负责审核的单位（[review.reviewer_units]）的法制审核人员审核", "A reviewer of the "
                                  "reviewing unit must review it."))
    if actor in handlers_of(db, case):
        raise ReviewConflict(said(f"您参与办理了案件 {case.number}，不能审核本案", "You took part in handling case "
                                  f"{case.number} and may not review it."),
                             said("由未参与办案的法制审核人员审核", "Another legal reviewer who did not handle it must."))
    if user.officer_no and any(user.officer_no in step_officers(st) for st in case.steps):
        raise ReviewConflict(said(f"您（{user.officer_no}）是案件 {case.number} 某一环节的执法人员，不能审核本案", "You "
                                  f"({user.officer_no}) were an officer of a step of case {case.number} and may not "
                                  "review it."), said("由未参与办案的法制审核人员审核", "Another legal reviewer must."))
    r = settings.review
    if r.require_qualification and case.category in r.penalty_categories and not user.legal_qualification:
        earlier = db.scalar(select(func.count()).select_from(ReviewRound).join(Case, Case.id == ReviewRound.case_id)
                            .where(ReviewRound.decided_by == actor, Case.category.in_(r.penalty_categories)))
        if not earlier:
            raise ReviewConflict(said("初次从事行政处罚决定法制审核的人员须取得法律职业资格", "A first-time reviewer of "
                                      "penalty decisions needs the national legal professional qualification."),
                                 said("请管理员在账户上登记法律职业资格，或由具备资格的人员审核", "An administrator records "
                                      "the qualification on your account (liuhen users update --legal-qualification), "
                                      "or a qualified reviewer takes the case."))


def open_round(db: Session, custody: CustodyLog, settings: Settings, *, rnd: ReviewRound, user: User,
               actor: str) -> ReviewRound:
    """The reviewer opens the round (调阅审核): the first opening takes it into review and writes
    liuhen's pre-filled findings beside the checklist; every opening is a ``review_opened`` event."""
    may_review(db, settings, rnd=rnd, user=user)
    rows: list[tuple[Any, Any]] = []
    if rnd.state == "submitted":
        rnd.state, rnd.reviewer, rnd.opened_at = "in_review", actor, utcnow()
        rows.append((ROUND, rnd))
    if rnd.state == "in_review":
        answers = {a.element: a for a in db.scalars(select(ReviewAnswer).where(ReviewAnswer.round_id == rnd.id))}
        for element, found in prefill(db, settings, rnd).items():
            a = answers.get(element)
            if a is None:
                a = ReviewAnswer(round_id=rnd.id, element=element, answer=None, comment="", prefill=found.answer,
                                 prefill_reason=found.reason)
                db.add(a)
            elif (a.prefill, a.prefill_reason) != (found.answer, found.reason):
                a.prefill, a.prefill_reason = found.answer, found.reason
            else:
                continue
            db.flush()
            rows.append((ANSWER, a))
    db.flush()
    case = db.get_one(Case, rnd.case_id)
    extra: dict[str, Any] = {"bound": bound(*rows)} if rows else {}
    _event(custody, db, actor, "review_opened", case_id=case.id, number=case.number, round_id=rnd.id,
           round_no=rnd.round_no, **extra)
    return rnd


# ---------------------------------------------------------------------------- liuhen's own findings


@dataclass(frozen=True)
class Prefilled:
    answer: str | None  # yes | no | None (nothing to check)
    reason: str


def _local_date(t: dt.datetime, tz: str) -> dt.date:
    return t.astimezone(ZoneInfo(tz)).date()


def _certificates(db: Session, settings: Settings, case: Case) -> Prefilled:
    tz = _tz(settings)
    steps = sorted(case.steps, key=lambda s: (s.started_at, s.id))
    nos = sorted({no for st in steps for no in step_officers(st)})
    if not steps:
        return Prefilled(None, "案件尚无执法环节，无法核对执法资格 / The case has no steps to check certificates against.")
    certs: dict[str, list[Certificate]] = {}
    names: dict[str, str] = {}
    if nos:
        for officer, cert in db.execute(select(Officer, Certificate).outerjoin(
                Certificate, Certificate.officer_id == Officer.id).where(Officer.officer_no.in_(nos))):
            names[officer.officer_no] = officer.name
            if cert is not None:
                certs.setdefault(officer.officer_no, []).append(cert)
    problems: list[str] = []
    checked = 0
    for st in steps:
        day = _local_date(st.started_at, tz)
        officers = step_officers(st)
        if not officers:
            problems.append(f"{day}「{st.kind}」未登记执法人员 / step {st.kind} on {day} names no officer")
            continue
        for no in officers:
            checked += 1
            held = certs.get(no, [])
            # a certificate revoked later still counted on the days before its revocation
            valid = [c for c in held if c.valid_from <= day <= c.valid_until and (
                c.revoked_at is None or day < _local_date(c.revoked_at, tz))]
            who = f"{names.get(no, '')}（{no}）" if no in names else no
            if valid:
                continue
            if no not in names:
                problems.append(f"{day}「{st.kind}」执法人员 {no} 不在人员名册中 / officer {no} of step {st.kind} is "
                                "not in the roster")
            elif not held:
                problems.append(f"{day}「{st.kind}」执法人员 {who} 没有登记执法证 / officer {no} of step {st.kind} "
                                "holds no enforcement certificate")
            else:
                last = max(held, key=lambda c: c.valid_until)
                if last.revoked_at is not None and _local_date(last.revoked_at, tz) <= day:
                    what = (f"执法证 {last.number} 已于 {_local_date(last.revoked_at, tz)} 注销 / certificate {last.number} "
                            f"was revoked on {_local_date(last.revoked_at, tz)}")
                elif last.valid_until < day:
                    what = (f"执法证 {last.number} 已于 {last.valid_until} 过期 / certificate {last.number} expired "
                            f"on {last.valid_until}")
                else:
                    what = (f"执法证 {last.number} 自 {last.valid_from} 起才有效 / certificate {last.number} is valid "
                            f"only from {last.valid_from}")
                problems.append(f"{day}「{st.kind}」执法人员 {who} 的{what}")
    if problems:
        return Prefilled("no", "；".join(problems) + "。")
    return Prefilled("yes", f"{len(steps)} 个环节的执法人员在环节当日均持有有效执法证（核对 {checked} 人次） / Every "
                            f"officer of the {len(steps)} steps held a valid certificate on the step's date.")


def _procedure(db: Session, settings: Settings, case: Case, kind: str) -> Prefilled:
    problems: list[str] = []
    report = check_case(db, case, settings.cases, tz=_tz(settings))
    problems += [s.reason for s in report.flagged]
    required = settings.review.steps_for(kind)
    firsts: dict[str, dt.datetime] = {}
    for st in sorted(case.steps, key=lambda s: (s.started_at, s.id)):
        firsts.setdefault(st.kind, st.started_at)
    missing = [k for k in required if k not in firsts]
    if missing:
        problems.append(f"「{kind}」须经过的环节缺少：{'、'.join(missing)} / steps required before {kind} are missing: "
                        f"{', '.join(missing)}")
    present = [k for k in required if k in firsts]
    for a, b in zip(present, present[1:]):
        if firsts[b] < firsts[a]:
            problems.append(f"环节顺序不符：「{b}」早于「{a}」 / step {b} comes before {a}")
    if problems:
        return Prefilled("no", "；".join(problems))
    return Prefilled("yes", f"音像记录覆盖符合清单要求，{'、'.join(required) or '所需环节'}均已依次进行 / Coverage meets the "
                            "checklist and the required steps took place in order.")


def _documents(db: Session, settings: Settings, case: Case, kind: str) -> Prefilled:
    required = settings.review.documents_for(kind)
    have = set(db.scalars(select(TextRecord.kind).where(TextRecord.case_id == case.id)))
    missing = [k for k in required if k not in have]
    if missing:
        return Prefilled("no", f"「{kind}」须具备的文书缺少：{'、'.join(missing)} / documents required for {kind} are "
                               f"missing: {', '.join(missing)}")
    if not required:
        return Prefilled(None, f"未配置「{kind}」须具备的文书 / No documents are configured as required for {kind}.")
    return Prefilled("yes", f"须具备的文书齐全：{'、'.join(required)} / The required documents are all filed.")


def prefill(db: Session, settings: Settings, rnd: ReviewRound) -> dict[str, Prefilled]:
    """liuhen's own findings for the elements it can check (``[review.prefill]``), with reasons."""
    case = db.get_one(Case, rnd.case_id)
    preload(db, case)
    kind = rnd.decision_kind
    out: dict[str, Prefilled] = {}
    for element in settings.review.elements:
        check = settings.review.prefill.get(element)
        if check == "certificates":
            out[element] = _certificates(db, settings, case)
        elif check == "procedure":
            out[element] = _procedure(db, settings, case, kind)
        elif check == "documents":
            out[element] = _documents(db, settings, case, kind)
        else:
            out[element] = Prefilled(None, "")
    return out


# ---------------------------------------------------------------------------- the reviewer's answers


def _in_review(rnd: ReviewRound) -> None:
    if rnd.state == "decided":
        raise ReviewError(said(f"第 {rnd.round_no} 轮法制审核已有结论", f"Round {rnd.round_no} is already decided."),
                          said("已有结论的审核轮次不会再变；承办单位可提请新一轮审核。", "A decided round never changes; the handling unit may submit a new round."))
    if rnd.state != "in_review":
        raise ReviewError(said(f"第 {rnd.round_no} 轮法制审核尚未打开", f"Round {rnd.round_no} has not been opened."),
                          said("请先打开该轮审核的工作台。", "Open the round's workspace first."))


def answer(db: Session, custody: CustodyLog, settings: Settings, *, rnd: ReviewRound, element: str, answer: str,
           comment: str, actor: str) -> ReviewAnswer:
    """Answer one element of the checklist: yes (符合), no (不符合) or na (不适用), with a comment (needed
    for 不符合)."""
    _in_review(rnd)
    if element not in settings.review.elements:
        raise ReviewError(said(f"「{element}」不是审核要素", f"{element!r} is not an element of the checklist."),
                          said("请使用以下之一：" + "、".join(settings.review.elements) + "。", "Use one of: " + "、".join(settings.review.elements) + "."))
    if answer not in ANSWERS:
        raise ReviewError(said(f"审核结论「{answer}」无效", f"{answer!r} is not an answer."), said("请回答 符合、不符合 或 不适用。", "Answer yes, no or na."))
    if answer == "no" and not comment.strip():
        raise ReviewError(said(f"「{element}」不符合时须写明理由", f"Say why {element} is not met."),
                          said("请写明问题所在以及承办单位须做什么。", "Write what is wrong and what the handling unit must do."))
    a = db.scalar(select(ReviewAnswer).where(ReviewAnswer.round_id == rnd.id, ReviewAnswer.element == element))
    if a is None:
        a = ReviewAnswer(round_id=rnd.id, element=element, comment="", prefill=None, prefill_reason="")
        db.add(a)
    a.answer, a.comment, a.answered_by, a.answered_at = answer, comment.strip(), actor, utcnow()
    db.flush()
    _event(custody, db, actor, "review_answered", case_id=rnd.case_id, round_id=rnd.id, element=element,
           answer=answer, bound=bound((ANSWER, a)))
    return a


def answers_of(db: Session, rnd: ReviewRound) -> dict[str, ReviewAnswer]:
    return {a.element: a for a in db.scalars(select(ReviewAnswer).where(ReviewAnswer.round_id == rnd.id))}


# ---------------------------------------------------------------------------- the outcome


def _check_outcome(db: Session, settings: Settings, rnd: ReviewRound, outcome: str, opinion: str,
                   changed: Proposal | None) -> None:
    _in_review(rnd)
    if outcome not in OUTCOMES:
        raise ReviewError(said(f"审核结论「{outcome}」无效", f"{outcome!r} is not an outcome."), said("请使用以下之一：" + "、".join(OUTCOMES) + "。", "Use one of: "
                               + "、".join(OUTCOMES) + "."))
    if not opinion.strip():
        raise ReviewError(said("审核意见为空", "The opinion is empty."), said("请填写归入案卷的审核意见。", "Write the opinion (审核意见) that goes into the case file."))
    answers = answers_of(db, rnd)
    open_ = [e for e in settings.review.elements if answers.get(e) is None or answers[e].answer is None]
    if open_:
        raise ReviewError(said(f"尚有审核要素未作结论：{'、'.join(open_)}", f"Elements not answered yet: {', '.join(open_)}."),
                          said("逐项作出结论（不适用的选“不适用”）后再作出审核结论", "Answer every element (na where it does "
                               "not apply) before deciding."))
    if outcome == "同意":
        failed = [e for e, a in answers.items() if a.answer == "no"]
        if failed:
            raise ReviewError(said(f"要素「{'、'.join(failed)}」不符合，不能同意", f"{', '.join(failed)} not met: the decision "
                                   "cannot be agreed."), said("请选择 变更、纠正、补充材料 或 不同意，或修改该要素的结论。", "Choose 变更, 纠正, 补充材料 or 不同意, or change the answer."))
    if outcome == "变更":
        if changed is None or not changed.content.strip():
            raise ReviewError(said("变更须写明变更后的决定", "变更 needs the changed decision."),
                              said("请写明变更后决定的种类、内容和金额。", "Give the changed decision's kind, content and amount."))
        if changed.decision_kind not in settings.review.decision_kinds:
            raise ReviewError(said(f"决定种类「{changed.decision_kind}」不在本机构的种类中", f"{changed.decision_kind!r} is not "
                                   "a decision kind."), said("请使用以下之一：" + "、".join(settings.review.decision_kinds) + "。", "Use one of: " + "、".join(settings.review.decision_kinds) + "."))
    elif changed is not None:
        raise ReviewError(said("只有变更才写变更后的决定", "Only 变更 carries a changed decision."),
                          said("请选择「变更」，或不写变更后的决定。", "Choose 变更, or leave it out."))


def decide(archive: Archive, *, round_id: int, outcome: str, opinion: str, actor: str, user: User,
           changed: Proposal | None = None) -> ReviewRound:
    """Decide the round: the outcome and opinion, the opinion document (法制审核意见书, a PDF) filed as a
    signed text record of the case (入卷归档), and a notice to the handling unit — one transaction, so
    a crash leaves the round either undecided or decided with its opinion filed. Returns the round
    (detached)."""
    from cases.records import record_version, store_document
    from review.opinion import render

    settings = archive.settings
    decided_at = utcnow()
    with archive.sessions() as db:  # refuse before rendering anything
        rnd = get_round(db, round_id)
        user = db.get_one(User, user.id)
        may_review(db, settings, rnd=rnd, user=user)
        _check_outcome(db, settings, rnd, outcome, opinion, changed)
        data = opinion_data(db, settings, rnd, outcome=outcome, opinion=opinion.strip(), changed=changed,
                            reviewer=user, decided_at=decided_at)
    pdf = render(data, font=settings.review.font)
    with tempfile.TemporaryDirectory(prefix="liuhen-opinion-") as d:
        path = Path(d) / "opinion.pdf"
        path.write_bytes(pdf)
        name = f"法制审核意见书-{data.case_number}-第{data.round_no}轮.pdf"
        stored = store_document(archive, path=path, file_name=name, mime="application/pdf")
    faults.point("review.decide.stored")
    with archive.sessions.begin() as db:
        rnd = db.execute(select(ReviewRound).where(ReviewRound.id == round_id).with_for_update()).scalar_one()
        user = db.get_one(User, user.id)
        may_review(db, settings, rnd=rnd, user=user)
        _check_outcome(db, settings, rnd, outcome, opinion, changed)  # again, under the lock
        case = db.get_one(Case, rnd.case_id)
        db.info[FILING_OPINION] = True
        try:
            added = record_version(db, archive, stored, case_id=case.id, actor=actor, kind=OPINION_KIND,
                                   title=f"{OPINION_KIND}（第 {rnd.round_no} 轮）")
        finally:
            db.info.pop(FILING_OPINION, None)
        rnd.state, rnd.outcome, rnd.opinion = "decided", outcome, opinion.strip()
        if changed is not None:
            rnd.changed_kind, rnd.changed_content, rnd.changed_amount_fen = (
                changed.decision_kind, changed.content.strip(), changed.amount_fen)
            rnd.final_sha256 = proposal_hash(changed.decision_kind, changed.content, changed.amount_fen)
        elif outcome == "同意":
            rnd.final_sha256 = rnd.proposal_sha256
        rnd.decided_by, rnd.decided_at, rnd.opinion_record_id = actor, decided_at, added.record_id
        db.flush()
        standing(db, settings, case)
        notice = ReviewNotice(unit_id=rnd.unit_id, case_id=case.id, round_id=rnd.id, created_at=decided_at,
                              message=f"案件 {case.number} 第 {rnd.round_no} 轮法制审核结论：{outcome}。{rnd.opinion}")
        db.add(notice)
        db.flush()
        _event(archive.custody, db, actor, "review_decided", case_id=case.id, number=case.number, round_id=rnd.id,
               round_no=rnd.round_no, outcome=outcome, final_sha256=rnd.final_sha256,
               opinion_record_id=added.record_id, opinion_sha256=added.sha256, bound=bound((ROUND, rnd)))
        db.flush()
        faults.point("review.decide.recorded")  # (a crash here rolls all of it back: the round is still open)
        db.expunge(rnd)
        return rnd


def opinion_data(db: Session, settings: Settings, rnd: ReviewRound, *, outcome: str, opinion: str,
                 changed: Proposal | None, reviewer: User, decided_at: dt.datetime) -> Any:
    """What the opinion document says (``review.opinion.OpinionData``)."""
    from review.opinion import Decision, OpinionData

    case = db.get_one(Case, rnd.case_id)
    unit = db.get(Unit, case.unit_id)
    agency = db.get(Unit, rnd.reviewer_unit_id)
    answers = answers_of(db, rnd)
    materials = pinned(rnd)
    rows = []
    for element in settings.review.elements:
        a = answers[element]
        rows.append((element, ANSWER_WORDS[a.answer or "na"], a.comment))
    proposed = Proposal(decision_kind=rnd.decision_kind, content=rnd.content, legal_basis=rnd.legal_basis,
                        discretion=rnd.discretion, amount_fen=rnd.amount_fen)
    return OpinionData(
        agency=agency.name if agency else "", case_number=case.number, case_title=case.title,
        case_category=case.category, round_no=rnd.round_no, submitted_by=rnd.submitted_by,
        submitted_at=rnd.submitted_at, handling_unit=unit.name if unit else "", proposed=Decision.of(proposed),
        outcome=outcome, opinion=opinion, elements=rows, reviewer_name=reviewer.display_name,
        reviewer_account=reviewer.username, decided_at=decided_at, documents=len(materials["records"]),
        recordings=len(materials["recordings"]), materials_sha256=rnd.materials_sha256,
        generator=f"留痕 liuhen {liuhen.__version__}", changed=Decision.of(changed) if changed else None,
        tz=_tz(settings))


# ---------------------------------------------------------------------------- the gate


def gate_check(db: Session, custody: CustodyLog, settings: Settings, case: Case, what: str, kind: str,
               decision: Any, actor: str) -> ReviewDecision | None:
    """Refuse (``ReviewRequired``) a decision step or decision document of a major case unless the
    latest round passed (同意, or 变更) and the decision is the one reviewed (by hash); on a pass,
    record the ``review_decisions`` row the database's trigger looks for (a ``review_decision_recorded``
    event). A hearing step recomputes whether the case is major. Returns that row (None: no review needed)."""
    r = settings.review
    if what == "record" and kind == OPINION_KIND and not db.info.get(FILING_OPINION):
        raise ReviewRequired(said(f"「{OPINION_KIND}」由法制审核人员作出审核结论时生成并归档，不能另行上传或修改", "The "
                                  f"{OPINION_KIND} is filed by liuhen when a reviewer decides; it cannot be uploaded or "
                                  "revised."), said("如需更正，由法制审核人员在新一轮审核中作出", "A correction is a new review round."))
    gated = (what == "step" and kind in r.decision_steps) or (what == "record" and kind in r.decision_records)
    if not gated:  # what the database's gate reads is kept current: from the case's first step or record on
        if what == "step" and kind == HEARING:
            standing(db, settings, case, hearing=True)
        elif db.get(ReviewCase, case.id) is None:
            standing(db, settings, case)
        return None
    last = latest_round(db, case.id)
    stated_kind = getattr(decision, "kind", None) if decision is not None else None
    amount = parse_amount(getattr(decision, "amount", None)) if decision is not None else None
    majority = standing(db, settings, case, decision_kind=stated_kind, amount_fen=amount)
    if last is None and not majority.major:
        return None  # never submitted, and not major by anything known: no review needed
    why = "；".join(majority.reasons)
    if last is None:
        raise ReviewRequired(said(f"案件 {case.number} 属于重大执法决定（{why}），未经法制审核不得作出决定", f"Case {case.number} "
                                  "is a major decision and may not be decided without legal review."),
                             said("先提请法制审核，审核同意后再记录决定", "Submit it for legal review (提请法制审核) first."))
    # a case submitted for review is decided only on a passing review of that decision, major or not
    if last.state != "decided":
        raise ReviewRequired(said(f"案件 {case.number} 第 {last.round_no} 轮法制审核尚未结束", f"Round {last.round_no} of the "
                                  f"legal review of case {case.number} is not decided yet."),
                             said("等待审核结论后再记录决定", "Wait for the reviewer's outcome."))
    if last.outcome not in PASSING_OUTCOMES:
        raise ReviewRequired(said(f"案件 {case.number} 最近一轮法制审核结论为「{last.outcome}」，不得作出决定", "The latest "
                                  f"legal review of case {case.number} ended {last.outcome}: the decision may not be made."),
                             said("按审核意见补充或纠正后重新提请审核", "Act on the opinion and submit a new round."))
    assert last.final_sha256 is not None
    final_kind = last.changed_kind or last.decision_kind
    final_amount = last.changed_amount_fen if last.changed_kind else last.amount_fen
    if what == "record":
        if decision is None or not str(getattr(decision, "content", "")).strip():
            raise ReviewRequired(said("重大执法决定的决定书须写明决定内容", "A decision document of a major case must state "
                                      "what was decided."),
                                 said("填写决定书表单的「决定内容」，或上传时写明决定内容。", "Fill in the form's 决定内容, or give "
                                      "the decision's content with the upload."))
        got = proposal_hash(stated_kind or final_kind, decision.content,
                            amount if decision.amount is not None else final_amount)
        if got != last.final_sha256:
            raise ReviewRequired(said(f"决定书的内容与第 {last.round_no} 轮审核{'变更后' if last.changed_kind else ''}的拟作决定"
                                      "不一致", f"The decision differs from the one reviewed in round {last.round_no}."),
                                 said("按审核通过的决定内容制作决定书，或就新的决定重新提请审核", "Write the decision as "
                                      "reviewed, or submit the new decision for review."))
    else:
        got = last.final_sha256
    row = ReviewDecision(case_id=case.id, round_id=last.id, what=what, kind=kind, decision_sha256=got,
                         recorded_by=actor, recorded_at=utcnow())
    db.add(row)
    db.flush()
    _event(custody, db, actor, "review_decision_recorded", case_id=case.id, number=case.number, round_id=last.id,
           round_no=last.round_no, what=what, kind=kind, decision_sha256=got, bound=bound((DECISION, row)))
    return row


def record_refusal(archive: Archive, *, case_id: int, what: str, kind: str, actor: str, reason: str,
                   context: dict[str, Any] | None = None) -> None:
    """A decision the gate refused, as a custody event in its own transaction (the refused one rolled back)."""
    with archive.sessions.begin() as db:
        case = db.get(Case, case_id)
        _event(archive.custody, db, actor, "review_gate_refused", outcome="failure", case_id=case_id,
               number=case.number if case else None, what=what, kind=kind, reason=reason, **(context or {}))


# ---------------------------------------------------------------------------- queue, notices, plays, problems


def queue(db: Session, *, units: Collection[int], open_only: bool = True, limit: int = 500) -> list[ReviewRound]:
    """Rounds in the review queue of ``units``, soonest deadline first (open ones only, by default)."""
    q = select(ReviewRound).where(ReviewRound.reviewer_unit_id.in_(sorted(units)))
    if open_only:
        q = q.where(ReviewRound.state != "decided")
    return list(db.scalars(q.order_by(ReviewRound.due_on, ReviewRound.id).limit(limit)))


def notices(db: Session, *, units: Collection[int], unread_only: bool = True, limit: int = 100) -> list[ReviewNotice]:
    q = select(ReviewNotice).where(ReviewNotice.unit_id.in_(sorted(units)))
    if unread_only:
        q = q.where(ReviewNotice.read_at.is_(None))
    return list(db.scalars(q.order_by(ReviewNotice.id.desc()).limit(limit)))


def read_notice(db: Session, *, notice_id: int, units: Collection[int], actor: str) -> ReviewNotice:
    n = db.get(ReviewNotice, notice_id)
    if n is None or n.unit_id not in units:
        raise UnknownRound(said(f"没有通知 {notice_id}", f"There is no notice {notice_id}."), said("请刷新页面。", "Reload the page."))
    if n.read_at is None:
        n.read_at, n.read_by = utcnow(), actor
    return n


def played(db: Session, *, rnd: ReviewRound, actor: str) -> dict[int, int]:
    """How often ``actor`` played each recording pinned in ``rnd`` since it was submitted (plays are
    custody events already: ``played``)."""
    ids = sorted({x["evidence_id"] for x in pinned(rnd)["recordings"]})
    if not ids:
        return {}
    rows = db.execute(select(CustodyEvent.evidence_id, func.count()).where(
        CustodyEvent.action == "played", CustodyEvent.actor == actor, CustodyEvent.evidence_id.in_(ids),
        CustodyEvent.at >= rnd.submitted_at).group_by(CustodyEvent.evidence_id)).all()
    return {int(e): int(n) for e, n in rows if e is not None}


def unreviewed_decisions(db: Session, settings: Settings, *, units: Collection[int] | None = None) -> list[dict[str, Any]]:
    """Decisions the gate did not admit: on a major case (or one submitted for review), every decision
    step and every version of a decision document is matched by a ``review_decisions`` row the gate
    wrote when a passing review admitted it; one without is reported — what ``liuhen cases check``
    names (a case marked major after its decision, a decision written below liuhen)."""
    r = settings.review
    reviewed = select(ReviewRound.case_id)
    q = select(Case).where(Case.id.in_(select(ReviewCase.case_id).where(ReviewCase.major)) | Case.id.in_(reviewed))
    if units is not None:
        q = q.where(Case.unit_id.in_(sorted(units)))
    out = []
    for case in db.scalars(q.order_by(Case.id)):
        steps = [st for st in case.steps if st.kind in r.decision_steps]
        versions = list(db.execute(select(TextRecord.id, TextRecordVersion.version).join(
            TextRecordVersion, TextRecordVersion.record_id == TextRecord.id).where(
            TextRecord.case_id == case.id, TextRecord.kind.in_(r.decision_records))).all())
        if not steps and not versions:
            continue
        admitted = dict(db.execute(select(ReviewDecision.what, func.count()).where(ReviewDecision.case_id == case.id)
                                   .group_by(ReviewDecision.what)).all())
        missing_steps = len(steps) - int(admitted.get("step", 0))
        missing_records = len(versions) - int(admitted.get("record", 0))
        if missing_steps <= 0 and missing_records <= 0:
            continue
        last = latest_round(db, case.id)
        state = "从未提请法制审核 / never submitted for review" if last is None else (
            f"最近一轮（第 {last.round_no} 轮）{'尚未结束' if last.outcome is None else '结论为' + last.outcome} / latest "
            f"round {last.round_no}: {last.outcome or 'not decided'}")
        out.append({"case_id": case.id, "number": case.number, "steps": [s.id for s in steps],
                    "records": sorted({rid for rid, _ in versions}), "unadmitted_steps": max(0, missing_steps),
                    "unadmitted_records": max(0, missing_records),
                    "latest_round": last.round_no if last else None,
                    "latest_outcome": last.outcome if last else None,
                    "problem": f"重大执法决定案件 {case.number} 有 {max(0, missing_steps) + max(0, missing_records)} 项决定"
                               f"未经法制审核通过（{state}）"})
    return out
