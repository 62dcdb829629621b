"""Figures of legal review (法制审核统计): how many rounds, by handling unit, outcome, reviewer and
month; how long a review takes; how many ran past their deadline; which elements fail most.

Which rounds: those of ``units`` as the handling unit (``ReviewRound.unit_id``) **or** as the
reviewing unit (``ReviewRound.reviewer_unit_id``, whose queue the round is in), so a 法制机构 sees
the rounds it reviews for other units and a handling unit its own; submitted from ``since`` to
``until`` (station-local dates, both included; None: open-ended), decided or not.

* counts by handling unit (its code), by state and by month of submission (station-local, e.g.
  Asia/Shanghai) over every round; by outcome and by reviewer (``decided_by``) over decided rounds;
* the median time from submission to decision of decided rounds, in statutory working days
  (``review.calendar.WorkCalendar.workdays_between``: the day of submission is not counted); where a
  date lies in a year the calendar does not cover (``CalendarUncovered``), in calendar days instead,
  and ``basis`` / ``note`` say so;
* overdue: a round decided after its ``due_on`` (the decision's local date), or still open on a day
  after it (``today``); their count and the median days overdue, in calendar days and (where the
  calendar covers them) in working days;
* the elements answered 不符合 (``no``) most often, in decided rounds (an open round's answers may
  still change).

Counts are GROUP BY queries; the per-round dates (month, durations, overdue days) come from one
narrow query of four columns, bucketed here because SQLite has no time zones.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.orm import Session

from auth.models import Unit
from liuhen.config import Settings
from review.calendar import WorkCalendar
from review.errors import CalendarUncovered
from review.models import ReviewAnswer, ReviewRound

DEFAULT_TZ = "Asia/Shanghai"
WORKDAYS, CALENDAR_DAYS = "workdays", "calendar_days"
CSV_HEADER = ("dimension", "key", "count")
STATE_WORDS = {"submitted": "待审核", "in_review": "审核中", "decided": "已审结"}


@dataclass(frozen=True)
class Row:
    key: str
    count: int
    label: str = ""  # a unit's name; empty where the key says it all

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label or self.key, "count": self.count}


@dataclass(frozen=True)
class Overdue:
    count: int  # rounds decided after due_on, or open past it
    decided: int
    open: int
    median_days: float | None  # calendar days after due_on
    median_workdays: float | None  # working days after due_on; None where the calendar does not cover them

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "decided": self.decided, "open": self.open, "median_days": self.median_days,
                "median_workdays": self.median_workdays}


@dataclass(frozen=True)
class Figures:
    since: dt.date | None
    until: dt.date | None
    today: dt.date
    units: tuple[str, ...]  # the codes of the units asked about
    rounds: int
    decided: int
    open: int
    by_unit: tuple[Row, ...]
    by_state: tuple[Row, ...]
    by_outcome: tuple[Row, ...]
    by_reviewer: tuple[Row, ...]
    by_month: tuple[Row, ...]  # YYYY-MM of submission, station-local, oldest first
    median_duration: float | None  # submission to decision, in ``basis`` units
    basis: str  # "workdays" | "calendar_days"
    overdue: Overdue
    failed_elements: tuple[Row, ...]  # most often 不符合 first
    notes: tuple[str, ...] = field(default_factory=tuple)  # e.g. why the median is in calendar days

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "today": self.today.isoformat(), "units": list(self.units),
            "rounds": self.rounds, "decided": self.decided, "open": self.open,
            "by_unit": [r.to_dict() for r in self.by_unit], "by_state": [r.to_dict() for r in self.by_state],
            "by_outcome": [r.to_dict() for r in self.by_outcome],
            "by_reviewer": [r.to_dict() for r in self.by_reviewer], "by_month": [r.to_dict() for r in self.by_month],
            "median_duration": self.median_duration, "basis": self.basis, "overdue": self.overdue.to_dict(),
            "failed_elements": [r.to_dict() for r in self.failed_elements], "notes": list(self.notes)}

    def summary(self) -> list[tuple[str, str]]:
        """The summary lines (name, value) the CSV starts with."""

        def num(x: float | None) -> str:
            return "" if x is None else (str(int(x)) if float(x).is_integer() else f"{x:.1f}")

        return [("since", self.since.isoformat() if self.since else ""),
                ("until", self.until.isoformat() if self.until else ""), ("today", self.today.isoformat()),
                ("units", " ".join(self.units)), ("rounds", str(self.rounds)), ("decided", str(self.decided)),
                ("open", str(self.open)), ("median_duration", num(self.median_duration)), ("basis", self.basis),
                ("overdue", str(self.overdue.count)), ("overdue_decided", str(self.overdue.decided)),
                ("overdue_open", str(self.overdue.open)), ("overdue_median_days", num(self.overdue.median_days)),
                ("overdue_median_workdays", num(self.overdue.median_workdays))] + [("note", n) for n in self.notes]

    def to_csv(self) -> str:
        """One flat table ``dimension,key,count``: first the summary lines (dimension ``summary``, the
        figure's name as key, its value in ``count`` — a number, a date, or a word such as the median's
        basis), then one line per counted thing, dimension ``unit`` | ``state`` | ``outcome`` |
        ``reviewer`` | ``month`` | ``failed_element``. UTF-8 with a byte-order mark, so Excel opens the
        Chinese right; CRLF line ends, as RFC 4180 has them."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(CSV_HEADER)
        for name, value in self.summary():
            w.writerow(("summary", name, value))
        for dimension, rows in (("unit", self.by_unit), ("state", self.by_state), ("outcome", self.by_outcome),
                                ("reviewer", self.by_reviewer), ("month", self.by_month),
                                ("failed_element", self.failed_elements)):
            for r in rows:
                w.writerow((dimension, r.key, r.count))
        return "\ufeff" + buf.getvalue()


def _median(xs: Sequence[float]) -> float | None:
    return float(statistics.median(xs)) if xs else None


def _local(t: dt.datetime, zone: ZoneInfo) -> dt.date:
    return t.astimezone(zone).date()


def _start_of(d: dt.date, zone: ZoneInfo) -> dt.datetime:
    """The first instant of day ``d`` in ``zone``, in UTC; a day at the very ends of the calendar
    (0001-01-01 east of UTC) is the earliest (or latest) instant there is, never an overflow."""
    try:
        return dt.datetime.combine(d, dt.time(), tzinfo=zone).astimezone(dt.UTC)
    except OverflowError:
        return (dt.datetime.min if d.year < 5000 else dt.datetime.max).replace(tzinfo=dt.UTC)


def _rows(pairs: Any) -> tuple[Row, ...]:
    """(key, count) rows, the largest count first, then by key."""
    return tuple(sorted((Row(str(k), int(n)) for k, n in pairs), key=lambda r: (-r.count, r.key)))


def figures(db: Session, *, units: Collection[int], since: dt.date | None = None, until: dt.date | None = None,
            today: dt.date | None = None, calendar: WorkCalendar | None = None, tz: str = DEFAULT_TZ) -> Figures:
    """The review figures of ``units`` (handling or reviewing) for rounds submitted ``since``..``until``
    (station-local dates in ``tz``, both included). ``calendar``: the working-day calendar (None: the
    ``chinesecalendar`` one, without the site's ``[review.holidays]`` — pass
    ``WorkCalendar.from_settings(settings.review)``); ``today``: for open rounds past their deadline."""
    inverted = since is not None and until is not None and until < since
    zone = ZoneInfo(tz)
    today = today or dt.datetime.now(zone).date()
    calendar = calendar or WorkCalendar()
    ids = sorted(set(units))
    conds: list[ColumnElement[bool]] = [or_(ReviewRound.unit_id.in_(ids), ReviewRound.reviewer_unit_id.in_(ids))]
    if since is not None:
        conds.append(ReviewRound.submitted_at >= _start_of(since, zone))
    if until is not None and until < dt.date.max:  # up to 9999-12-31: no end
        conds.append(ReviewRound.submitted_at < _start_of(until + dt.timedelta(days=1), zone))
    if inverted:  # an empty period: nothing in it, and the figures say why (a note, not an error)
        conds.append(false())
    decided = ReviewRound.state == "decided"

    def grouped(col: Any, *more: ColumnElement[bool]) -> list[Any]:
        return list(db.execute(select(col, func.count()).where(*conds, *more).group_by(col)).all())

    by_state = grouped(ReviewRound.state)
    states = {s: int(n) for s, n in by_state}
    total = sum(states.values())
    n_decided = states.get("decided", 0)
    unit_rows = db.execute(select(Unit.code, Unit.name, func.count(ReviewRound.id))
                           .join(Unit, Unit.id == ReviewRound.unit_id).where(*conds)
                           .group_by(Unit.code, Unit.name)).all()
    by_unit = tuple(sorted((Row(code, int(n), name) for code, name, n in unit_rows), key=lambda r: (-r.count, r.key)))
    by_outcome = _rows(grouped(ReviewRound.outcome, decided))
    by_reviewer = _rows(grouped(ReviewRound.decided_by, decided))
    failed = _rows(db.execute(select(ReviewAnswer.element, func.count())
                              .join(ReviewRound, ReviewRound.id == ReviewAnswer.round_id)
                              .where(*conds, decided, ReviewAnswer.answer == "no")
                              .group_by(ReviewAnswer.element)).all())

    # the dates of each round: month of submission, time to decision, days past the deadline
    months: Counter[str] = Counter()
    durations_work: list[float] = []
    durations_cal: list[float] = []
    late_cal: list[float] = []
    late_work: list[float] = []
    late_decided = late_open = 0
    uncovered: set[int] = set()

    def workdays(a: dt.date, b: dt.date) -> int | None:
        try:
            return calendar.workdays_between(a, b)
        except CalendarUncovered:
            uncovered.update(y for y in range(min(a, b).year, max(a, b).year + 1) if not calendar.covered(y))
            return None

    for submitted_at, decided_at, due_on, state in db.execute(
            select(ReviewRound.submitted_at, ReviewRound.decided_at, ReviewRound.due_on, ReviewRound.state)
            .where(*conds)):
        sub = _local(submitted_at, zone)
        months[f"{sub.year:04d}-{sub.month:02d}"] += 1
        end = _local(decided_at, zone) if state == "decided" and decided_at is not None else None
        if end is not None:
            durations_cal.append(float((end - sub).days))
            w = workdays(sub, end)
            if w is not None:
                durations_work.append(float(w))
        last = end if end is not None else today
        if last > due_on:
            if end is not None:
                late_decided += 1
            else:
                late_open += 1
            late_cal.append(float((last - due_on).days))
            w = workdays(due_on, last)
            if w is not None:
                late_work.append(float(w))
    notes: list[str] = []
    if inverted:
        notes.append(f"统计期间的结束日期 {until} 早于开始日期 {since}，期间内没有审核 / The period ends ({until}) before it "
                     f"starts ({since}): nothing lies in it. Give a start on or before the end.")
    if uncovered:
        years = "、".join(str(y) for y in sorted(uncovered))
        notes.append(f"{years} 年的法定节假日未知，工作日无法计算，审核用时按自然日统计 / The holidays of {years} are not "
                     f"known, so working days cannot be counted: durations are in calendar days. Add "
                     f"[review.holidays.<year>] or update chinesecalendar.")
    basis = WORKDAYS if not uncovered else CALENDAR_DAYS
    median = _median(durations_work if basis == WORKDAYS else durations_cal)
    overdue = Overdue(count=late_decided + late_open, decided=late_decided, open=late_open,
                      median_days=_median(late_cal),
                      median_workdays=_median(late_work) if len(late_work) == len(late_cal) else None)
    codes = tuple(db.scalars(select(Unit.code).where(Unit.id.in_(ids)).order_by(Unit.code)))
    return Figures(since=since, until=until, today=today, units=codes, rounds=total, decided=n_decided,
                   open=total - n_decided, by_unit=by_unit,
                   by_state=tuple(Row(s, states[s], STATE_WORDS[s]) for s in STATE_WORDS if s in states),
                   by_outcome=by_outcome, by_reviewer=by_reviewer, by_month=tuple(Row(m, months[m]) for m in sorted(months)),
                   median_duration=median, basis=basis, overdue=overdue, failed_elements=failed, notes=tuple(notes))


def site_figures(db: Session, settings: Settings, *, units: Collection[int], since: dt.date | None = None,
                 until: dt.date | None = None, today: dt.date | None = None) -> Figures:
    """``figures`` with the site's calendar (``[review.holidays]`` over ``chinesecalendar``) and time zone."""
    return figures(db, units=units, since=since, until=until, today=today,
                   calendar=WorkCalendar.from_settings(settings.review), tz=settings.station.timezone)


def csv_name(f: Figures) -> str:
    """The CSV's download name, e.g. ``review-figures-2026-01-01-2026-11-26.csv``."""
    return f"review-figures-{f.since or 'all'}-{f.until or f.today}.csv"


__all__ = ["Figures", "Overdue", "Row", "figures", "site_figures", "csv_name", "CALENDAR_DAYS", "WORKDAYS"]
