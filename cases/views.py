"""A case as the console and the API show it: its steps with the recordings the reader may see and
each step's coverage, and its text records.

Read-only; the reader's permission to see the case is the caller's check. (Apart from
``service.py`` because it runs the coverage check, and ``coverage.py`` builds on ``service.py``.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from archive import query as searching
from archive.models import Evidence
from auth.models import Unit
from cases import service
from cases.coverage import StepCoverage, check_case
from cases.models import Case, EvidenceLink, Step, TextRecord
from hashing.keys import DataKey
from liuhen.config import CaseSettings
from roster.models import Officer

Visible = Callable[[Evidence], bool]


@dataclass(frozen=True)
class LinkView:
    link: EvidenceLink
    evidence: Evidence
    extras: dict[str, Any]  # archive.query.extras: tags, officer's name, previews


@dataclass(frozen=True)
class StepView:
    step: Step
    officers: list[str]
    links: list[LinkView]  # the current links to recordings the reader may see
    coverage: StepCoverage


@dataclass(frozen=True)
class PartyView:
    kind: str
    name: str
    id_number: str | None
    phone: str | None
    address: str | None


@dataclass(frozen=True)
class CaseView:
    case: Case
    unit_code: str
    steps: list[StepView]  # in time order
    records: list[TextRecord]
    flagged_steps: list[int]
    parties: list[PartyView]  # opened, and masked for a reader without cases.personal_data

    @property
    def shown_evidence(self) -> list[int]:
        """The recordings the view shows (they go into the custody event of whoever views it)."""
        return sorted({lk.evidence.id for st in self.steps for lk in st.links})


def unit_code(db: Session, case: Case) -> str:
    """The code of the case's unit."""
    unit = db.get(Unit, case.unit_id)
    return unit.code if unit else ""


def case_view(db: Session, case: Case, settings: CaseSettings, *, tz: str, visible: Visible, data_key: DataKey,
              masked: bool) -> CaseView:
    """The case with its steps (each with its coverage, checked now) and text records; recordings of
    other units that someone who could see them linked still count for coverage, but are not shown."""
    report = check_case(db, case, settings, tz=tz, visible=visible)
    by_step = {s.step_id: s for s in report.steps}
    steps = []
    for st in sorted(case.steps, key=lambda s: (s.started_at, s.id)):
        links = []
        for lk in service.current_links(st):
            ev = db.get(Evidence, lk.evidence_id)
            if ev is None or not visible(ev):  # (a deleted one is named by the coverage as missing)
                continue  # another unit's footage linked by someone who could see it: not shown here
            links.append(LinkView(link=lk, evidence=ev, extras=searching.extras(db, [ev.id])[ev.id]))
        steps.append(StepView(step=st, officers=service.step_officers(st), links=links, coverage=by_step[st.id]))
    records = list(db.scalars(select(TextRecord).where(TextRecord.case_id == case.id).order_by(TextRecord.id)))
    return CaseView(case=case, unit_code=unit_code(db, case), steps=steps, records=records,
                    flagged_steps=[s.step_id for s in report.flagged],
                    parties=parties(service.parties_of(data_key, case), masked=masked))


# ---------------------------------------------------------------------------- personal data, masked


def mask_name(name: str) -> str:
    """张三 -> 张*, 欧阳娜娜 -> 欧***, Zhang San -> Z********: the first character stays."""
    return name[:1] + "*" * max(1, len(name) - 1) if name else name


def mask_number(value: str | None) -> str | None:
    """110101199003071234 -> 1101**********1234; a short number keeps at most its last two characters."""
    if not value:
        return value
    if len(value) >= 10:
        return value[:4] + "*" * (len(value) - 8) + value[-4:]
    return "*" * max(1, len(value) - 2) + value[-2:] if len(value) > 2 else "*" * len(value)


def parties(opened: list[service.PartyIn], *, masked: bool) -> list[PartyView]:
    """Parties as a reader sees them: in full, or masked for a reader without
    ``cases.personal_data`` (names to their first character, numbers to their ends, no address)."""
    if not masked:
        return [PartyView(x.kind, x.name, x.id_number, x.phone, x.address) for x in opened]
    return [PartyView(x.kind, mask_name(x.name) if x.kind == "person" else x.name, mask_number(x.id_number),
                      mask_number(x.phone), "***" if x.address else x.address) for x in opened]


# ---------------------------------------------------------------------------- evidence ↔ case


@dataclass(frozen=True)
class EvidenceCaseLink:
    """One current link of a recording to a step, with the step and its case."""

    link: EvidenceLink
    step: Step
    case: Case
    unit: Unit | None


def evidence_cases(db: Session, evidence_id: int, *, units: frozenset[int]) -> list[EvidenceCaseLink]:
    """The current links of ``evidence_id`` to steps of cases of ``units`` (the reader's), newest case
    first, then in step order. Links into other units' cases are left out, never counted or named."""
    rows = db.execute(
        select(EvidenceLink, Step, Case, Unit).join(Step, Step.id == EvidenceLink.step_id)
        .join(Case, Case.id == Step.case_id).outerjoin(Unit, Unit.id == Case.unit_id)
        .where(EvidenceLink.evidence_id == evidence_id, EvidenceLink.unlinked_at.is_(None),
               Case.unit_id.in_(sorted(units)))
        .order_by(Case.id.desc(), Step.started_at, Step.id, EvidenceLink.id)).all()
    return [EvidenceCaseLink(link=lk, step=st, case=c, unit=u) for lk, st, c, u in rows]


PARTY_SCAN = 2000  # open cases whose parties a party-name search opens, newest first


def find_open_cases(db: Session, *, units: frozenset[int], q: str | None, data_key: DataKey | None,
                    limit: int = 20) -> list[Case]:
    """Open cases of ``units``, newest first, whose number or title holds ``q`` — or, with ``data_key``
    (a reader entitled to parties' data), one of whose parties' names does. Party names are sealed in
    the database, so they are opened and compared here, over the newest ``PARTY_SCAN`` open cases."""
    found = service.cases_of(db, units=units, status="open", q=q, limit=limit)
    needle = (q or "").strip().casefold()
    if not needle or data_key is None or len(found) >= limit:
        return found
    seen = {c.id for c in found}
    newest = (select(Case).where(Case.unit_id.in_(sorted(units)), Case.status == "open")
              .options(selectinload(Case.parties)).order_by(Case.id.desc()).limit(PARTY_SCAN))
    for c in db.scalars(newest):
        if c.id in seen:
            continue
        if any(needle in service.party_data(data_key, x).name.casefold() for x in c.parties):
            found.append(c)
            if len(found) >= limit:
                break
    return sorted(found, key=lambda c: -c.id)


def unit_names(db: Session, unit_ids: set[int]) -> dict[int, tuple[str, str]]:
    """Code and name of each unit."""
    if not unit_ids:
        return {}
    return {u.id: (u.code, u.name) for u in db.scalars(select(Unit).where(Unit.id.in_(sorted(unit_ids))))}


def officer_names(db: Session, numbers: set[str], *, units: frozenset[int]) -> dict[str, str]:
    """The names of the officers numbered ``numbers`` who belong to ``units`` (another unit's officers
    are never named: their numbers stay as they are)."""
    if not numbers:
        return {}
    return {o.officer_no: o.name for o in db.scalars(select(Officer).where(
        Officer.officer_no.in_(sorted(numbers)), Officer.unit_id.in_(sorted(units))))}
