"""The full-process coverage check (全过程记录): does the linked footage cover each step?

For each step, the linked recordings are placed on the clock by their real start time (from the
container, else the recorder's file name) and duration, cut to the linked part and to the step,
and joined. What is left of the step is a gap, with its exact times. Then the AV checklist
(音像记录事项清单, ``[cases.checklist]``) decides:

* ``full`` (全程音像记录: seizure, demolition, interrogation …): flagged when nothing is linked
  or any gap is longer than ``gap_tolerance_s`` (default 2 s);
* ``av`` (音像记录: inspections, evidence collection, hearings, service …): flagged when nothing
  is linked;
* ``text``: never flagged; the coverage is still reported.

A recording whose start time is unknown, or whose length is (not probed yet, unplayable) while the
link gives no end, cannot be placed; it is named in the report, not counted.
A linked recording that is no longer in the archive (its row deleted below the application) is
named as missing and flags the step: the check reports damage, it never fails on it.

``check_case`` only computes; ``record_check`` is the check as an act (a person ran it: the CLI's
``cases check``, the API's coverage route) and records ``coverage_checked`` once, in the caller's
transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

import liuhen
from archive.models import Evidence
from cases.models import Case, Step
from cases.service import TOOL, current_links
from hashing.custody import CustodyLog
from liuhen.config import CaseSettings
from liuhen.words import Said

Visible = Callable[[Evidence], bool]
REQUIREMENT_WORDS = {"full": ("要求全程音像记录", "requires full-process audio/video recording"),
                     "av": ("要求音像记录", "requires audio/video recording"),
                     "text": ("文字记录即可", "text records suffice")}


@dataclass(frozen=True)
class Piece:
    evidence_id: int | None  # None: a recording the reader may not see (it still counts)
    officer_id: str | None
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True)
class Gap:
    start: dt.datetime
    end: dt.datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass
class StepCoverage:
    step_id: int
    kind: str
    requirement: str  # full | av | text
    started_at: dt.datetime
    ended_at: dt.datetime
    status: str  # covered | gaps | missing
    flagged: bool
    covered_s: float
    total_s: float
    gaps: list[Gap] = field(default_factory=list)
    pieces: list[Piece] = field(default_factory=list)
    unplaced: list[int] = field(default_factory=list)  # linked recordings with no known start time or length
    missing: list[int] = field(default_factory=list)  # linked recordings no longer in the archive
    reason: str = ""  # both languages (as the API and the custody log have always had it)
    reason_zh: str = ""
    reason_en: str = ""

    def to_dict(self) -> dict[str, Any]:
        # (not dataclasses.asdict: it deep-copied every piece and gap only for them to be replaced below)
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        for k in ("started_at", "ended_at"):
            d[k] = d[k].isoformat()
        d["unplaced"], d["missing"] = list(self.unplaced), list(self.missing)
        d["gaps"] = [{"start": g.start.isoformat(), "end": g.end.isoformat(), "seconds": round(g.seconds, 3)}
                     for g in self.gaps]
        d["pieces"] = [{"evidence_id": p.evidence_id, "officer_id": p.officer_id, "start": p.start.isoformat(),
                        "end": p.end.isoformat()} for p in self.pieces]
        return d


@dataclass
class CaseCoverage:
    case_id: int
    number: str
    steps: list[StepCoverage]

    @property
    def flagged(self) -> list[StepCoverage]:
        return [s for s in self.steps if s.flagged]

    @property
    def ok(self) -> bool:
        return not self.flagged

    def to_dict(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "number": self.number, "ok": self.ok,
                "flagged_steps": [s.step_id for s in self.flagged], "steps": [s.to_dict() for s in self.steps]}


def _pieces(db: Session, step: Step, visible: Visible | None = None) -> tuple[list[Piece], list[int], list[int]]:
    pieces, unplaced, missing = [], [], []
    for lk in current_links(step):
        ev = db.get(Evidence, lk.evidence_id)
        if ev is None:  # deleted below the application: named (its id is the link's), never a crash
            missing.append(lk.evidence_id)
            continue
        # another unit's recording counts for the coverage, but its id and officer are not shown
        shown = visible is None or visible(ev)
        length = ev.duration_s or 0.0
        if ev.recorded_at is None or (not length and lk.end_s is None):
            # no start time, or (not probed yet, or unplayable) no length and no linked end:
            # it cannot be placed on the clock, so it is named, never silently counted as nothing
            if shown:
                unplaced.append(ev.id)
            continue
        a = lk.start_s or 0.0
        b = min(lk.end_s, length) if lk.end_s is not None and length else (lk.end_s or length)
        if b <= a:
            continue
        pieces.append(Piece(ev.id if shown else None, ev.officer_id if shown else None,
                            ev.recorded_at + dt.timedelta(seconds=a), ev.recorded_at + dt.timedelta(seconds=b)))
    return sorted(pieces, key=lambda p: (p.start, p.end)), unplaced, missing


def check_step(db: Session, step: Step, settings: CaseSettings, *, tz: str = "Asia/Shanghai",
               visible: Visible | None = None) -> StepCoverage:
    """``visible`` (the reader's scope) hides the ids and officers of recordings the reader may not see."""
    s, e = step.started_at, step.ended_at
    pieces, unplaced, missing = _pieces(db, step, visible)
    gaps: list[Gap] = []
    cursor = s
    covered = 0.0
    for p in pieces:
        a, b = max(p.start, s), min(p.end, e)
        if b <= cursor or a >= e:
            continue
        if a > cursor:
            gaps.append(Gap(cursor, a))
        covered += (b - max(a, cursor)).total_seconds()
        cursor = max(cursor, b)
    if cursor < e:
        gaps.append(Gap(cursor, e))
    total = (e - s).total_seconds()
    tol = settings.gap_tolerance_s
    requirement = settings.requirement(step.kind)
    in_step = [p for p in pieces if p.end > s and p.start < e]
    if not in_step:
        status = "missing"
    elif any(g.seconds > tol for g in gaps):
        status = "gaps"
    else:
        status = "covered"
    flagged = (requirement == "full" and status != "covered") or (requirement == "av" and status == "missing") \
        or bool(missing)
    cov = StepCoverage(step_id=step.id, kind=step.kind, requirement=requirement, started_at=s, ended_at=e,
                       status=status, flagged=flagged, covered_s=round(covered, 3), total_s=round(total, 3),
                       gaps=gaps, pieces=in_step, unplaced=unplaced, missing=missing)
    said = reason_said(cov, tz=tz, tolerance=tol)
    cov.reason, cov.reason_zh, cov.reason_en = str(said), said.zh, said.en
    return cov


def check_case(db: Session, case: Case, settings: CaseSettings, *, tz: str = "Asia/Shanghai",
               visible: Visible | None = None) -> CaseCoverage:
    steps = sorted(case.steps, key=lambda st: (st.started_at, st.id))
    return CaseCoverage(case_id=case.id, number=case.number,
                        steps=[check_step(db, st, settings, tz=tz, visible=visible) for st in steps])


def record_check(db: Session, custody: CustodyLog, settings: CaseSettings, *, case: Case, actor: str,
                 tz: str = "Asia/Shanghai", visible: Visible | None = None, tool: str = TOOL,
                 context: dict[str, Any] | None = None) -> CaseCoverage:
    """Run the coverage check of ``case`` for ``actor`` and record it: custody event
    ``coverage_checked`` naming the case, the outcome and the flagged steps (plus ``context``, e.g.
    where a request came from), with the ``tool`` of the caller."""
    report = check_case(db, case, settings, tz=tz, visible=visible)
    custody.record(db, actor=actor, action="coverage_checked", tool=tool, tool_version=liuhen.__version__,
                   detail={"case_id": case.id, "number": case.number, "ok": report.ok,
                           "flagged_steps": [s.step_id for s in report.flagged], **(context or {})})
    return report


def _t(t: dt.datetime, zone: ZoneInfo) -> str:
    return t.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def reason(c: StepCoverage, *, tz: str, tolerance: float) -> str:
    """The finding in plain words, Chinese then English (``reason_said`` for one language)."""
    return str(reason_said(c, tz=tz, tolerance=tolerance))


def reason_said(c: StepCoverage, *, tz: str, tolerance: float) -> Said:
    """The finding in plain words, in both languages; its stable code is ``c.status``."""
    zone = ZoneInfo(tz)
    zh_req, en_req = REQUIREMENT_WORDS[c.requirement]
    when = f"{_t(c.started_at, zone)} – {_t(c.ended_at, zone)}"
    more_zh = more_en = ""
    if c.unplaced:
        ids = ", ".join(str(i) for i in c.unplaced)
        more_zh += f" 另有录像 {ids} 录制时间或时长不明，无法计入。"
        more_en += f" Recordings {ids} have no known start time or length and could not be counted."
    if c.missing:
        ids = ", ".join(str(i) for i in c.missing)
        more_zh += f" 关联的录像 {ids} 已不在档案中（被删除），请从备份恢复并调查。"
        more_en += (f" The linked recordings {ids} are no longer in the archive (deleted): restore them from backup "
                    "and investigate.")
    if c.status == "missing":
        return Said(f"「{c.kind}」（{when}）{zh_req}，但没有关联任何覆盖该时段的录像。" + more_zh,
                    f"The step {c.kind} ({when}) {en_req}, but no recording covering it is linked." + more_en)
    big = [g for g in c.gaps if g.seconds > tolerance]
    if big:
        zh = "；".join(f"{_t(g.start, zone)} 至 {_t(g.end, zone)} 无录像（{g.seconds:.1f} 秒）" for g in big)
        en = "; ".join(f"nothing recorded from {_t(g.start, zone)} to {_t(g.end, zone)} ({g.seconds:.1f} s)"
                       for g in big)
        lead_zh = f"「{c.kind}」{zh_req}，但" if c.requirement == "full" else f"「{c.kind}」录像有间断："
        lead_en = f"The step {c.kind} {en_req}, but" if c.requirement == "full" else f"The step {c.kind} has gaps:"
        return Said(f"{lead_zh}{zh}。" + more_zh, f"{lead_en} {en}." + more_en)
    if c.gaps:
        worst = max(g.seconds for g in c.gaps)
        return Said(f"「{c.kind}」（{when}）已被录像覆盖，间断最长 {worst:.1f} 秒，未超过容许的 {tolerance:g} 秒。" + more_zh,
                    f"The step {c.kind} ({when}) is covered by recordings; the longest gap, {worst:.1f} s, is within "
                    f"the {tolerance:g} s allowed." + more_en)
    return Said(f"「{c.kind}」（{when}）已被录像完整覆盖。" + more_zh,
                f"The step {c.kind} ({when}) is covered by recordings from start to end." + more_en)
