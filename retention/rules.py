"""How long one evidence is kept: the latest of every reason that applies (pure; no database).

Reasons, each with its own end:
- its class (``[retention.classes]``; unset: ``default_class``), counted from its recording time
  (the time it reached the archive when the recording time is unknown); a permanent class keeps it
  for ever;
- the important mark (重点标记): ``important_class``, from its recording time;
- every case it is or was linked to: while the case is open, without end; once closed, the class
  of the case's category (``[retention.case_categories]``, else ``case_class``) from the closing;
- a restore from pending disposal: its class again, counted from the restore;
- a legal hold not released: without end.

``keep`` names what wins: ``permanent`` over ``held`` over ``open_case`` over a date (``until``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from liuhen.config import RetentionSettings


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class CaseTie:
    case_id: int
    number: str
    status: str  # open | closed
    category: str
    closed_at: dt.datetime | None


@dataclass(frozen=True)
class Inputs:
    """What one evidence's retention depends on, read from bound rows (``retention.service.gather``)."""

    evidence_id: int
    recorded_at: dt.datetime | None
    created_at: dt.datetime
    class_name: str | None = None
    important: bool = False
    cases: tuple[CaseTie, ...] = ()
    holds: tuple[int, ...] = ()
    restored_at: tuple[dt.datetime, ...] = ()


@dataclass(frozen=True)
class Decision:
    keep: str  # until | open_case | held | permanent
    retain_until: dt.datetime | None  # the date when keep is "until"
    reasons: list[dict[str, Any]] = field(default_factory=list, compare=False)

    @cached_property
    def label(self) -> str:
        """Old and new values in change records: ``until:2027-05-01T00:00:00+00:00``, ``open_case``, ..."""
        return f"until:{iso(self.retain_until)}" if self.keep == "until" and self.retain_until else self.keep

    def reasons_json(self) -> str:
        return json.dumps(self.reasons, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


_ORDER = {"permanent": 3, "held": 2, "open_case": 1, "until": 0}


def decide(settings: RetentionSettings, x: Inputs) -> Decision:
    reasons: list[dict[str, Any]] = []
    keeps: list[str] = []
    dates: list[dt.datetime] = []

    def by_class(reason: str, name: str, start: dt.datetime, **more: Any) -> None:
        c = settings.classes.get(name) or settings.classes[settings.default_class]
        if c.permanent:
            reasons.append({"reason": reason, "class": name, "keep": "permanent", **more})
            keeps.append("permanent")
            return
        assert c.days is not None
        until = start + dt.timedelta(days=c.days)
        reasons.append({"reason": reason, "class": name, "keep": "until", "until": iso(until), **more})
        dates.append(until)

    start = x.recorded_at or x.created_at
    by_class("class", x.class_name or settings.default_class, start)
    if x.important:
        by_class("important", settings.important_class, start)
    for c in x.cases:
        if c.status == "open" or c.closed_at is None:
            reasons.append({"reason": "case", "case_id": c.case_id, "number": c.number, "keep": "open_case"})
            keeps.append("open_case")
        else:
            by_class("case", settings.class_of_category(c.category), c.closed_at, case_id=c.case_id,
                     number=c.number, closed_at=iso(c.closed_at))
    for t in x.restored_at:
        by_class("restored", x.class_name or settings.default_class, t, restored_at=iso(t))
    for h in x.holds:
        reasons.append({"reason": "hold", "hold_id": h, "keep": "held"})
        keeps.append("held")
    keep = max(keeps, key=_ORDER.__getitem__, default="until")
    until = max(dates) if keep == "until" and dates else None
    return Decision(keep, until, reasons)


def is_person(actor: str) -> bool:
    """A person acted (a console/API user or a command-line account), not the archive itself."""
    return actor.startswith(("user:", "cli:"))


def person(actor: str) -> str | None:
    """Who a person is, whichever front end they acted through (``user:zhang`` and ``cli:zhang`` are one
    person, so one person can never sign twice by changing tools); None for the archive itself."""
    return actor.split(":", 1)[1].strip().casefold() if is_person(actor) else None


def signers(scheduled_by: str, approvers: list[str]) -> set[str]:
    """The distinct people who signed a disposal: whoever scheduled it when a person did, and its approvers."""
    return {p for p in (person(a) for a in [scheduled_by, *approvers]) if p}


def approved(settings: RetentionSettings, scheduled_by: str, approvers: list[str]) -> bool:
    """Whether a disposal may be carried out: with ``require_approval``, two different people signed it."""
    return not settings.require_approval or len(signers(scheduled_by, approvers)) >= 2
