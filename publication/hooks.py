"""Publication installed on the archive's sessions: every decision document recorded through them
gets its draft notice in the same transaction (``cases.gate.install_follow``)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from cases import gate
from cases.models import Case
from hashing.custody import CustodyLog
from hashing.keys import DataKey
from liuhen.config import Settings
from publication import service


def install(sessions: sessionmaker[Session], custody: CustodyLog, settings: Settings, key: DataKey) -> None:
    def follow(db: Session, case: Case, recorded: gate.Recorded) -> None:
        if recorded.kind in settings.review.decision_records:
            service.draft(db, custody, settings, key, case=case, recorded=recorded)

    gate.install_follow(sessions, follow)
