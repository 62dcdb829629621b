"""Cases, steps and links: plain keyword-only functions in the caller's transaction.

Every change is a custody event (``case_opened``, ``step_added``, ``linked``, ``unlinked``,
``case_closed``); a link or unlink names its evidence, so the evidence's own custody history shows
every case it was put in or taken out of.

The unified registration number (统一登记编号) is taken in the transaction that inserts the case,
under a lock on the unit's counter for the year: two cases created at once wait for each other,
a case whose transaction fails gives its number back (the counter's change rolls back with it),
so numbers are in time order, gap-free and never reused.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

import liuhen
from archive.models import Evidence
from archive.scope import Scope
from cases import gate
from cases.bindings import CASE, LINK, PARTY, STEP
from cases.errors import CaseClosed, CaseError, UnknownCase
from cases.models import Case, CaseCounter, EvidenceLink, Party, Step
from hashing.binding import bound, personal_secret
from hashing.custody import CustodyLog
from hashing.keys import DataKey
from liuhen.config import CaseSettings
from liuhen.db import utcnow
from liuhen.errors import NotFound
from liuhen.words import said

TOOL = "liuhen-cases"


def _event(custody: CustodyLog, db: Session, actor: str, action: str, *, evidence: Evidence | None = None,
           **detail: Any) -> None:
    custody.record(db, actor=actor, action=action, tool=TOOL, tool_version=liuhen.__version__,
                   evidence_id=evidence.id if evidence is not None else None,
                   object_sha256=evidence.sha256 if evidence is not None else None, detail=detail)


# ---------------------------------------------------------------------------- numbering


def next_seq(db: Session, *, unit_id: int, year: int) -> int:
    """Take the next number of ``unit_id`` in ``year`` (locks the counter until the caller commits)."""
    ins = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.execute(ins(CaseCounter).values(unit_id=unit_id, year=year, last_seq=0).on_conflict_do_nothing())
    counter = db.execute(select(CaseCounter).where(CaseCounter.unit_id == unit_id, CaseCounter.year == year)
                         .with_for_update()).scalar_one()
    counter.last_seq += 1
    db.flush()
    return counter.last_seq


@dataclass(frozen=True)
class PartyIn:
    name: str
    kind: str = "person"  # person | organisation
    id_number: str | None = None
    phone: str | None = None
    address: str | None = None


# ---------------------------------------------------------------------------- parties, sealed

PARTY_FIELDS = ("name", "id_number", "phone", "address")


def _column(field: str) -> str:
    return f"case_parties.{field}"


def sealed_party(key: DataKey, p: PartyIn, *, case_id: int) -> Party:
    """A party row whose personal data is sealed with ``key`` (``hashing.keys.DataKey``)."""
    values = {f: (key.seal(v, _column(f)) if v is not None else None)
              for f in PARTY_FIELDS for v in (getattr(p, f),)}
    return Party(case_id=case_id, kind=p.kind, sealed_with=key.key_id, **values)


def party_data(key: DataKey, party: Party) -> PartyIn:
    """The party's data, opened with ``key``."""
    def opened(field: str) -> str | None:
        v = getattr(party, field)
        return key.open(v, _column(field)) if v is not None else None

    return PartyIn(kind=party.kind, name=opened("name") or "", id_number=opened("id_number"),
                   phone=opened("phone"), address=opened("address"))


def parties_of(key: DataKey, case: Case) -> list[PartyIn]:
    return [party_data(key, x) for x in case.parties]


def seal_parties(db: Session, key: DataKey) -> int:
    """Seal every party still in clear text (written before migration 0010); returns how many."""
    from sqlalchemy import text

    rows = db.execute(text("SELECT id, name, id_number, phone, address FROM case_parties "
                           "WHERE sealed_with IS NULL")).all()
    for row in rows:
        values: dict[str, Any] = {"id": row[0], "k": key.key_id}
        for f, v in zip(PARTY_FIELDS, row[1:], strict=True):
            clear = bytes(v).decode("utf-8") if isinstance(v, (bytes, memoryview)) else v  # (bytea on PostgreSQL)
            values[f] = key.seal(clear, _column(f)) if clear is not None else None
        db.execute(text("UPDATE case_parties SET name = :name, id_number = :id_number, phone = :phone, "
                        "address = :address, sealed_with = :k WHERE id = :id AND sealed_with IS NULL"), values)
    return len(rows)


def create_case(db: Session, custody: CustodyLog, settings: CaseSettings, *, unit_id: int, unit_code: str,
                category: str, title: str, actor: str, source: str | None = None,
                parties: Iterable[PartyIn] = (), tz: str = "Asia/Shanghai", data_key: DataKey | None = None) -> Case:
    """Open a case; its parties' data is sealed with ``data_key`` (required when there are parties)."""
    if category not in settings.categories:
        raise CaseError(said(f"案件类别「{category}」不在本机构的类别中", f"{category!r} is not one of this agency's categories."),
                        said("请使用以下之一：" + "、".join(settings.categories) + "。", "Use one of: " + "、".join(settings.categories) + "."))
    if not title.strip():
        raise CaseError(said("案件名称为空", "The case has no title."), said("请填写案件名称，例如 某商店无证经营案。", "Give the case a title, e.g. 某商店无证经营案."))
    year = dt.datetime.now(ZoneInfo(tz)).year
    seq = next_seq(db, unit_id=unit_id, year=year)
    number = settings.number_format.format(unit=unit_code, year=year, seq=seq)
    case = Case(number=number, year=year, seq=seq, category=category, title=title.strip(), unit_id=unit_id,
                status="open", source=source, created_by=actor)
    db.add(case)
    db.flush()
    for p in parties:
        if not p.name.strip():
            raise CaseError(said("当事人姓名为空", "A party has no name."), said("请填写每位当事人的姓名。", "Give each party's name."))
        if data_key is None:
            raise ValueError("parties are sealed with the archive's data key: pass data_key")
        case.parties.append(sealed_party(data_key, PartyIn(name=p.name.strip(), kind=p.kind, id_number=p.id_number,
                                                            phone=p.phone, address=p.address), case_id=case.id))
    db.flush()
    _event(custody, db, actor, "case_opened", case_id=case.id, number=number, category=category, unit_id=unit_id,
           parties=len(list(case.parties)),
           bound=bound((CASE, case), *((PARTY, p) for p in case.parties), secret=personal_secret(custody.key)))
    return case


def get_case(db: Session, ref: str | int) -> Case:
    """A case by id or by its registration number."""
    case = db.scalar(select(Case).where(Case.number == str(ref)))  # the number first: it may be all digits
    if case is None and (isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit() and len(ref) < 12)):
        case = db.get(Case, int(ref))
    if case is None:
        raise UnknownCase(said(f"没有案件 {ref}", f"There is no case {ref!r}."),
                          said("请给出案件的统一登记编号或其编号。", "Give the case's registration number (统一登记编号) or its id."))
    return case


def cases_of(db: Session, *, units: frozenset[int], status: str | None = None, q: str | None = None,
             limit: int = 100, offset: int = 0) -> list[Case]:
    """The cases of ``units``, newest first: of one status, and whose number or title holds ``q``
    (``limit`` of them after the first ``offset``)."""
    query = select(Case).where(Case.unit_id.in_(sorted(units)))
    if status:
        query = query.where(Case.status == status)
    if q and q.strip():
        like = "%" + q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(Case.number.like(like, escape="\\") | Case.title.like(like, escape="\\"))
    return list(db.scalars(query.order_by(Case.id.desc()).offset(offset).limit(limit)))


def _open(case: Case) -> None:
    if case.status != "open":
        raise CaseClosed(said(f"案件 {case.number} 已结案", f"Case {case.number} is closed."),
                         said("已结案的案件不能更改；如需补充记录，请重新立案。", "A closed case cannot be changed; open a new case if more has to be recorded."))


def add_step(db: Session, custody: CustodyLog, settings: CaseSettings, *, case: Case, kind: str,
             started_at: dt.datetime, ended_at: dt.datetime, actor: str, place: str | None = None,
             officers: Iterable[str] = (), note: str | None = None) -> Step:
    _open(case)
    if kind not in settings.steps:
        raise CaseError(said(f"环节「{kind}」不在本机构的执法环节中", f"{kind!r} is not one of this agency's steps."),
                        said("请使用以下之一：" + "、".join(settings.steps) + "。", "Use one of: " + "、".join(settings.steps) + "."))
    if started_at.tzinfo is None or ended_at.tzinfo is None:
        raise CaseError(said("环节时间缺少时区", "A step time has no time zone."),
                        said("请带时区给出时间，例如 2026-11-23T09:30:00+08:00。", "Give times with their offset, e.g. 2026-11-23T09:30:00+08:00."))
    if ended_at < started_at:
        raise CaseError(said(f"环节「{kind}」的结束时间早于开始时间", f"The step {kind} ends before it starts."),
                        said("请交换两个时间。", "Swap the two times."))
    gate.run(db, case, "step", kind, None, actor)  # (legal review: no decision on a major case unreviewed)
    step = Step(case_id=case.id, kind=kind, place=place, started_at=started_at, ended_at=ended_at,
                officers=json.dumps(sorted(set(officers)), ensure_ascii=False), note=note, created_by=actor)
    case.steps.append(step)  # (through the relationship, so a case already loaded sees its new step)
    db.flush()
    _event(custody, db, actor, "step_added", case_id=case.id, number=case.number, step_id=step.id, kind=kind,
           started_at=started_at.isoformat(), ended_at=ended_at.isoformat(), officers=json.loads(step.officers),
           bound=bound((STEP, step)))
    return step


def get_step(db: Session, step_id: int) -> Step:
    step = db.get(Step, step_id)
    if step is None:
        raise NotFound(said(f"没有环节 {step_id}", f"There is no step {step_id}."), said("请在案件页面核对环节编号。", "Check the step's id on the case page."))
    return step


def step_officers(step: Step) -> list[str]:
    return list(json.loads(step.officers or "[]"))


def link(db: Session, custody: CustodyLog, *, step: Step, evidence: Evidence, actor: str,
         start_s: float | None = None, end_s: float | None = None) -> EvidenceLink:
    """Link a recording (or the part from ``start_s`` to ``end_s`` seconds into it) to ``step``."""
    case = db.get(Case, step.case_id)
    assert case is not None
    _open(case)
    if start_s is not None and start_s < 0 or end_s is not None and end_s < 0:
        raise CaseError(said("关联区间不能为负", "A linked range cannot start before the recording."),
                        said("请给出从录像开始起算的秒数（0 或以上）。", "Give seconds from the start of the recording, 0 or more."))
    if start_s is not None and end_s is not None and end_s <= start_s:
        raise CaseError(said("关联区间的结束早于开始", "The linked range ends before it starts."), said("请交换两个时间。", "Swap the two times."))
    if evidence.duration_s is not None and start_s is not None and start_s >= evidence.duration_s:
        raise CaseError(said(f"录像 {evidence.id} 只有 {evidence.duration_s:.1f} 秒", f"Recording {evidence.id} is only "
                             f"{evidence.duration_s:.1f} s long."), said("请给出录像范围内的开始时间。", "Give a start within the recording."))
    for other in step.links:
        if other.evidence_id == evidence.id and other.unlinked_at is None and \
                (other.start_s, other.end_s) == (start_s, end_s):
            return other  # the same link again: nothing new
    lk = EvidenceLink(step_id=step.id, evidence_id=evidence.id, start_s=start_s, end_s=end_s, linked_by=actor)
    step.links.append(lk)
    db.flush()
    _event(custody, db, actor, "linked", evidence=evidence, case_id=case.id, number=case.number, step_id=step.id,
           step_kind=step.kind, link_id=lk.id, start_s=start_s, end_s=end_s, bound=bound((LINK, lk)))
    return lk


def unlink(db: Session, custody: CustodyLog, *, link_id: int, actor: str) -> EvidenceLink:
    lk = db.get(EvidenceLink, link_id)
    if lk is None or lk.unlinked_at is not None:
        raise NotFound(said(f"没有有效的关联 {link_id}", f"There is no current link {link_id}."),
                       said("请刷新案件页面：该关联可能已被取消。", "Reload the case page: it may have been unlinked already."))
    step = db.get(Step, lk.step_id)
    assert step is not None
    case = db.get(Case, step.case_id)
    assert case is not None
    _open(case)
    ev = db.get(Evidence, lk.evidence_id)
    lk.unlinked_at = utcnow()
    lk.unlinked_by = actor
    _event(custody, db, actor, "unlinked", evidence=ev, case_id=case.id, number=case.number, step_id=step.id,
           step_kind=step.kind, link_id=lk.id, bound=bound((LINK, lk)))
    return lk


def close_case(db: Session, custody: CustodyLog, *, case: Case, actor: str,
               flagged_steps: list[int] | None = None) -> Case:
    """Close the case. ``flagged_steps``: the steps the coverage check flagged at that moment (the closer
    saw them listed and closed it nonetheless); named in the ``case_closed`` event when given."""
    _open(case)
    case.status = "closed"
    case.closed_at = utcnow()
    extra: dict[str, Any] = {} if flagged_steps is None else {"flagged_steps": sorted(flagged_steps)}
    _event(custody, db, actor, "case_closed", case_id=case.id, number=case.number, **extra,
           bound=bound((CASE, case)))
    return case


def reopen_case(db: Session, custody: CustodyLog, *, case: Case, actor: str, reason: str) -> Case:
    """Reopen a closed case (e.g. after 复议 or a court's order), with a reason: it is changeable again,
    and what is linked to it is kept without end again until it is closed once more."""
    if case.status != "closed":
        raise CaseError(said(f"案件 {case.number} 未结案", f"Case {case.number} is not closed."), said("只有已结案的案件才能重新立案。", "Only a closed case can be reopened."))
    if not reason.strip():
        raise CaseError(said("重新立案须说明理由", "Reopening a case needs a reason."), said("请说明理由，例如 行政复议决定撤销重作。", "Say why, e.g. 行政复议决定撤销重作."))
    closed_at = case.closed_at
    case.status = "open"
    case.closed_at = None
    _event(custody, db, actor, "case_reopened", case_id=case.id, number=case.number, reason=reason.strip(),
           was_closed_at=closed_at.isoformat() if closed_at else None, bound=bound((CASE, case)))
    return case


def current_links(step: Step) -> list[EvidenceLink]:
    return [lk for lk in step.links if lk.unlinked_at is None]


def suggestions(db: Session, *, step: Step, scope: Scope, limit: int = 50) -> list[Evidence]:
    """Recordings of the step's officers (any officer if it names none) that overlap its time,
    within ``scope``, not yet linked to it."""
    linked = {lk.evidence_id for lk in current_links(step)}
    q = select(Evidence).where(scope.clause(), Evidence.media_kind.in_(("video", "audio")),
                               Evidence.recorded_at <= step.ended_at,
                               Evidence.recorded_at >= step.started_at - dt.timedelta(hours=12))
    officers = step_officers(step)
    if officers:
        q = q.where(Evidence.officer_id.in_(officers))
    out = []
    for ev in db.scalars(q.order_by(Evidence.recorded_at.desc()).limit(limit * 4)):  # nearest the step first
        assert ev.recorded_at is not None
        end = ev.recorded_at + dt.timedelta(seconds=ev.duration_s or 0)
        if end > step.started_at and ev.id not in linked:
            out.append(ev)
    return sorted(out[:limit], key=lambda e: (e.recorded_at, e.id))


def open_cases_of(db: Session, evidence_id: int) -> list[Case]:
    """The open cases ``evidence_id`` is linked to (such evidence may not be deleted by anyone)."""
    return list(db.scalars(select(Case).join(Step, Step.case_id == Case.id)
                           .join(EvidenceLink, EvidenceLink.step_id == Step.id)
                           .where(EvidenceLink.evidence_id == evidence_id, EvidenceLink.unlinked_at.is_(None),
                                  Case.status == "open").distinct()))
