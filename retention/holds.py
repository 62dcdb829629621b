"""Legal holds (保全/冻结): placed with a reason and a scope, released only with a reason; what a hold
holds can never be disposed (the service refuses, and a trigger refuses below it).

STUB — to be implemented (helper "holds"). Signatures are the contract other modules code against.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from hashing.custody import CustodyLog


def extend(db: Session, custody: CustodyLog, *, new_evidence: list[int], new_links: list[int]) -> int:
    """Called in every committing transaction that adds evidence or links (``retention.service.install``):
    a case hold takes what is newly linked to its case; an officer hold takes newly received footage of
    its officer and time range. Adds ``HoldItem`` rows with a ``hold_extended`` custody event; returns
    how many were added."""
    return 0


__all__: list[Any] = ["extend"]
