"""``kill -9`` while a review round is decided (``liuhen.faults``): after the opinion PDF is stored
and just before the transaction that records it with the outcome commits. Either way the round is
still open with no opinion filed and every bound row vouched for, and deciding again succeeds with
exactly one opinion. A real separate process, killed by itself; SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from archive.verify import Report
from cases.models import TextRecord
from integrity.bindings import check_rows
from review import service
from tests.review_world import REVIEWER, ReviewWorld

DECIDE = """
import sys
from app.runtime import open_archive
from auth.models import User
from liuhen import config
from review import service
from sqlalchemy import select
settings = config.load(sys.argv[1], environ={})
archive = open_archive(settings)
with archive.sessions() as db:
    user = db.scalars(select(User).where(User.username == sys.argv[3])).one()
    db.expunge(user)
service.decide(archive, round_id=int(sys.argv[2]), outcome="同意", opinion="同意。", actor="user:" + user.username,
               user=user)
print("decided")
"""


@pytest.mark.parametrize("point", ["review.decide.stored", "review.decide.recorded"])
def test_a_crash_while_deciding_leaves_the_round_open_and_nothing_half_filed(review_world: ReviewWorld,
                                                                             point: str) -> None:
    w = review_world
    cid = w.case()
    rid = w.submit(cid)
    w.open(rid)
    w.answer_all(rid)
    env = {**os.environ, "LIUHEN_KILL_AT": f"{point}:1"}
    run = subprocess.run([sys.executable, "-c", DECIDE, str(w.settings.config_path), str(rid), REVIEWER],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == -9, run.stderr[-2000:]
    with w.archive.sessions() as db:
        rnd = service.get_round(db, rid)
        assert rnd.state == "in_review" and rnd.outcome is None and rnd.opinion_record_id is None
        assert not list(db.scalars(select(TextRecord).where(TextRecord.case_id == cid,
                                                            TextRecord.kind == "法制审核意见书")))
    report = Report()
    check_rows(w.archive, report)
    assert not [f for f in report.failures if f.kind.startswith("row_")], [f.detail for f in report.failures]
    w.decide(rid, "同意")
    with w.archive.sessions() as db:
        assert service.get_round(db, rid).outcome == "同意"
        assert len(list(db.scalars(select(TextRecord).where(TextRecord.case_id == cid,
                                                            TextRecord.kind == "法制审核意见书")))) == 1
