"""``Scope``: which evidence a user may see, as one value every query and check is bounded by."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import false, or_, select
from sqlalchemy.orm import Session

from archive.models import Evidence


@dataclass(frozen=True)
class Scope:
    """Which evidence a user may see: the ids of their visible units, and whether they also see
    evidence not yet attributed to any unit (footage of a station with no unit: only administrators
    of a top-level unit do, ``api.access.scope_of``)."""

    units: frozenset[int]
    unattributed: bool = False

    def clause(self) -> Any:
        conds = []
        if self.units:
            conds.append(Evidence.unit_id.in_(sorted(self.units)))
        if self.unattributed:
            conds.append(Evidence.unit_id.is_(None))
        return or_(*conds) if conds else false()

    def allows(self, ev: Evidence) -> bool:
        return (ev.unit_id in self.units) if ev.unit_id is not None else self.unattributed


def unit_tree(db: Session, unit_id: int) -> frozenset[int]:
    """``unit_id`` and every unit below it."""
    from auth.models import Unit

    tree = select(Unit.id).where(Unit.id == unit_id).cte("tree", recursive=True)
    tree = tree.union(select(Unit.id).join(tree, Unit.parent_id == tree.c.id))
    return frozenset(db.scalars(select(tree.c.id)))
