"""Checks a module above ``cases`` asks to run before a decision is recorded (legal review's gate:
``review.gate``). ``cases`` cannot import what sits above it, so the check is installed at start
(``app.runtime.open_archive``) on the archive's sessionmaker — each session carries it in its
``info`` — and run by ``service.add_step`` and ``records.add_version`` inside their transaction;
the database's own triggers (migration 0013) refuse what gets past them.

A check gets the session, the case, what is being recorded (``step`` or ``record``), its kind, the
decision's content where the record states one (``Decision``), and the actor; it raises to refuse.

A module may also follow a recorded decision (``install_follow``): called after the version is
flushed, in the same transaction, so what it writes commits or rolls back with the decision."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from cases.models import Case


@dataclass(frozen=True)
class Decision:
    """What a decision document says was decided: its kind (决定种类), content and amount (yuan, as typed)."""

    kind: str | None
    content: str
    amount: str | None = None
    fields: tuple[tuple[str, str], ...] = ()  # a filled form's fields (key, value), for what follows a decision


@dataclass(frozen=True)
class Recorded:
    """A decision document just recorded (after its row is flushed, in the same transaction)."""

    record_id: int
    version: int
    kind: str
    title: str
    decision: Decision
    actor: str


Check = Callable[[Session, Case, str, str, Decision | None, str], None]
Follow = Callable[[Session, Case, Recorded], None]
KEY = "cases.gate"
FOLLOW_KEY = "cases.recorded"


def install(sessions: sessionmaker[Session], check: Check) -> None:
    """Run ``check`` before every step and text-record version recorded through ``sessions``."""
    info: dict[str, Any] = sessions.kw.setdefault("info", {})
    info[KEY] = check


def run(db: Session, case: Case, what: str, kind: str, decision: Decision | None, actor: str) -> None:
    check = db.info.get(KEY)
    if check is not None:
        check(db, case, what, kind, decision, actor)


def install_follow(sessions: sessionmaker[Session], follow: Follow) -> None:
    """Run ``follow`` after every text-record version that states a decision, in its transaction
    (publication drafts its notice there: ``publication.hooks``)."""
    info: dict[str, Any] = sessions.kw.setdefault("info", {})
    info[FOLLOW_KEY] = follow


def followed(db: Session, case: Case, recorded: Recorded) -> None:
    follow = db.info.get(FOLLOW_KEY)
    if follow is not None:
        follow(db, case, recorded)
