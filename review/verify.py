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
from cases.models import Case, Step
from review import service
from review.catalogue import judge
from review.models import ReviewCase, ReviewMark, ReviewRound

_RESTORE = ("The row was changed below the application (not by liuhen, which records every change): restore the "
            "database from backup and investigate who had write access.")


def check(archive: Archive, report: Report) -> int:
    """Recompute every case's review standing; returns how many cases were checked."""
    settings = archive.settings
    checked = 0
    with archive.sessions() as db:
        cases = {c.id: c for c in db.scalars(select(Case).join(ReviewCase, ReviewCase.case_id == Case.id))}
        stored = {r.case_id: r for r in db.scalars(select(ReviewCase))}
        marks: dict[int, ReviewMark] = {}
        for m in db.scalars(select(ReviewMark).order_by(ReviewMark.id)):
            marks[m.case_id] = m
        latest: dict[int, ReviewRound] = {}
        for r in db.scalars(select(ReviewRound).order_by(ReviewRound.round_no)):
            latest[r.case_id] = r
        hearings = set(db.scalars(select(Step.case_id).where(Step.kind == service.HEARING)))
        units = {c.id: service._unit_code(db, c.unit_id) for c in cases.values()}
        for case_id, row in stored.items():
            case = cases.get(case_id)
            if case is None:
                continue
            checked += 1
            last, mark = latest.get(case_id), marks.get(case_id)
            kind = (last.changed_kind or last.decision_kind) if last else None
            amount = (last.changed_amount_fen if last.changed_kind else last.amount_fen) if last else None
            want = judge(settings.review, category=case.category, unit_code=units[case_id], decision_kind=kind,
                         amount_fen=amount, hearing=case_id in hearings,
                         mark=(mark.major, mark.reason) if mark else None)
            # a decision document may have made the case major with its own kind: only a flag lowered
            # below what the rules say can let a decision through
            if want.major and not row.major:
                report.failures.append(Failure(
                    "review_standing_changed",
                    f"case {case.number} is a major decision ({'; '.join(want.reasons)}) but the database marks it "
                    f"not major (review_cases: {json.loads(row.reasons) or 'no reasons'}), so the gate would let a "
                    "decision through unreviewed", _RESTORE))
    return checked
