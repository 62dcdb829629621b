"""``liuhen verify``'s review part: what the database's gate reads is what the rules say.

``check`` names ``review_standing_changed`` (a ``Failure`` of the report): a ``review_cases`` row
(the major flag the triggers read) lower than what the catalogue, the hand marks and the rounds say
— e.g. flipped below liuhen to let a decision through. The flag is derived, not bound, so it is
recomputed here. (A decision on a major case without a passing review — a case marked major after
its decision, say — is a finding of ``liuhen cases check``, not a broken archive.)
"""

from __future__ import annotations

import json

from sqlalchemy import select

from archive.context import Archive
from archive.verify import Failure, Report
from cases.models import Case
from review import service
from review.models import ReviewCase

BATCH = 1000
_RESTORE = ("The row was changed below the application (not by liuhen, which records every change): restore the "
            "database from backup and investigate who had write access.")


def check(archive: Archive, report: Report) -> int:
    """Recompute every case's review standing (``review.service.judge_case``); returns how many cases
    were checked. A case the rules make major is named when the database marks it not major or has
    no standing for it at all (a row deleted, or a case from before migration 0013)."""
    settings = archive.settings
    checked = 0
    with archive.sessions() as db:
        stored = {r.case_id: r for r in db.scalars(select(ReviewCase))}
        last = 0
        while True:
            cases = list(db.scalars(select(Case).where(Case.id > last).order_by(Case.id).limit(BATCH)))
            if not cases:
                break
            last = cases[-1].id
            for case in cases:
                checked += 1
                want = service.judge_case(db, settings, case)
                row = stored.get(case.id)
                if not want.major or (row is not None and row.major):
                    continue
                held = (f"marks it not major (review_cases: {json.loads(row.reasons) or 'no reasons'})"
                        if row is not None else "holds no review standing for it")
                report.failures.append(Failure(
                    "review_standing_changed",
                    f"case {case.number} is a major decision ({'; '.join(want.reasons)}) but the database {held}, "
                    "so the gate would let a decision through unreviewed", _RESTORE))
            db.expunge_all()
    return checked
