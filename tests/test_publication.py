"""Decision notices (行政执法公示): deadlines in statutory working days, drafts made when a decision is
recorded, personal data kept out of the public page, publication checked once more, withdrawal shown."""

from __future__ import annotations

import datetime as dt
import json
import random

import holidays
import pytest
from sqlalchemy import select

from cases.service import PartyIn, add_step, create_case
from hashing.models import CustodyEvent
from liuhen import config
from publication import service, site
from publication.errors import NoticeState, PersonalDataFound, PublicationError
from publication.models import Notice
from review.calendar import WorkCalendar
from review.errors import CalendarUncovered
from tests.review_world import UNIT, ReviewWorld, actor, local
from tests.test_pii import make_card, make_credit, make_id

STEPS = (("立案", "20260105090000", ("000123",)), ("调查", "20260106090000", ("000123",)))
CN = holidays.China(years=range(2024, 2028))


def nth_workday_by_holidays(start: dt.date, n: int) -> dt.date:
    """The n-th working day after ``start`` by the ``holidays`` package (an independent source)."""
    d = start
    while n:
        d += dt.timedelta(days=1)
        if CN.is_working_day(d):
            n -= 1
    return d


# ---------------------------------------------------------------------------- deadlines


def test_deadlines_across_2024_to_2026_agree_with_the_holidays_package() -> None:
    settings = config.Settings()
    cal = WorkCalendar()
    rng = random.Random(16)
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range((dt.date(2026, 11, 1) - dt.date(2024, 1, 1)).days)]
    # every Spring Festival, Labour Day and National Day stretch, and a random sample of the rest
    hot = [d for d in days if (d.month, d.day // 8) in {(1, 3), (2, 0), (2, 1), (4, 3), (5, 0), (9, 3), (10, 0)}]
    for d in hot + rng.sample(days, 150):
        for kind, category, n in (("罚款", "行政处罚", 7), (None, "行政检查", 20)):
            got = service.deadline(settings, cal, decision_kind=kind, category=category, decided_on=d)
            assert got == (n, nth_workday_by_holidays(d, n)), d


def test_the_known_holiday_adjustments() -> None:
    settings, cal = config.Settings(), WorkCalendar()
    # 2024 Spring Festival: 10–17 February off, Sunday 4 and Sunday 18 February worked
    assert service.deadline(settings, cal, decision_kind="罚款", category="行政处罚",
                            decided_on=dt.date(2024, 2, 7)) == (7, dt.date(2024, 2, 22))
    # 2025 National Day: 1–8 October off, Sunday 28 September and Saturday 11 October worked
    assert service.deadline(settings, cal, decision_kind=None, category="行政许可",
                            decided_on=dt.date(2025, 9, 26)) == (7, dt.date(2025, 10, 13))
    # 2026 Spring Festival (15–23 February off; 14 and 28 February worked)
    assert service.deadline(settings, cal, decision_kind=None, category="其他",
                            decided_on=dt.date(2026, 2, 13)) == (20, nth_workday_by_holidays(dt.date(2026, 2, 13), 20))


def test_an_uncovered_year_is_refused_not_guessed() -> None:
    with pytest.raises(CalendarUncovered) as e:
        service.deadline(config.Settings(), WorkCalendar(), decision_kind="罚款", category="行政处罚",
                         decided_on=dt.date(2027, 3, 1))
    assert "2027" in e.value.detail
    # a deadline that runs into an uncovered year is refused likewise
    with pytest.raises(CalendarUncovered):
        service.deadline(config.Settings(), WorkCalendar(), decision_kind="罚款", category="行政处罚",
                         decided_on=dt.date(2026, 12, 28))


def test_deadlines_come_from_config_by_kind_then_category(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = config.PublicationSettings(deadlines={"default": 15, "行政处罚": 5, "警告": 3})
    assert (p.days_for("警告", "行政处罚"), p.days_for("罚款", "行政处罚"), p.days_for(None, "行政检查")) == (3, 5, 15)
    with pytest.raises(ValueError, match="default"):
        config.PublicationSettings(deadlines={"行政处罚": 5})


# ---------------------------------------------------------------------------- drafting


def decision_case(w: ReviewWorld, category: str, *, parties: tuple[PartyIn, ...] = (),
                  title: str = "某公司违法案") -> int:
    with w.archive.sessions.begin() as db:
        c = create_case(db, w.archive.custody, w.settings.cases, unit_id=w.unit_id, unit_code=UNIT,
                        category=category, title=title, actor=actor("handler"), parties=parties,
                        data_key=w.archive.data_key)
        for kind, stamp, officers in STEPS:
            add_step(db, w.archive.custody, w.settings.cases, case=c, kind=kind, started_at=local(stamp),
                     ended_at=local(stamp) + dt.timedelta(hours=1), officers=officers, actor=actor("handler"))
        return c.id


def decide(w: ReviewWorld, category: str, kind: str, *, decided_on: str = "2026-03-02", amount: str = "",
           parties: tuple[PartyIn, ...] = (), **fields: str) -> Notice:
    cid = decision_case(w, category, parties=parties)
    values = {"party": "某某有限公司", "facts": "未取得许可擅自经营", "law": "《某法》第十条", "decision": "责令改正",
              "remedy": "可在六十日内申请行政复议", "decided_on": decided_on, "decision_kind": kind,
              "doc_number": f"京东市监〔2026〕{random.randint(1, 999)}号", "amount": amount, **fields}
    rid = w.form(cid, "决定书", values)
    with w.archive.sessions() as db:
        n = db.scalars(select(Notice).where(Notice.record_id == rid)).one()
        db.expunge(n)
        return n


@pytest.mark.parametrize(("category", "kind", "days"), [
    ("行政处罚", "罚款", 7), ("行政处罚", "警告", 7), ("行政许可", "行政许可", 7), ("行政强制", "行政强制", 7),
    ("行政征收", "其他", 7), ("行政检查", "其他", 20), ("其他", "其他", 20)])
def test_a_decision_recorded_drafts_its_notice_with_its_deadline(review_world: ReviewWorld, category: str, kind: str,
                                                               days: int) -> None:
    n = decide(review_world, category, kind, amount="500" if kind == "罚款" else "")
    assert n.state == "draft" and n.category == category and n.decision_kind == kind
    assert n.decided_on == dt.date(2026, 3, 2) and n.days == days
    assert n.due_on == nth_workday_by_holidays(dt.date(2026, 3, 2), days)
    assert n.agency == "东城区市场监督管理局" and n.party == "某某有限公司" and n.decision == "责令改正"
    assert n.doc_number.startswith("京东市监〔2026〕")
    with review_world.archive.sessions() as db:
        ev = db.scalars(select(CustodyEvent).where(CustodyEvent.action == "notice_drafted")
                        .order_by(CustodyEvent.seq.desc())).first()
        assert ev is not None and json.loads(ev.detail)["notice_id"] == n.id
        assert json.loads(ev.detail)["case_id"] == n.case_id and "bound" in json.loads(ev.detail)


def test_a_decision_in_an_uncovered_year_stands_and_its_deadline_is_not_guessed(review_world: ReviewWorld) -> None:
    n = decide(review_world, "行政处罚", "警告", decided_on="2027-06-01")
    assert n.due_on is None and service.status(n, dt.date(2027, 6, 2)) == "deadline_unknown"
    with review_world.archive.sessions() as db:
        ev = db.scalars(select(CustodyEvent).where(CustodyEvent.action == "notice_drafted")
                        .order_by(CustodyEvent.seq.desc())).first()
        assert ev is not None and "2027" in json.loads(ev.detail)["deadline_unknown"]
    # once the year is covered ([review.holidays.2027]), the deadline is filled in
    covered = config.Settings(review=config.ReviewSettings(holidays={2027: config.HolidayYear(
        off=(dt.date(2027, 6, 2),))}))
    with review_world.archive.sessions.begin() as db:
        assert service.refresh_deadlines(db, review_world.archive.custody, covered, actor="x") >= 1
        got = db.get_one(Notice, n.id)
        assert got.due_on == dt.date(2027, 6, 11)  # 7 working days, 2 June off


# ---------------------------------------------------------------------------- personal data


ID = make_id("110105", dt.date(1985, 6, 15), "042")
BAD_ID = ID[:-1] + ("0" if ID[-1] != "0" else "1")
CARD = make_card("622202", 19, random.Random(3))
CREDIT = make_credit("91110101MA01ABCD2")
ORDER = "20260301123456789012"
PLANTED = (f"当事人张三丰（身份证号{ID}，联系电话13912345678，住北京市朝阳区建国路88号3号楼1单元502室），"
           f"经营者某某科技有限公司（统一社会信用代码{CREDIT}），通过银行卡{CARD}收款，订单号{ORDER}，"
           f"另有证件号{BAD_ID}。")


def test_planted_personal_data_never_reaches_the_public_page(review_world: ReviewWorld) -> None:
    w = review_world
    n = decide(w, "行政处罚", "警告", parties=(PartyIn(name="张三丰", kind="person", id_number=ID),
                                            PartyIn(name="某某科技有限公司", kind="organisation")),
               party=f"张三丰（{ID}）；某某科技有限公司", facts=PLANTED, decision="对张三丰予以警告（电话010-87654321）")
    assert n.party == f"张某（{ID[:6]}{'*' * 8}{ID[-4:]}）；某某科技有限公司"
    for secret in (ID, "13912345678", CARD, "建国路88号", "张三丰", "87654321"):
        assert all(secret not in getattr(n, f) for f in ("doc_number", "party", "facts", "legal_basis", "decision"))
    for kept in (CREDIT, ORDER, BAD_ID, "某某科技有限公司", "北京市朝阳区"):
        assert kept in n.facts
    masks = service.masks_of(n)
    assert {k for _, _, k in masks["facts"]} >= {"id_number", "mobile", "bank_card", "address", "name"}
    for s, e, _ in masks["facts"]:
        assert "*" in n.facts[s:e] or "某" in n.facts[s:e]
    with w.archive.sessions.begin() as db:
        published = service.publish(db, w.archive.custody, w.settings, notice=service.get(db, n.id), actor=actor("reviewer"))
        page = site.notice_page(service.public_of(published), site.live_links())
    for secret in (ID, "13912345678", CARD, "建国路88号", "张三丰"):
        assert secret not in page
    assert CREDIT in page and ORDER in page and BAD_ID in page


def test_the_publisher_masks_more_but_never_unmasks(review_world: ReviewWorld) -> None:
    w = review_world
    n = decide(w, "行政处罚", "警告", facts="经理王小明在场，手机13912345678")
    with w.archive.sessions.begin() as db:
        got = service.mask(db, w.archive.custody, notice=service.get(db, n.id), field="facts", text="王小明",
                           actor=actor("reviewer"))
        assert "王小明" not in got.facts and "***" in got.facts
        kinds = [k for _, _, k in service.masks_of(got)["facts"]]
        assert sorted(kinds) == ["hand", "mobile"]
        with pytest.raises(PublicationError):
            service.mask(db, w.archive.custody, notice=got, field="facts", text="不在其中", actor=actor("reviewer"))
    assert not any(name.startswith("unmask") for name in dir(service))


def test_the_second_check_refuses_a_page_that_still_holds_personal_data(review_world: ReviewWorld) -> None:
    w = review_world
    n = decide(w, "行政处罚", "警告")
    with w.archive.sessions.begin() as db:  # personal data put in below the drafting (a hand in the database)
        db.get_one(Notice, n.id).decision = f"处罚 {ID}"
    with pytest.raises(PersonalDataFound), w.archive.sessions.begin() as db:
        service.publish(db, w.archive.custody, w.settings, notice=service.get(db, n.id), actor=actor("reviewer"))
    with w.archive.sessions() as db:
        assert db.get_one(Notice, n.id).state == "draft"
        ev = db.scalars(select(CustodyEvent).where(CustodyEvent.action == "notice_publish_refused")).all()
        assert ev and json.loads(ev[-1].detail)["found"] == ["id_number"]
        assert ID not in ev[-1].detail
    with w.archive.sessions.begin() as db:  # (put back as it was, for the binding check below)
        db.get_one(Notice, n.id).decision = "责令改正"


def test_withdrawal_shows_as_withdrawn_and_keeps_the_notice(review_world: ReviewWorld) -> None:
    w = review_world
    n = decide(w, "行政处罚", "警告")
    with w.archive.sessions.begin() as db:
        with pytest.raises(NoticeState):
            service.withdraw(db, w.archive.custody, notice=service.get(db, n.id), reason="已撤销", actor=actor("reviewer"))
        service.publish(db, w.archive.custody, w.settings, notice=service.get(db, n.id), actor=actor("reviewer"))
    with w.archive.sessions.begin() as db:
        with pytest.raises(PublicationError):
            service.withdraw(db, w.archive.custody, notice=service.get(db, n.id), reason=" ", actor=actor("reviewer"))
        service.withdraw(db, w.archive.custody, notice=service.get(db, n.id), reason="行政处罚决定已被依法撤销",
                         actor=actor("reviewer"))
    with w.archive.sessions() as db:
        shown = service.public_notice(db, n.public_no)
        assert shown is not None and shown.withdrawn
        page = site.notice_page(shown, site.live_links())
        assert "本公示已于" in page and "撤回" in page and "行政处罚决定已被依法撤销" in page and "责令改正" in page
        actions = [e.action for e in db.scalars(select(CustodyEvent).where(
            CustodyEvent.detail.like(f'%"public_no":"{n.public_no}"%')).order_by(CustodyEvent.seq))]
        assert actions == ["notice_drafted", "notice_published", "notice_withdrawn"]
        with pytest.raises(NoticeState):
            service.publish(db, w.archive.custody, w.settings, notice=service.get(db, n.id), actor=actor("reviewer"))


def test_status_due_overdue_on_time_and_late(review_world: ReviewWorld) -> None:
    w = review_world
    n = decide(w, "行政处罚", "警告", decided_on="2026-03-02")
    assert service.status(n, n.due_on) == "due" and service.status(n, n.due_on + dt.timedelta(days=1)) == "overdue"
    with w.archive.sessions.begin() as db:
        late = service.publish(db, w.archive.custody, w.settings, notice=service.get(db, n.id), actor=actor("reviewer"))
        assert service.status(late, dt.date(2026, 11, 26)) == "late"  # published now, due in March
    m = decide(w, "行政处罚", "警告", decided_on="2026-11-20")
    with w.archive.sessions.begin() as db:
        at = dt.datetime(2026, 11, 23, 2, tzinfo=dt.UTC)
        on_time = service.publish(db, w.archive.custody, w.settings, notice=service.get(db, m.id), actor="x", now=at)
        assert service.status(on_time, dt.date(2026, 12, 30)) == "on_time"


def test_notice_rows_are_bound_to_the_log(review_world: ReviewWorld) -> None:
    from archive.verify import Report
    from integrity.bindings import BINDINGS, check_rows

    assert "publication_notices" in {b.name for b in BINDINGS}
    n = decide(review_world, "行政处罚", "警告")
    with review_world.archive.sessions.begin() as db:
        service.mask(db, review_world.archive.custody, notice=service.get(db, n.id), field="facts", text="擅自",
                     actor="x")
    report = Report()
    check_rows(review_world.archive, report)
    bad = [f for f in report.failures if f.kind in ("row_unbound", "row_changed", "row_deleted")]
    assert bad == [], [f.detail for f in bad]
    with review_world.archive.sessions.begin() as db:  # changed below liuhen: named
        db.get_one(Notice, n.id).party = "别的公司"
    report = Report()
    check_rows(review_world.archive, report)
    assert [f.kind for f in report.failures if "publication_notices" in f.detail] == ["row_changed"]
    with review_world.archive.sessions.begin() as db:
        db.get_one(Notice, n.id).party = "某某有限公司"


def test_a_new_version_of_the_decision_supersedes_its_draft(review_world: ReviewWorld) -> None:
    from cases import records

    w = review_world
    n = decide(w, "行政处罚", "警告")
    fields = {"party": "某某有限公司", "facts": "未取得许可擅自经营", "law": "《某法》第十条", "decision": "责令限期改正",
              "remedy": "可在六十日内申请行政复议", "decided_on": "2026-03-03", "decision_kind": "警告"}
    records.add_form(w.archive, case_id=n.case_id, actor=actor("handler"), kind="决定书", fields=fields,
                     record_id=n.record_id)
    with w.archive.sessions() as db:
        rows = list(db.scalars(select(Notice).where(Notice.record_id == n.record_id).order_by(Notice.id)))
    assert [(r.state, r.record_version, r.decision) for r in rows] == [
        ("superseded", 1, "责令改正"), ("draft", 2, "责令限期改正")]
    assert rows[1].due_on == nth_workday_by_holidays(dt.date(2026, 3, 3), 7)


@pytest.mark.parametrize(("style", "shown"), [("surname", "欧阳某"), ("star", "欧阳**"), ("full", "欧阳明月")])
def test_a_natural_persons_name_as_configured_and_every_place_it_stands(style: str, shown: str) -> None:
    from redaction.pii import natural_name

    got = service.clean("欧阳明月经营的小店，欧阳明月签收。", names=[("欧阳明月", natural_name("欧阳明月", style))])
    assert got.text == f"{shown}经营的小店，{shown}签收。"
    if style == "full":
        assert got.spans == ()
    else:
        assert [got.text[s:e] for s, e, _ in got.spans] == [shown, shown]


def test_drafts_come_first_and_the_counts_cover_every_notice(review_world: ReviewWorld) -> None:
    w = review_world
    old = decide(w, "行政处罚", "警告", decided_on="2026-03-02")
    with w.archive.sessions.begin() as db:  # published late: after its deadline of 11 March
        service.publish(db, w.archive.custody, w.settings, notice=service.get(db, old.id), actor=actor("reviewer"),
                        now=dt.datetime(2026, 3, 20, 2, tzinfo=dt.UTC))
    fresh = decide(w, "行政处罚", "警告", decided_on="2026-11-20")
    unknown = decide(w, "行政处罚", "警告", decided_on="2027-06-01")
    today = dt.date(2026, 11, 26)
    with w.archive.sessions() as db:
        every = service.notices_of(db, units=[w.unit_id], limit=100000)
        states = [n.state for n in every]
        assert states == sorted(states, key=lambda s: s != "draft")  # every draft before any other
        drafts = [n for n in every if n.state == "draft"]
        assert drafts[0].due_on is None and [n.due_on for n in drafts[1:]] == sorted(n.due_on for n in drafts[1:])
        others = [n.published_at for n in every if n.state != "draft"]
        assert others == sorted(others, reverse=True)
        assert {unknown.id, fresh.id} <= {n.id for n in drafts}
        # a small limit still shows what must be acted on: the drafts, not old publications
        assert {n.state for n in service.notices_of(db, units=[w.unit_id], limit=2)} == {"draft"}
        counted = service.counts(db, units=[w.unit_id], today=today)
        by_status = {k: sum(1 for n in every if service.status(n, today) == k) for k in counted}
        assert counted == by_status and counted["late"] >= 1 and counted["deadline_unknown"] >= 1
        assert service.counts(db, units=[w.other_unit_id], today=today) == dict.fromkeys(counted, 0)
