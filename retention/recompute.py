"""Recompute every evidence's keep-until under the rules in force (after a change of ``[retention]``):
``liuhen retention recompute`` and ``POST /api/v1/retention/recompute``.

First the evidence whose retention was never computed (received before retention existed), then
all evidence, in batches of ``BATCH`` ids, each batch its own transaction with (at most) one
``retention_changed`` custody event naming every change of the batch (``retention.service.recompute``):
a crash loses at most the batch under way, and running it again finishes the job."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from archive.models import Evidence
from hashing.custody import CustodyLog
from liuhen.config import RetentionSettings
from retention.models import RetentionChange
from retention.service import missing_ids, recompute

BATCH = 5000
REASON = "recompute (config)"
SHOWN = 1000  # changes listed in the result (every change is in the custody events and retention_changes)


@dataclass
class Result:
    evidence: int = 0  # evidence looked at
    computed: int = 0  # computed for the first time (no event: it follows from bound rows)
    changed: int = 0  # keep-until moved (each in a retention_changed event)
    events: list[int] = field(default_factory=list)  # the seq of each retention_changed event
    changes: list[list[Any]] = field(default_factory=list)  # [evidence id, old, new], the first SHOWN

    def to_dict(self) -> dict[str, Any]:
        return {"evidence": self.evidence, "computed": self.computed, "changed": self.changed,
                "events": self.events, "changes": self.changes, "changes_listed": len(self.changes),
                "reason": REASON}


def _batch(db: Session, custody: CustodyLog, settings: RetentionSettings, ids: list[int], *, actor: str,
           reason: str, detail: dict[str, Any], out: Result) -> None:
    changes = recompute(db, custody, settings, evidence_ids=ids, actor=actor, reason=reason, detail=detail)
    moved = [c for c in changes if c.old is not None]
    out.computed += len(changes) - len(moved)
    out.changed += len(moved)
    if moved:
        seq = db.scalar(select(RetentionChange.seq).where(RetentionChange.evidence_id == moved[0].evidence_id)
                        .order_by(RetentionChange.id.desc()).limit(1))
        if seq is not None:
            out.events.append(int(seq))
        out.changes.extend([c.evidence_id, c.old, c.new] for c in moved[:max(0, SHOWN - len(out.changes))])


def recompute_all(sessions: sessionmaker[Session], custody: CustodyLog, settings: RetentionSettings, *,
                  actor: str, reason: str = REASON, units: Iterable[int] | None = None,
                  detail: dict[str, Any] | None = None,
                  progress: Callable[[int, int], None] = lambda i, n: None, batch: int = BATCH) -> Result:
    """Recompute the retention of all evidence (of ``units``: None, all), ``batch`` ids a transaction."""
    unit_list = None if units is None else sorted(set(units))
    extra = dict(detail or {})
    out = Result()

    def scoped(q: Any) -> Any:
        return q if unit_list is None else q.where(Evidence.unit_id.in_(unit_list))

    while unit_list is None:  # never computed: first (a first computation records no event); for some units,
        with sessions.begin() as db:  # the pass below computes theirs as it goes
            ids = missing_ids(db, limit=batch)
            if not ids:
                break
            _batch(db, custody, settings, ids, actor=actor, reason=reason, detail=extra, out=out)
    with sessions() as db:
        total = int(db.scalar(scoped(select(func.count()).select_from(Evidence))) or 0)
    last = 0
    progress(0, total)
    while True:
        with sessions.begin() as db:
            ids = list(db.scalars(scoped(select(Evidence.id).where(Evidence.id > last))
                                  .order_by(Evidence.id).limit(batch)))
            if not ids:
                break
            _batch(db, custody, settings, ids, actor=actor, reason=reason, detail=extra, out=out)
        last = ids[-1]
        out.evidence += len(ids)
        progress(min(out.evidence, total), max(total, out.evidence))
    return out
