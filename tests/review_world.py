"""A world for legal review tests: one unit (and a foreign one), officers with enforcement
certificates (张三's valid, 李四's expired before the steps), a handler and legal reviewers (one
qualified, one not, one who is also an officer), and cases built on demand — on the real archive
(SQLite or PostgreSQL), through the real services.

Use: ask for the ``review_world`` fixture (module-scoped, once per backend; registered in
``tests/conftest.py``), then ``cid = review_world.case()``, ``rid = review_world.submit(cid)``,
``review_world.open(rid)``, ``review_world.answer_all(rid)``, ``review_world.decide(rid, "同意")``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.runtime import open_archive
from archive.attribution import add_officer
from archive.context import Archive
from auth import service as accounts
from auth.models import User
from cases import records
from cases.service import add_step, create_case, get_case
from liuhen import config
from review import service
from review.catalogue import Proposal
from review.models import ReviewRound
from roster.service import add_certificate
from tests.conftest import create_pg_database, write_config

TZ = ZoneInfo("Asia/Shanghai")
UNIT, OTHER_UNIT = "110101-ZF", "110102-ZF"
A, B = "000123", "000456"  # 张三 (certificate valid 2019–2030), 李四 (certificate expired 2019-12-31)
PASSWORD = "正确的马电池订书钉和钥匙"
HANDLER, REVIEWER, NOVICE, OFFICER_REVIEWER, OTHER_REVIEWER = (
    "handler", "reviewer", "novice", "officer_reviewer", "other_reviewer")
DEFAULT_STEPS: tuple[tuple[str, str, Sequence[str]], ...] = (
    ("立案", "20200101090000", (A,)), ("调查", "20200102090000", (A,)), ("听证", "20200103090000", (A,)))
DEFAULT_RECORDS = ("立案审批表", "询问笔录")


def local(stamp: str) -> dt.datetime:
    return dt.datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=TZ)


def actor(name: str) -> str:
    return f"user:{name}"


@dataclass
class ReviewWorld:
    settings: config.Settings
    archive: Archive
    unit_id: int
    other_unit_id: int
    folder: Path
    backend: str

    # ------------------------------------------------------------------ cases

    def case(self, *, category: str = "行政处罚", title: str = "某公司无证经营案",
             steps: Sequence[tuple[str, str, Sequence[str]]] = DEFAULT_STEPS,
             documents: Sequence[str] = DEFAULT_RECORDS, by: str = HANDLER) -> int:
        """A new open case of UNIT with ``steps`` (kind, start stamp, officers; an hour each) and a
        filled form of each kind in ``documents``; returns its id."""
        with self.archive.sessions.begin() as db:
            c = create_case(db, self.archive.custody, self.settings.cases, unit_id=self.unit_id, unit_code=UNIT,
                            category=category, title=title, actor=actor(by))
            for kind, stamp, officers in steps:
                add_step(db, self.archive.custody, self.settings.cases, case=c, kind=kind, started_at=local(stamp),
                         ended_at=local(stamp) + dt.timedelta(hours=1), officers=officers, actor=actor(by))
            case_id = c.id
        for kind in documents:
            self.form(case_id, kind)
        return case_id

    def form(self, case_id: int, kind: str, fields: dict[str, str] | None = None, *, by: str = HANDLER) -> int:
        """A filled form of ``kind`` (every field of a known form filled in); returns its record id."""
        values = {key: f"{label}内容" for key, label in records.FORMS.get(kind, ())}
        values.update(fields or {})
        if kind not in records.FORMS and not values:
            values = {"content": f"{kind}内容"}
        return records.add_form(self.archive, case_id=case_id, actor=actor(by), kind=kind, fields=values).record_id

    def step(self, case_id: int, kind: str, stamp: str = "20200110090000", officers: Sequence[str] = (A,), *,
             by: str = HANDLER) -> int:
        with self.archive.sessions.begin() as db:
            c = get_case(db, case_id)
            return add_step(db, self.archive.custody, self.settings.cases, case=c, kind=kind, started_at=local(stamp),
                            ended_at=local(stamp) + dt.timedelta(hours=1), officers=officers, actor=actor(by)).id

    # ------------------------------------------------------------------ the review

    @staticmethod
    def proposal(kind: str = "吊销许可证", content: str = "吊销当事人食品经营许可证", amount_fen: int | None = None,
                 basis: str = "《食品安全法》第一百二十二条") -> Proposal:
        return Proposal(decision_kind=kind, content=content, legal_basis=basis, discretion="情节严重",
                        amount_fen=amount_fen)

    def submit(self, case_id: int, proposal: Proposal | None = None, *, by: str = HANDLER) -> int:
        with self.archive.sessions.begin() as db:
            c = get_case(db, case_id)
            rnd = service.submit(db, self.archive.custody, self.settings, case=c, proposal=proposal or self.proposal(),
                                 statement="事实清楚，证据充分，拟作如上决定。", actor=actor(by))
            return rnd.id

    def user(self, name: str) -> User:
        with self.archive.sessions() as db:
            u = db.scalars(select(User).where(User.username == name)).one()
            db.expunge(u)
            return u

    def open(self, round_id: int, *, by: str = REVIEWER) -> None:
        user = self.user(by)
        with self.archive.sessions.begin() as db:
            rnd = service.get_round(db, round_id)
            service.open_round(db, self.archive.custody, self.settings, rnd=rnd, user=db.merge(user),
                               actor=actor(by))

    def answer_all(self, round_id: int, answer: str = "yes", *, by: str = REVIEWER,
                   failing: Sequence[str] = ()) -> None:
        with self.archive.sessions.begin() as db:
            rnd = service.get_round(db, round_id)
            for element in self.settings.review.elements:
                a = "no" if element in failing else answer
                service.answer(db, self.archive.custody, self.settings, rnd=rnd, element=element, answer=a,
                               comment="须补充证据" if a == "no" else "", actor=actor(by))

    def decide(self, round_id: int, outcome: str, *, by: str = REVIEWER, opinion: str = "经审核，提出如下意见。",
               changed: Proposal | None = None) -> ReviewRound:
        return service.decide(self.archive, round_id=round_id, outcome=outcome, opinion=opinion, actor=actor(by),
                              user=self.user(by), changed=changed)

    def review(self, case_id: int, outcome: str = "同意", proposal: Proposal | None = None, **kw: object) -> int:
        """Submit, open, answer every element yes, decide ``outcome``; returns the round id."""
        rid = self.submit(case_id, proposal)
        self.open(rid)
        self.answer_all(rid)
        self.decide(rid, outcome, **kw)  # type: ignore[arg-type]
        return rid


def _certificate(db: Session, archive: Archive, officer_no: str, number: str, start: dt.date, until: dt.date) -> None:
    add_certificate(db, archive.custody, officer_no=officer_no, number=number, category="市场监管", area="东城区",
                    valid_from=start, valid_until=until, actor="cli:test")


def _open_world(folder: Path, backend: str) -> tuple[config.Settings, Archive, int, int, object]:
    drop = None
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'var' / 'liuhen.db'}"
    else:
        url, drop = create_pg_database()
    settings = config.load(write_config(folder, url), environ={})
    archive = open_archive(settings)
    with archive.sessions.begin() as db:
        unit = accounts.add_unit(db, code=UNIT, name="东城区市场监督管理局")
        other = accounts.add_unit(db, code=OTHER_UNIT, name="西城区市场监督管理局")
        add_officer(db, archive.custody, officer_no=A, name="张三", unit_id=unit.id, actor="cli:test")
        add_officer(db, archive.custody, officer_no=B, name="李四", unit_id=unit.id, actor="cli:test")
        _certificate(db, archive, A, "ZF-11010100123", dt.date(2019, 1, 1), dt.date(2030, 12, 31))
        _certificate(db, archive, B, "ZF-11010100456", dt.date(2016, 1, 1), dt.date(2019, 12, 31))
        for name, role, unit_code in ((HANDLER, "investigator", UNIT), (REVIEWER, "legal_reviewer", UNIT),
                                      (NOVICE, "legal_reviewer", UNIT), (OFFICER_REVIEWER, "legal_reviewer", UNIT),
                                      (OTHER_REVIEWER, "legal_reviewer", OTHER_UNIT)):
            u = accounts.add_user(db, archive.custody, username=name, password=PASSWORD, role=role, unit_code=unit_code,
                                  actor="cli:test", settings=settings.auth)
            u.legal_qualification = name != NOVICE
            u.officer_no = A if name == OFFICER_REVIEWER else None
        unit_id, other_id = unit.id, other.id
    return settings, archive, unit_id, other_id, drop


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def review_world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReviewWorld]:
    folder = tmp_path_factory.mktemp(f"review-{request.param}")
    if request.param != "sqlite":
        request.getfixturevalue("pg_ready")
    settings, archive, unit_id, other_id, drop = _open_world(folder, request.param)
    try:
        yield ReviewWorld(settings, archive, unit_id, other_id, folder, request.param)
    finally:
        archive.close()
        if callable(drop):
            drop()
