"""The figures of legal review (review.figures): counts by unit, state, outcome, reviewer and month,
the median working days to a decision (across National Day and Spring Festival), overdue rounds,
the elements most often 不符合, and the CSV a person opens in Excel — on SQLite and PostgreSQL.

Rounds made today go through the real service (submit, open, answer, decide with its opinion PDF).
Rounds of the past cannot: the service stamps the time of submission and decision itself, and the
database refuses to change a submitted round; those are written as the rows a review in the past
left behind (``past``), each on a case of its own made by ``cases.service``."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.runtime import open_archive
from app.web import create_app
from archive.context import Archive
from auth import service as accounts
from auth.models import User
from cases.service import create_case, get_case
from hashing.models import CustodyEvent
from liuhen import config
from liuhen.config import HolidayYear
from review import service
from review.calendar import WorkCalendar
from review.catalogue import Proposal
from review.figures import CALENDAR_DAYS, WORKDAYS, figures
from review.models import ReviewAnswer, ReviewRound
from tests.conftest import create_pg_database, write_config

TZ = ZoneInfo("Asia/Shanghai")
UNIT, OTHER, LEGAL = "110101-ZF", "110102-ZF", "110100-FZ"  # two handling units and the 法制机构 reviewing both
PASSWORD = "正确的马电池订书钉和钥匙"
TODAY = dt.date(2026, 11, 26)


def at(stamp: str) -> dt.datetime:
    """A station-local time, e.g. 2024-09-30 16:00."""
    return dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M").replace(tzinfo=TZ)


@dataclass
class World:
    settings: config.Settings
    archive: Archive
    units: dict[str, int]
    tokens: dict[str, str]

    def case(self, unit: str = UNIT, title: str = "某公司无证经营案") -> int:
        with self.archive.sessions.begin() as db:
            return create_case(db, self.archive.custody, self.settings.cases, unit_id=self.units[unit], unit_code=unit,
                               category="行政处罚", title=title, actor="user:handler").id

    def past(self, *, unit: str = UNIT, submitted: str, due: dt.date, decided: str | None = None,
             outcome: str | None = None, reviewer: str = "user:reviewer", failed: tuple[str, ...] = ()) -> int:
        """A round as a review in the past left it (see the module's docstring)."""
        case_id = self.case(unit)
        with self.archive.sessions.begin() as db:
            rnd = ReviewRound(
                case_id=case_id, round_no=1, unit_id=self.units[unit], reviewer_unit_id=self.units[LEGAL],
                state="decided" if decided else ("in_review" if outcome is None and reviewer else "submitted"),
                major=True, major_reasons="[]", decision_kind="罚款", content="罚款二万元", legal_basis="某法第十条",
                discretion="", amount_fen=2_000_000, statement="拟作如上决定", proposal_sha256="0" * 64,
                materials="{}", materials_sha256="0" * 64, submitted_by="user:handler", submitted_at=at(submitted),
                due_on=due, reviewer=reviewer, opened_at=at(submitted), outcome=outcome,
                opinion="审核意见" if decided else None, decided_by=reviewer if decided else None,
                decided_at=at(decided) if decided else None)
            db.add(rnd)
            db.flush()
            for element in self.settings.review.elements:
                db.add(ReviewAnswer(round_id=rnd.id, element=element, answer="no" if element in failed else "yes",
                                    comment="须补正" if element in failed else "", answered_by=reviewer,
                                    answered_at=at(submitted)))
            return rnd.id

    def user(self, name: str) -> User:
        with self.archive.sessions() as db:
            u = db.scalars(select(User).where(User.username == name)).one()
            db.expunge(u)
            return u

    def figures(self, units: tuple[str, ...] = (LEGAL,), **kw: object):  # type: ignore[no-untyped-def]
        kw.setdefault("today", TODAY)
        kw.setdefault("tz", self.settings.station.timezone)
        with self.archive.sessions() as db:
            return figures(db, units=[self.units[u] for u in units], **kw)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'var' / 'liuhen.db'}"
    else:
        request.getfixturevalue("pg_ready")
        url, drop = create_pg_database()
    settings = config.load(write_config(tmp_path, url, f"""
[review.reviewer_units]
"{UNIT}" = "{LEGAL}"
"{OTHER}" = "{LEGAL}"
"""), environ={})
    archive = open_archive(settings)
    try:
        with archive.sessions.begin() as db:
            units = {code: accounts.add_unit(db, code=code, name=name).id for code, name in (
                (UNIT, "东城区市场监督管理局"), (OTHER, "西城区市场监督管理局"), (LEGAL, "市局法制科"))}
            tokens = {}
            for name, role, unit in (("handler", "investigator", UNIT), ("reviewer", "legal_reviewer", LEGAL),
                                     ("reviewer2", "legal_reviewer", LEGAL), ("manager", "records_manager", OTHER)):
                u = accounts.add_user(db, archive.custody, username=name, password=PASSWORD, role=role,
                                      unit_code=unit, actor="cli:test", settings=settings.auth)
                u.legal_qualification = role == "legal_reviewer"
                tokens[name] = accounts.issue_api_token(db, archive.custody, user=u, name="figures tests",
                                                        actor="cli:test")
        yield World(settings, archive, units, tokens)
    finally:
        archive.close()
        if drop is not None:
            drop()


def review_now(w: World, outcome: str, *, failing: tuple[str, ...] = (), by: str = "reviewer") -> int:
    """A round of today through the service: submitted, opened, every element answered, decided."""
    case_id = w.case()
    reviewer = w.user(by)
    with w.archive.sessions.begin() as db:
        rnd = service.submit(db, w.archive.custody, w.settings, case=get_case(db, case_id),
                             proposal=Proposal(decision_kind="罚款", content="罚款二万元", legal_basis="某法第十条",
                                               discretion="情节较重", amount_fen=2_000_000),
                             statement="事实清楚，拟作如上决定。", actor="user:handler")
        rid = rnd.id
        service.open_round(db, w.archive.custody, w.settings, rnd=rnd, user=db.merge(reviewer), actor=f"user:{by}")
        for element in w.settings.review.elements:
            a = "no" if element in failing else "yes"
            service.answer(db, w.archive.custody, w.settings, rnd=rnd, element=element, answer=a,
                           comment="证据不足，须补充" if a == "no" else "", actor=f"user:{by}")
    service.decide(w.archive, round_id=rid, outcome=outcome, opinion="经审核，提出如下意见。", actor=f"user:{by}",
                   user=w.user(by))
    return rid


# ---------------------------------------------------------------------------- counts


def test_counts_by_unit_state_outcome_reviewer_month_and_failed_elements(world):
    w = world
    w.past(submitted="2024-09-30 16:00", due=dt.date(2024, 10, 14), decided="2024-10-09 10:00", outcome="同意")
    w.past(unit=OTHER, submitted="2024-09-03 09:00", due=dt.date(2024, 9, 10), decided="2024-09-05 09:00",
           outcome="补充材料", reviewer="user:reviewer2", failed=("事实清楚", "证据确凿充分合法"))
    w.past(unit=OTHER, submitted="2024-09-20 09:00", due=dt.date(2024, 9, 27), decided="2024-09-24 09:00",
           outcome="纠正", failed=("证据确凿充分合法",))
    w.past(submitted="2026-11-20 09:00", due=dt.date(2026, 11, 27), reviewer="user:reviewer")  # open, in review
    rid = review_now(w, "补充材料", failing=("证据确凿充分合法", "程序合法"))  # through the service, today

    f = w.figures()
    assert (f.rounds, f.decided, f.open) == (5, 4, 1)
    assert [(r.key, r.count, r.label) for r in f.by_unit] == [(UNIT, 3, "东城区市场监督管理局"),
                                                             (OTHER, 2, "西城区市场监督管理局")]
    assert {r.key: r.count for r in f.by_state} == {"in_review": 1, "decided": 4}
    assert {r.key: r.count for r in f.by_outcome} == {"同意": 1, "补充材料": 2, "纠正": 1}
    assert {r.key: r.count for r in f.by_reviewer} == {"user:reviewer": 3, "user:reviewer2": 1}
    today = dt.datetime.now(TZ)
    month = f"{today.year:04d}-{today.month:02d}"
    expected_months = {"2024-09": 3, "2026-11": 1}
    expected_months[month] = expected_months.get(month, 0) + 1
    assert {r.key: r.count for r in f.by_month} == expected_months
    assert [r.key for r in f.by_month] == sorted(expected_months)
    # the most failed first; the open round's answers do not count
    assert [(r.key, r.count) for r in f.failed_elements][:1] == [("证据确凿充分合法", 3)]
    assert {r.key: r.count for r in f.failed_elements} == {"证据确凿充分合法": 3, "事实清楚": 1, "程序合法": 1}
    with w.archive.sessions() as db:
        assert db.get_one(ReviewRound, rid).decided_by == "user:reviewer"

    # a handling unit sees its own rounds only; a unit that neither handled nor reviewed sees none
    mine = w.figures((OTHER,))
    assert (mine.rounds, {r.key for r in mine.by_unit}) == (2, {OTHER})
    assert w.figures((UNIT,)).rounds == 3
    # the period: rounds submitted between since and until (local dates, both days included)
    sept = w.figures(since=dt.date(2024, 9, 3), until=dt.date(2024, 9, 30))
    assert sept.rounds == 3 and {r.key for r in sept.by_month} == {"2024-09"}
    assert w.figures(since=dt.date(2024, 9, 4), until=dt.date(2024, 9, 29)).rounds == 1


def test_a_round_submitted_just_after_local_midnight_counts_in_its_local_month(world):
    w = world
    w.past(submitted="2024-10-01 00:30", due=dt.date(2024, 10, 15), decided="2024-10-08 09:00", outcome="同意")
    f = w.figures()
    assert [(r.key, r.count) for r in f.by_month] == [("2024-10", 1)]  # 2024-09-30 16:30 UTC
    assert w.figures(until=dt.date(2024, 9, 30)).rounds == 0
    assert w.figures(since=dt.date(2024, 10, 1)).rounds == 1


# ---------------------------------------------------------------------------- time to decision, overdue


def test_median_working_days_across_national_day_and_spring_festival(world):
    w = world
    # submitted Mon 30 Sep 2024, decided Tue 8 Oct: 1–7 Oct off (国庆), so 1 working day (8 Oct)
    w.past(submitted="2024-09-30 16:00", due=dt.date(2024, 10, 14), decided="2024-10-08 10:00", outcome="同意")
    # submitted Fri 7 Feb 2025 (after 春节, 28 Jan–4 Feb), decided Mon 10 Feb: Sat 8 Feb is a 调休 working
    # day, so 2 working days
    w.past(submitted="2025-02-07 09:00", due=dt.date(2025, 2, 14), decided="2025-02-10 09:00", outcome="同意")
    # submitted Fri 24 Jan 2025, decided Fri 7 Feb: Sun 26 Jan, Mon 27 Jan, 5–7 Feb = 5 working days
    w.past(submitted="2025-01-24 09:00", due=dt.date(2025, 2, 7), decided="2025-02-07 17:00", outcome="同意")
    f = w.figures(calendar=WorkCalendar())
    assert (f.basis, f.notes) == (WORKDAYS, ())
    assert f.median_duration == 2.0  # (1, 2, 5); in calendar days it would be (8, 3, 14) -> 8
    assert f.overdue.count == 0


def test_overdue_rounds_decided_late_or_open_past_their_deadline(world):
    w = world
    # due Mon 14 Oct 2024, decided Wed 16 Oct: 2 days, 2 working days late
    w.past(submitted="2024-09-30 16:00", due=dt.date(2024, 10, 14), decided="2024-10-16 10:00", outcome="同意")
    # due Fri 8 Nov 2024, decided Mon 11 Nov: 3 calendar days, 1 working day late
    w.past(submitted="2024-11-01 09:00", due=dt.date(2024, 11, 8), decided="2024-11-11 10:00", outcome="不同意")
    # due on the day it was decided: not late
    w.past(submitted="2024-12-02 09:00", due=dt.date(2024, 12, 9), decided="2024-12-09 18:00", outcome="同意")
    # open, due Fri 20 Nov 2026, today Thu 26 Nov 2026: 6 days, 4 working days late
    w.past(submitted="2026-11-13 09:00", due=dt.date(2026, 11, 20))
    # open and not yet due
    w.past(submitted="2026-11-25 09:00", due=dt.date(2026, 12, 2))
    f = w.figures()
    assert (f.overdue.count, f.overdue.decided, f.overdue.open) == (3, 2, 1)
    assert f.overdue.median_days == 3.0  # (2, 3, 6)
    assert f.overdue.median_workdays == 2.0  # (2, 1, 4)
    later = w.figures(today=dt.date(2026, 12, 3))
    assert (later.overdue.open, later.overdue.count) == (2, 4)


def test_a_year_the_calendar_does_not_know_falls_back_to_calendar_days_and_says_so(world):
    w = world
    w.past(submitted="2024-09-30 16:00", due=dt.date(2024, 10, 14), decided="2024-10-08 10:00", outcome="同意")
    w.past(submitted="2031-03-03 09:00", due=dt.date(2031, 3, 10), decided="2031-03-12 09:00", outcome="同意")
    cal = WorkCalendar()
    assert not cal.covered(2031)
    f = w.figures(calendar=cal)
    assert f.basis == CALENDAR_DAYS
    assert f.median_duration == 8.5  # (8, 9) calendar days
    assert len(f.notes) == 1 and "2031" in f.notes[0] and "calendar days" in f.notes[0]
    assert f.overdue.count == 1 and f.overdue.median_days == 2.0 and f.overdue.median_workdays is None
    assert f.to_dict()["basis"] == "calendar_days"
    # the site's table for 2031 makes it a working-day figure again
    covered = WorkCalendar({2031: HolidayYear(off=(), work=())})
    g = w.figures(calendar=covered)
    assert (g.basis, g.notes) == (WORKDAYS, ())
    assert g.median_duration == 4.0  # (1, 7): Mon 3 to Wed 12 March 2031 is 7 weekdays after the 3rd


# ---------------------------------------------------------------------------- CSV and JSON


def test_csv_opens_in_excel_with_chinese_and_reads_back_as_one_flat_table(world):
    w = world
    w.past(submitted="2024-09-03 09:00", due=dt.date(2024, 9, 10), decided="2024-09-12 09:00", outcome="补充材料",
           failed=("事实清楚",))
    w.past(unit=OTHER, submitted="2024-10-09 09:00", due=dt.date(2024, 10, 16), decided="2024-10-10 09:00",
           outcome="同意")
    f = w.figures(since=dt.date(2024, 9, 1), until=dt.date(2024, 12, 31))
    text = f.to_csv()
    raw = text.encode("utf-8")
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["dimension", "key", "count"]
    assert all(len(r) == 3 for r in rows)
    summary = {k: v for d, k, v in rows if d == "summary"}
    assert summary["since"] == "2024-09-01" and summary["until"] == "2024-12-31"
    assert (summary["rounds"], summary["decided"], summary["open"]) == ("2", "2", "0")
    assert summary["basis"] == "workdays" and summary["overdue"] == "1" and summary["overdue_median_days"] == "2"
    assert summary["median_duration"] == "4"  # (7, 1) working days
    table = {(d, k): v for d, k, v in rows if d != "summary"}
    assert table[("outcome", "补充材料")] == "1" and table[("outcome", "同意")] == "1"
    assert table[("unit", UNIT)] == "1" and table[("unit", OTHER)] == "1"
    assert table[("month", "2024-09")] == "1" and table[("failed_element", "事实清楚")] == "1"
    assert table[("reviewer", "user:reviewer")] == "2" and table[("state", "decided")] == "2"
    # JSON: the same figures
    d = json.loads(json.dumps(f.to_dict(), ensure_ascii=False))
    assert d["rounds"] == 2 and d["median_duration"] == 4.0 and d["overdue"]["count"] == 1
    assert {r["key"]: r["count"] for r in d["by_outcome"]} == {"补充材料": 1, "同意": 1}
    assert {r["key"]: r["label"] for r in d["by_unit"]}[UNIT] == "东城区市场监督管理局"


def test_no_rounds_gives_zeros_not_errors(world):
    f = world.figures()
    assert (f.rounds, f.decided, f.open, f.median_duration, f.overdue.count) == (0, 0, 0, None, 0)
    assert f.by_unit == () and f.failed_elements == ()
    assert f.to_csv().count("\r\n") == 1 + len(f.summary())


def test_a_period_at_the_very_ends_of_the_calendar_is_everything_not_an_overflow(world):
    """0001-01-01 in Beijing time has no UTC instant and 9999-12-31 has no next day: both are open
    ends (the schema fuzz asked for them), never 'date value out of range'."""
    f = world.figures(since=dt.date.min, until=dt.date.max)
    assert (f.rounds, f.since, f.until) == (world.figures().rounds, dt.date.min, dt.date.max)


# ---------------------------------------------------------------------------- the API and the console page


def test_the_api_and_the_console_page_give_the_figures_of_the_users_units_and_refuse_others(world):
    w = world
    w.past(submitted="2024-09-03 09:00", due=dt.date(2024, 9, 10), decided="2024-09-12 09:00", outcome="补充材料",
           failed=("事实清楚", "程序合法"))
    w.past(unit=OTHER, submitted="2024-10-09 09:00", due=dt.date(2024, 10, 16), decided="2024-10-10 09:00",
           outcome="同意")
    w.past(unit=OTHER, submitted="2024-10-21 09:00", due=dt.date(2024, 10, 28), decided="2024-10-22 09:00",
           outcome="纠正", failed=("事实清楚",))
    app = create_app(w.archive)

    def client(name: str) -> TestClient:
        c = TestClient(app)
        c.headers["Authorization"] = f"Bearer {w.tokens[name]}"
        return c

    reviewer = client("reviewer")
    r = reviewer.get("/api/v1/review/figures", params={"since": "2024-09-01", "until": "2024-12-31"})
    assert r.status_code == 200, r.text
    d = r.json()
    assert (d["rounds"], d["units"], d["basis"]) == (3, [LEGAL], "workdays")
    assert {x["key"]: x["count"] for x in d["failed_elements"]} == {"事实清楚": 2, "程序合法": 1}
    r = reviewer.get("/api/v1/review/figures", params={"format": "csv", "until": "2024-09-30"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"] and r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert ["summary", "rounds", "1"] in rows and ["outcome", "补充材料", "1"] in rows
    # a records manager of a handling unit: its own rounds only
    assert client("manager").get("/api/v1/review/figures").json()["rounds"] == 2
    # the end before the start: an empty period, and a note saying so
    bad = reviewer.get("/api/v1/review/figures", params={"since": "2024-10-01", "until": "2024-09-01"})
    assert bad.status_code == 200 and bad.json()["rounds"] == 0
    assert any("before it starts" in n for n in bad.json()["notes"])
    # a date is YYYY-MM-DD: a number is not read as a timestamp, an impossible day is refused (422)
    for given in ("-7.7e-131", "1700000000", "2024-13-01", "4081-61-81"):
        r = reviewer.get("/api/v1/review/figures", params={"since": given})
        assert r.status_code == 422, (given, r.text)
        assert r.json()["code"] and r.json()["detail"], r.text
    # an investigator may not: 403, and an access_denied event
    with w.archive.sessions() as db:
        before = db.scalar(select(func.count()).select_from(CustodyEvent).where(
            CustodyEvent.action == "access_denied", CustodyEvent.actor == "user:handler"))
    assert client("handler").get("/api/v1/review/figures").status_code == 403
    with w.archive.sessions() as db:
        after = db.scalar(select(func.count()).select_from(CustodyEvent).where(
            CustodyEvent.action == "access_denied", CustodyEvent.actor == "user:handler"))
    assert after == before + 1

    # the console page: summary, three SVG bar charts drawn server-side, tables, the CSV link
    page = reviewer.get("/review/figures", params={"since": "2024-09-01"})
    assert page.status_code == 200, page.text
    html = page.text
    assert "法制审核统计" in html and 'id="fig-rounds" data-count="3"' in html
    for chart_id in ("chart-outcomes", "chart-months", "chart-failed"):
        assert f'<svg id="{chart_id}"' in html
    assert '<g data-key="事实清楚" data-count="2">' in html and '<g data-key="2024-10" data-count="2">' in html
    assert 'src="http' not in html  # nothing fetched from elsewhere: the charts are the page's own SVG
    assert 'href="/review/figures?since=2024-09-01&amp;format=csv"' in html
    got = reviewer.get("/review/figures", params={"since": "2024-09-01", "format": "csv"})
    assert got.status_code == 200 and got.content.decode("utf-8-sig").startswith("dimension,key,count")
    assert client("handler").get("/review/figures").status_code == 403
    assert reviewer.get("/review/figures", params={"since": "2024-13-01"}).status_code == 400
