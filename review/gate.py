"""The gate, installed: every step and text-record version recorded through the archive's sessions
passes ``review.service.gate_check`` first (``cases.gate``); the database's triggers back it."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from cases import gate
from cases.models import Case
from hashing.custody import CustodyLog
from liuhen.config import Settings
from review.models import ReviewGateKind
from review.service import gate_check


def install(sessions: sessionmaker[Session], custody: CustodyLog, settings: Settings) -> None:
    """Check decisions through ``sessions`` against ``settings``' review rules, and mirror the gated
    kinds (``[review] decision_steps``, ``decision_records``) into ``review_gate_kinds`` for the triggers."""
    def check(db: Session, case: Case, what: str, kind: str, decision: gate.Decision | None, actor: str) -> None:
        gate_check(db, custody, settings, case, what, kind, decision, actor)

    gate.install(sessions, check)
    sync_kinds(sessions, settings)


def sync_kinds(sessions: sessionmaker[Session], settings: Settings) -> None:
    """Add the gated kinds of ``settings`` to what the triggers know. Only added, never taken away: a
    process started with a narrower config does not open the database's gate for everyone."""
    want = {("step", k) for k in settings.review.decision_steps} | {("record", k) for k in
                                                                   settings.review.decision_records}
    with sessions() as db:
        have = {(g.what, g.kind) for g in db.query(ReviewGateKind)}
    if want <= have:
        return
    with sessions.begin() as db:
        have = {(g.what, g.kind) for g in db.query(ReviewGateKind)}
        for what, kind in sorted(want - have):
            db.add(ReviewGateKind(what=what, kind=kind))
