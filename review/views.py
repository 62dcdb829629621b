"""The review as the console and the API show it: the reviewer's workspace (documents and recordings
side by side, each recording's coverage and plays, the checklist with liuhen's findings, what
changed since submission, the deadline) and a case's review standing for the case page.

Read-only; the reader's permission is the caller's check. One workspace is built from the round's
pinned materials plus a handful of set-based queries, whatever the number of documents and
recordings (the benchmark ``bench/review.py`` holds it to the case page's time).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.models import Evidence
from cases.models import Case, TextRecordVersion
from liuhen.config import Settings
from review import service
from review.catalogue import yuan
from review.errors import CalendarUncovered
from review.models import ReviewCase, ReviewRound

Visible = Callable[[Evidence], bool]


@dataclass
class DocumentView:
    record_id: int
    kind: str
    title: str
    version: int  # the version pinned at submission
    sha256: str
    mime: str
    file_name: str
    latest_version: int  # the newest version now (greater: revised since submission)

    @property
    def changed(self) -> bool:
        return self.latest_version != self.version


@dataclass
class RecordingView:
    evidence_id: int | None  # None: a recording of a unit the reader may not see (counted, not shown)
    sha256: str | None
    step_id: int
    step_kind: str
    start_s: float | None
    end_s: float | None
    duration_s: float | None
    recorded_at: str | None
    officer_id: str | None
    coverage_status: str  # the step's coverage when submitted: covered | gaps | missing
    coverage_flagged: bool
    coverage_reason: str  # both languages; and each alone (empty for a round submitted before they were kept apart)
    coverage_reason_zh: str
    coverage_reason_en: str
    plays: int  # how often the reader played it since submission (custody ``played`` events)
    playable: bool


@dataclass
class ElementView:
    element: str
    answer: str | None
    comment: str
    prefill: str | None
    prefill_reason: str
    answered_by: str | None


@dataclass
class RoundSummary:
    id: int
    round_no: int
    state: str
    decision_kind: str
    outcome: str | None
    submitted_at: str
    submitted_by: str
    decided_at: str | None
    decided_by: str | None
    opinion: str | None
    opinion_record_id: int | None


@dataclass
class Workspace:
    round_id: int
    round_no: int
    state: str
    case_id: int
    case_number: str
    case_title: str
    case_category: str
    case_status: str
    major: bool
    major_reasons: list[str]
    proposal: dict[str, Any]
    statement: str
    submitted_by: str
    submitted_at: str
    reviewer: str | None
    due_on: str
    workdays_left: int | None  # working days to the deadline (negative: overdue by that many); None: uncovered
    materials_sha256: str
    documents: list[DocumentView]
    recordings: list[RecordingView]
    hidden_recordings: int
    coverage_ok: bool
    flagged_steps: list[int]
    elements: list[ElementView]
    changes: list[str]
    outcome: str | None
    opinion: str | None
    changed_proposal: dict[str, Any] | None
    opinion_record_id: int | None
    rounds: list[RoundSummary] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """As ``dataclasses.asdict`` would give it (plus each document's ``changed``), without its deep copy
        of every value (most of the workspace's time for a big case went there)."""
        d = _flat(self)
        d["documents"] = [{**_flat(doc), "changed": doc.changed} for doc in self.documents]
        for key in ("recordings", "elements", "rounds"):
            d[key] = [_flat(x) for x in d[key]]
        d["major_reasons"], d["flagged_steps"] = list(self.major_reasons), list(self.flagged_steps)
        d["proposal"] = dict(self.proposal)
        d["changed_proposal"] = dict(self.changed_proposal) if self.changed_proposal is not None else None
        d["changes"] = list(self.changes)
        return d


def _flat(obj: Any) -> dict[str, Any]:
    """A dataclass's fields as a dict, one level (the values of the views are plain values)."""
    names = _FIELDS.get(type(obj))
    if names is None:
        names = _FIELDS[type(obj)] = tuple(f.name for f in fields(obj))
    return {n: getattr(obj, n) for n in names}


_FIELDS: dict[type, tuple[str, ...]] = {}


def _iso(t: dt.datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def proposal_of(rnd: ReviewRound) -> dict[str, Any]:
    return {"decision_kind": rnd.decision_kind, "content": rnd.content, "legal_basis": rnd.legal_basis,
            "discretion": rnd.discretion, "amount_fen": rnd.amount_fen, "amount": yuan(rnd.amount_fen),
            "sha256": rnd.proposal_sha256}


def summary(rnd: ReviewRound) -> RoundSummary:
    return RoundSummary(id=rnd.id, round_no=rnd.round_no, state=rnd.state, decision_kind=rnd.decision_kind,
                        outcome=rnd.outcome, submitted_at=rnd.submitted_at.isoformat(), submitted_by=rnd.submitted_by,
                        decided_at=_iso(rnd.decided_at), decided_by=rnd.decided_by, opinion=rnd.opinion,
                        opinion_record_id=rnd.opinion_record_id)


def workdays_left(settings: Settings, due_on: dt.date, *, today: dt.date | None = None) -> int | None:
    from review.calendar import WorkCalendar

    today = today or dt.datetime.now(ZoneInfo(settings.station.timezone)).date()
    try:
        return -int(WorkCalendar.from_settings(settings.review).workdays_between(due_on, today))
    except CalendarUncovered:
        return None


def workspace(db: Session, settings: Settings, rnd: ReviewRound, *, visible: Visible, actor: str,
              changes: bool = True) -> Workspace:
    """The reviewer's workspace of ``rnd`` as ``actor`` (whose plays are counted) sees it."""
    case = db.get_one(Case, rnd.case_id)
    materials = service.pinned(rnd)
    rec_ids = [r["record_id"] for r in materials["records"]]
    latest: dict[int, int] = {}
    if rec_ids:
        for rid, version in db.execute(select(TextRecordVersion.record_id, TextRecordVersion.version)
                                       .where(TextRecordVersion.record_id.in_(rec_ids))):
            latest[rid] = max(latest.get(rid, 0), version)
    documents = [DocumentView(record_id=r["record_id"], kind=r["kind"], title=r["title"], version=r["version"],
                              sha256=r["sha256"], mime=r["mime"], file_name=r["file_name"],
                              latest_version=latest.get(r["record_id"], r["version"]))
                 for r in materials["records"]]
    steps = {s["step_id"]: s for s in materials["coverage"]["steps"]}
    ev_ids = sorted({x["evidence_id"] for x in materials["recordings"]})
    evidence = {e.id: e for e in db.scalars(select(Evidence).where(Evidence.id.in_(ev_ids)))} if ev_ids else {}
    plays = service.played(db, rnd=rnd, actor=actor)
    recordings: list[RecordingView] = []
    hidden = 0
    for x in materials["recordings"]:
        ev = evidence.get(x["evidence_id"])
        if ev is not None and not visible(ev):
            hidden += 1
            continue
        st = steps.get(x["step_id"], {})
        recordings.append(RecordingView(
            evidence_id=x["evidence_id"], sha256=x["sha256"], step_id=x["step_id"], step_kind=x["step_kind"],
            start_s=x["start_s"], end_s=x["end_s"], duration_s=x["duration_s"],
            recorded_at=_iso(ev.recorded_at) if ev is not None else None,
            officer_id=ev.officer_id if ev is not None else None,
            coverage_status=st.get("status", ""), coverage_flagged=bool(st.get("flagged")),
            coverage_reason=st.get("reason", ""), coverage_reason_zh=st.get("reason_zh", ""),
            coverage_reason_en=st.get("reason_en", ""), plays=plays.get(x["evidence_id"], 0),
            playable=ev is not None and ev.playback_note is None))
    answers = service.answers_of(db, rnd)
    elements = []
    for element in settings.review.elements:
        a = answers.get(element)
        elements.append(ElementView(element=element, answer=a.answer if a else None, comment=a.comment if a else "",
                                    prefill=a.prefill if a else None, prefill_reason=a.prefill_reason if a else "",
                                    answered_by=a.answered_by if a else None))
    changed = None
    if rnd.changed_kind is not None:
        changed = {"decision_kind": rnd.changed_kind, "content": rnd.changed_content,
                   "amount_fen": rnd.changed_amount_fen, "amount": yuan(rnd.changed_amount_fen),
                   "sha256": rnd.final_sha256}
    coverage = materials["coverage"]
    return Workspace(
        round_id=rnd.id, round_no=rnd.round_no, state=rnd.state, case_id=case.id, case_number=case.number,
        case_title=case.title, case_category=case.category, case_status=case.status, major=rnd.major,
        major_reasons=list(json.loads(rnd.major_reasons)), proposal=proposal_of(rnd), statement=rnd.statement,
        submitted_by=rnd.submitted_by, submitted_at=rnd.submitted_at.isoformat(), reviewer=rnd.reviewer,
        due_on=rnd.due_on.isoformat(),
        workdays_left=workdays_left(settings, rnd.due_on) if rnd.state != "decided" else None,
        materials_sha256=rnd.materials_sha256, documents=documents, recordings=recordings, hidden_recordings=hidden,
        coverage_ok=bool(coverage["ok"]), flagged_steps=list(coverage["flagged_steps"]), elements=elements,
        changes=service.changes_since(db, settings, rnd) if changes and rnd.state != "decided" else [],
        outcome=rnd.outcome, opinion=rnd.opinion, changed_proposal=changed, opinion_record_id=rnd.opinion_record_id,
        rounds=[summary(r) for r in service.rounds_of(db, case.id)])


@dataclass
class CaseReview:
    """A case's review on its page: major or not and why, its rounds, and whether a decision may be recorded."""

    major: bool
    reasons: list[str]
    rounds: list[RoundSummary]
    open_round: int | None  # the round under review, if any
    decision_allowed: bool  # a major case whose latest round passed, or a case that is not major
    decision_note: str  # both languages
    # the note as a stable code: not_major | major_unsubmitted | in_review | passed | refused (of the last round)
    decision_note_code: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def case_review(db: Session, settings: Settings, case: Case) -> CaseReview:
    """Computed now (the catalogue against the case as it is), not written: a page view changes nothing."""
    row = db.get(ReviewCase, case.id)
    rounds = service.rounds_of(db, case.id)
    last = rounds[-1] if rounds else None
    majority = service.judge_case(db, settings, case)
    major = majority.major or bool(row and row.major)
    reasons = list(majority.reasons) or (json.loads(row.reasons) if row else [])
    if not major and last is None:
        allowed, code, note = True, "not_major", "非重大执法决定，无需法制审核 / Not a major decision: no legal review needed."
    elif last is None:
        allowed, code, note = (False, "major_unsubmitted",
                               "重大执法决定，须先提请法制审核 / A major decision: submit it for legal review first.")
    elif last.state != "decided":
        allowed, code, note = False, "in_review", f"第 {last.round_no} 轮法制审核进行中 / Round {last.round_no} is under review."
    elif last.outcome in ("同意", "变更"):
        allowed, code, note = True, "passed", (f"第 {last.round_no} 轮法制审核结论：{last.outcome}，可按审核通过的内容作出决定 / Round "
                               f"{last.round_no} ended {last.outcome}: the decision may be made as reviewed.")
    else:
        allowed, code, note = False, "refused", (f"第 {last.round_no} 轮法制审核结论：{last.outcome}，不得作出决定 / Round {last.round_no} "
                                f"ended {last.outcome}: the decision may not be made.")
    return CaseReview(major=major, reasons=reasons, rounds=[summary(r) for r in rounds],
                      open_round=last.id if last and last.state != "decided" else None, decision_allowed=allowed,
                      decision_note=note, decision_note_code=code)
