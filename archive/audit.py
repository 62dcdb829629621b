"""The audit trail: the custody log as one reader may read it.

Events of evidence outside the reader's units are left out, and so are the events of no evidence
(sign-ins, searches, cases, accounts) of users of other units; events of no evidence and no user
(the CLI, stations, the system) are shown only to a reader placed in a top-level unit. A reader who
may not see evidence (the administrator) gets the events of evidence without their details (file
names, paths, queries), so separation of duties holds in the log too.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, literal, or_, select
from sqlalchemy.orm import Session

from archive.models import Evidence
from archive.scope import Scope
from auth.models import User
from hashing.models import CustodyEvent

WITHHELD = {"withheld": "evidence details are not shown to this role"}
_SEARCH_DETAIL = ("query", "shown")  # what a search event says it looked for and found


@dataclass(frozen=True)
class Trail:
    """One page of the trail, newest first: each event with the detail the reader may see."""

    items: list[tuple[CustodyEvent, dict[str, Any]]]
    page: int
    per_page: int
    has_more: bool


def shown_detail(e: CustodyEvent, *, sees_evidence: bool) -> dict[str, Any]:
    """The event's detail as a reader sees it (all of it if they may see evidence)."""
    detail: dict[str, Any] = json.loads(e.detail)
    if sees_evidence:
        return detail
    if e.evidence_id is not None:
        return dict(WITHHELD)
    return {k: v for k, v in detail.items() if k not in _SEARCH_DETAIL}


def _like(text: str) -> str:
    return "%" + text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def who_matches(who: str) -> ColumnElement[bool]:
    """Events of an actor whose account or name contains ``who`` (张 finds 张三's events, diaocha finds
    ``user:diaocha``'s, st- finds the stations')."""
    like = _like(who)
    named = select(literal("user:").concat(User.username)).where(
        or_(User.username.ilike(like, escape="\\"), User.display_name.ilike(like, escape="\\")))
    return or_(CustodyEvent.actor.ilike(like, escape="\\"), CustodyEvent.actor.in_(named))


def names_of(db: Session, actors: set[str]) -> dict[str, str]:
    """The display names of the users among ``actors`` (``user:NAME``), by actor."""
    users = sorted(a[5:] for a in actors if a.startswith("user:"))
    if not users:
        return {}
    return {f"user:{u}": n for u, n in db.execute(select(User.username, User.display_name)
                                                 .where(User.username.in_(users)))}


def trail(db: Session, *, scope: Scope, sees_evidence: bool, actor: str | None = None, action: str | None = None,
          outcome: str | None = None, evidence_id: int | None = None, start: dt.datetime | None = None,
          end: dt.datetime | None = None, page: int = 1, per_page: int = 100, who: str | None = None) -> Trail:
    """Page ``page`` of the custody log within ``scope``, filtered (``actor``: exactly that actor;
    ``who``: an actor whose account or name contains it); times are UTC bounds."""
    ours = select(literal("user:").concat(User.username)).where(User.unit_id.in_(sorted(scope.units)))
    # events of no evidence (sign-ins, searches, cases, accounts): those of users of the reader's units;
    # those of no user (the CLI, stations, the system) only for a reader of a whole unit tree
    by_actor: ColumnElement[bool] = CustodyEvent.actor.in_(ours)
    if scope.unattributed:
        by_actor = or_(by_actor, CustodyEvent.actor.not_like("user:%"))
    q = select(CustodyEvent).where(or_(
        and_(CustodyEvent.evidence_id.is_(None), by_actor),
        CustodyEvent.evidence_id.in_(select(Evidence.id).where(scope.clause()))))
    if actor:
        q = q.where(CustodyEvent.actor == actor)
    if who and who.strip():
        q = q.where(who_matches(who))
    if action:
        q = q.where(CustodyEvent.action == action)
    if outcome:
        q = q.where(CustodyEvent.outcome == outcome)
    if evidence_id is not None:
        q = q.where(CustodyEvent.evidence_id == evidence_id)
    if start:
        q = q.where(CustodyEvent.at >= start)
    if end:
        q = q.where(CustodyEvent.at <= end)
    rows = list(db.scalars(q.order_by(CustodyEvent.seq.desc()).offset((page - 1) * per_page).limit(per_page + 1)))
    return Trail(items=[(e, shown_detail(e, sees_evidence=sees_evidence)) for e in rows[:per_page]], page=page,
                 per_page=per_page, has_more=len(rows) > per_page)
