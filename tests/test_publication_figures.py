"""The annual enforcement figures (年度行政执法数据): counted right from a small planted world, walled
by unit, a CSV Excel cannot be tricked by, frozen on approval with the history kept, public only
once approved, the static export the same pages, the approval rows bound to the custody log.

The world (``tests.review_world``, SQLite and PostgreSQL): in unit UNIT, decisions of 2026 — two
罚款 recorded as forms (5000 yuan; 3000 then revised to 8000), a 警告 reviewed first (同意) with
no amount, a 行政许可 uploaded as a PDF (its amount unknown) — and one 罚款 of 2025; another
round on a case without a decision (补充材料); in OTHER_UNIT, a 罚款 of 999 yuan and a decision
whose kind is typed as a formula. Notices: one published on time, one late, one withdrawn, the
others left as drafts (overdue on the day the figures are asked for)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from app.web import create_app
from auth import service as accounts
from auth.models import User
from cases import gate, records
from cases.service import add_step, create_case
from hashing.models import CustodyEvent
from publication import figures, service, site
from publication.errors import FiguresNotFinal
from publication.export import export
from publication.figures_models import FiguresApproval
from publication.models import Notice
from review.catalogue import Proposal
from review.figures import Row
from tests.review_world import OTHER_REVIEWER, OTHER_UNIT, REVIEWER, UNIT, ReviewWorld, actor, local
from tests.test_cases import tiny_pdf

STEPS = (("立案", "20260105090000"), ("调查", "20260106090000"))
AS_OF = dt.date(2027, 1, 10)  # the day the figures of 2026 are asked for and approved (before 31 January)
API = "/api/v1/publication"


@dataclass
class Planted:
    world: ReviewWorld
    unit: int
    other: int
    records: dict[str, int]  # name -> text record id


def _case(w: ReviewWorld, unit_id: int, code: str, category: str = "行政处罚") -> int:
    with w.archive.sessions.begin() as db:
        c = create_case(db, w.archive.custody, w.settings.cases, unit_id=unit_id, unit_code=code, category=category,
                        title="某公司违法案", actor=actor("handler"))
        for kind, stamp in STEPS:
            add_step(db, w.archive.custody, w.settings.cases, case=c, kind=kind, started_at=local(stamp),
                     ended_at=local(stamp) + dt.timedelta(hours=1), officers=("000123",), actor=actor("handler"))
        return c.id


def _form(w: ReviewWorld, case_id: int, kind: str, decided_on: str, *, amount: str = "", decision: str = "责令改正",
          record_id: int | None = None) -> int:
    fields = {"party": "某某有限公司", "facts": "未取得许可擅自经营", "law": "《某法》第十条", "decision": decision,
              "remedy": "可在六十日内申请行政复议", "decided_on": decided_on, "decision_kind": kind,
              **({"amount": amount} if amount else {})}
    return records.add_form(w.archive, case_id=case_id, actor=actor("handler"), kind="决定书", fields=fields,
                            record_id=record_id).record_id


def _notice(w: ReviewWorld, record_id: int) -> Notice:
    with w.archive.sessions() as db:
        n = db.scalars(select(Notice).where(Notice.record_id == record_id).order_by(Notice.id.desc())).first()
        assert n is not None
        db.expunge(n)
        return n


def _publish(w: ReviewWorld, record_id: int, on: dt.date) -> None:
    with w.archive.sessions.begin() as db:
        n = service.get(db, _notice(w, record_id).id)
        at = dt.datetime.combine(on, dt.time(10), tzinfo=ZoneInfo("Asia/Shanghai"))
        service.publish(db, w.archive.custody, w.settings, notice=n, actor=actor(REVIEWER), now=at)


@pytest.fixture(scope="module")
def planted(review_world: ReviewWorld, tmp_path_factory: pytest.TempPathFactory) -> Planted:
    w = review_world
    u, o = w.unit_id, w.other_unit_id
    got: dict[str, int] = {}
    got["fine"] = _form(w, _case(w, u, UNIT), "罚款", "2026-03-02", amount="5000")
    revised = _case(w, u, UNIT)
    first = _form(w, revised, "罚款", "2026-06-01", amount="3000")
    got["revised"] = _form(w, revised, "罚款", "2026-06-01", amount="8000", record_id=first)
    warned = _case(w, u, UNIT)  # reviewed first (同意), then decided as reviewed
    w.review(warned, "同意", proposal=Proposal(decision_kind="警告", content="予以警告", legal_basis="《某法》第十条",
                                              discretion="情节轻微"))
    got["warning"] = _form(w, warned, "警告", "2026-07-01", decision="予以警告")
    w.review(_case(w, u, UNIT), "补充材料")  # a round on a case with no decision yet
    pdf = tmp_path_factory.mktemp("figures") / "许可决定书.pdf"
    pdf.write_bytes(tiny_pdf("permit"))
    got["upload"] = records.add_version(
        w.archive, case_id=_case(w, u, UNIT, "行政许可"), actor=actor("handler"), kind="决定书", title="许可决定书",
        path=pdf, file_name=pdf.name,
        decision=gate.Decision(kind="行政许可", content="准予行政许可", fields=(("decided_on", "2026-09-01"),))).record_id
    got["last_year"] = _form(w, _case(w, u, UNIT), "罚款", "2025-06-02", amount="700")
    got["other"] = _form(w, _case(w, o, OTHER_UNIT), "罚款", "2026-04-01", amount="999")
    got["formula"] = _form(w, _case(w, o, OTHER_UNIT), "=HYPERLINK(\"http://x\")", "2026-04-02")
    # notices: on time, late, withdrawn; the rest stay drafts
    _publish(w, got["fine"], dt.date(2026, 3, 3))
    _publish(w, got["warning"], dt.date(2026, 8, 3))
    _publish(w, got["upload"], dt.date(2026, 9, 2))
    with w.archive.sessions.begin() as db:
        service.withdraw(db, w.archive.custody, notice=service.get(db, _notice(w, got["upload"]).id),
                         reason="行政许可决定已被依法撤回", actor=actor(REVIEWER))
    return Planted(w, u, o, got)


def _compute(p: Planted, year: int = 2026, units: tuple[int, ...] | None = None,
             today: dt.date = AS_OF) -> figures.Figures:
    with p.world.archive.sessions() as db:
        return figures.compute(db, p.world.archive.store, p.world.settings, year=year,
                               units=units or (p.unit,), today=today)


def _counts(rows: tuple[Row, ...]) -> dict[str, int]:
    return {r.key: r.count for r in rows}


def test_the_figures_of_a_planted_year_are_exact(planted: Planted) -> None:
    f = _compute(planted)
    assert f.year == 2026 and f.due_on == dt.date(2027, 1, 31) and [r.key for r in f.units] == [UNIT]
    assert f.decisions == 4  # the revised decision once (its latest version); 2025's and the other unit's not
    assert _counts(f.by_kind) == {"罚款": 2, "警告": 1, "行政许可": 1}
    assert _counts(f.by_unit) == {UNIT: 4} and f.by_unit[0].label == "东城区市场监督管理局"
    assert _counts(f.by_category) == {"行政处罚": 3, "行政许可": 1}
    # 5000 + 8000 (the revised amount, not the first 3000); the warning states none; the upload's is unknown
    assert f.amounts == figures.Amounts(total_fen=1_300_000, stated=2, not_stated=1, unknown=1)
    assert _counts(f.by_status) == {"on_time": 1, "late": 1, "withdrawn": 1, "overdue": 1}
    assert f.notices == 4
    # coverage: the four cases with a decision, two steps each, no recording linked to any
    reqs = [planted.world.settings.cases.requirement(kind) for kind, _ in STEPS]
    flagged_kinds = sum(1 for r in reqs if r in ("full", "av"))
    assert (f.coverage.cases, f.coverage.steps, f.coverage.flagged_steps) == (4, 8, 4 * flagged_kinds)
    assert (f.coverage.ok, f.coverage.flagged) == ((0, 4) if flagged_kinds else (4, 0))
    assert any("金额未知" in n for n in f.notes)
    # the 2025 decision is 2025's alone
    last = _compute(planted, 2025)
    assert last.decisions == 1 and last.amounts.total_fen == 70_000 and _counts(last.by_kind) == {"罚款": 1}


def test_reviews_are_the_rounds_submitted_in_the_year(planted: Planted) -> None:
    year = dt.datetime.now(ZoneInfo("Asia/Shanghai")).year  # rounds are submitted now: the clock's year
    f = _compute(planted, year, today=dt.date(year + 1, 1, 10))
    assert (f.reviews.rounds, f.reviews.decided, f.reviews.open) == (2, 2, 0)
    assert _counts(f.reviews.by_outcome) == {"同意": 1, "补充材料": 1}
    assert _compute(planted, year, units=(planted.other,)).reviews.rounds == 0


def test_a_decision_document_that_states_no_decision_is_counted_apart(planted: Planted, tmp_path: Path) -> None:
    w = planted.world
    pdf = tmp_path / "决定书.pdf"
    pdf.write_bytes(tiny_pdf("no decision stated"))
    records.add_version(w.archive, case_id=_case(w, planted.other, OTHER_UNIT), actor=actor("handler"), kind="决定书",
                        title="决定书", path=pdf, file_name=pdf.name)
    year = dt.datetime.now(ZoneInfo("Asia/Shanghai")).year  # recorded now: counted by the day it was recorded
    f = _compute(planted, year, units=(planted.other,))
    assert f.unstated_documents == 1 and any("未载明决定内容" in n for n in f.notes)
    assert _compute(planted, year).unstated_documents == 0  # the other unit's, not UNIT's


# ---------------------------------------------------------------------------- through the API


def _client(w: ReviewWorld, username: str) -> TestClient:
    with w.archive.sessions.begin() as db:
        u = db.scalars(select(User).where(User.username == username)).one()
        token = accounts.issue_api_token(db, w.archive.custody, user=u, name="figures", actor="test")
    c = TestClient(create_app(w.archive))
    c.headers["Authorization"] = f"Bearer {token}"
    return c


def test_a_units_user_never_sees_another_units_numbers(planted: Planted) -> None:
    w = planted.world
    other = _client(w, OTHER_REVIEWER)
    r = other.get(f"{API}/figures", params={"year": 2026})
    assert r.status_code == 200, r.text
    got = r.json()["figures"]
    assert got["decisions"] == 2 and got["amounts"]["total_fen"] == 99_900
    assert [u["code"] for u in got["units"]] == [OTHER_UNIT]
    assert UNIT not in r.text and "东城区" not in r.text
    with w.archive.sessions() as db:
        seq = db.scalar(select(CustodyEvent.seq).order_by(CustodyEvent.seq.desc()).limit(1))
    for path in ("/figures", "/figures.csv"):
        r = other.get(f"{API}{path}", params={"year": 2026, "unit": UNIT})
        assert r.status_code == 404 and r.json()["code"] == "unknown_unit"
    r = other.post(f"{API}/figures/approve", json={"year": 2026, "unit": UNIT})
    assert r.status_code == 404
    with w.archive.sessions() as db:
        denied = list(db.scalars(select(CustodyEvent).where(CustodyEvent.seq > seq,
                                                            CustodyEvent.action == "access_denied")))
    assert len(denied) == 3 and all(e.actor == actor(OTHER_REVIEWER) for e in denied)


def test_the_csv_parses_back_and_no_cell_starts_a_formula(planted: Planted) -> None:
    r = _client(planted.world, OTHER_REVIEWER).get(f"{API}/figures.csv", params={"year": 2026, "unit": OTHER_UNIT})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == list(figures.CSV_HEADER)
    cells = [c for row in rows for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    table = {(row[0], row[1]): row[3] for row in rows[1:]}
    assert table[("summary", "decisions")] == "2" and table[("summary", "amount_total_yuan")] == "999.00"
    assert table[("kind", "'=HYPERLINK(\"http://x\")")] == "1" and table[("kind", "罚款")] == "1"
    assert table[("unit", OTHER_UNIT)] == "2"


# ---------------------------------------------------------------------------- approval and the public site


def _public(w: ReviewWorld, path: str) -> tuple[int, str]:
    r = TestClient(create_app(w.archive)).get(path)
    return r.status_code, r.text


def _approve(p: Planted, today: dt.date = AS_OF) -> FiguresApproval:
    w = p.world
    with w.archive.sessions.begin() as db:
        from auth.models import Unit

        a = figures.approve(db, w.archive.custody, w.settings, w.archive.store, unit=db.get_one(Unit, p.unit),
                            year=2026, actor=actor(REVIEWER), today=today)
        db.expunge(a)
        return a


def test_only_approved_figures_are_public_and_approval_freezes_them(planted: Planted, tmp_path: Path) -> None:
    w = planted.world
    status, page = _public(w, "/public/figures/2026")
    assert status == 404 and "尚未公开" in page
    assert "2026年" not in _public(w, "/public/figures")[1]
    with pytest.raises(FiguresNotFinal):
        _approve(planted, today=dt.date(2026, 12, 31))
    first = _approve(planted)
    assert first.supersedes_id is None and json.loads(first.snapshot)["decisions"] == 4
    with w.archive.sessions() as db:
        ev = db.scalars(select(CustodyEvent).where(CustodyEvent.action == "figures_approved")).one()
        detail = json.loads(ev.detail)
        assert detail["sha256"] == first.sha256 and detail["year"] == 2026 and detail["late"] is False
        assert "bound" in detail
    status, page = _public(w, "/public/figures/2026")
    assert status == 200 and "东城区市场监督管理局" in page and "执法决定总数" in page and "4 件" in page
    assert "13,000.00 元" in page
    assert "西城区" not in page  # never approved: not public
    for internal in (UNIT, OTHER_UNIT, f"/{first.id}", "figures_id", "sha256", first.sha256):
        assert internal not in page
    listing = _public(w, "/public/figures")[1]
    assert 'href="/public/figures/2026"' in listing and "东城区市场监督管理局" in listing
    # a later decision changes the live figures, not the public page, until approved again
    _form(w, _case(w, planted.unit, UNIT), "罚款", "2026-10-09", amount="100")
    r = _client(w, REVIEWER).get(f"{API}/figures", params={"year": 2026, "unit": UNIT})
    assert r.json()["figures"]["decisions"] == 5
    assert r.json()["approval"]["id"] == first.id and r.json()["approval"]["changed_since"] is True
    assert "4 件" in _public(w, "/public/figures/2026")[1]
    second = _approve(planted)
    assert second.supersedes_id == first.id and json.loads(second.snapshot)["decisions"] == 5
    assert "5 件" in _public(w, "/public/figures/2026")[1]
    r = _client(w, REVIEWER).get(f"{API}/figures", params={"year": 2026, "unit": UNIT}).json()
    assert r["approval"]["id"] == second.id and [h["id"] for h in r["history"]] == [first.id]
    with w.archive.sessions() as db:
        assert len(figures.approvals(db, unit_id=planted.unit, year=2026)) == 2
    # the static export is the same pages, but for the links
    with w.archive.sessions() as db:
        done = export(db, w.settings, tmp_path / "site")
    assert done.figure_years == 1
    live_index, live_year = _public(w, "/public/figures")[1], _public(w, "/public/figures/2026")[1]
    assert _links(live_index) == _links((tmp_path / "site" / "figures.html").read_text(encoding="utf-8"))
    assert _links(live_year) == _links((tmp_path / "site" / "figures-2026.html").read_text(encoding="utf-8"))
    assert 'href="figures-2026.html"' in (tmp_path / "site" / "figures.html").read_text(encoding="utf-8")


def _links(page: str) -> str:
    page = re.sub(r'href="/public/figures/([0-9]+)"', r'href="year:\1"', page)
    page = re.sub(r'href="figures-([0-9]+)\.html"', r'href="year:\1"', page)
    for live, static in (("/public/figures", "figures.html"), ("/public/notices", "index.html"),
                         ("/public/officers", "officers.html"), ("/public/powers", "powers.html")):
        page = page.replace(f'href="{live}"', f'href="{static}"')
    return page


def test_approval_rows_are_bound_to_the_log(planted: Planted) -> None:
    from archive.verify import Report
    from integrity.bindings import BINDINGS, check_rows

    assert "publication_figures" in {b.name for b in BINDINGS}
    w = planted.world
    _approve(planted)
    report = Report()
    check_rows(w.archive, report)
    bad = [f for f in report.failures if f.kind in ("row_unbound", "row_changed", "row_deleted")]
    assert bad == [], [f.detail for f in bad]
    with w.archive.sessions.begin() as db:  # the frozen snapshot changed below liuhen: named
        a = db.scalars(select(FiguresApproval).order_by(FiguresApproval.id.desc())).first()
        assert a is not None
        kept, a.snapshot = a.snapshot, a.snapshot.replace('"decisions":', '"decisions":1')
    report = Report()
    check_rows(w.archive, report)
    assert [f.kind for f in report.failures if "publication_figures" in f.detail] == ["row_changed"]
    with w.archive.sessions.begin() as db:
        got = db.scalars(select(FiguresApproval).order_by(FiguresApproval.id.desc())).first()
        assert got is not None
        got.snapshot = kept


def test_the_public_pages_are_pure_functions_of_public_values() -> None:
    f = site.PublicFigures(agency="某局", year=2030, approved_on=dt.date(2031, 1, 20), figures={
        "decisions": 1, "amounts": {"total_fen": 12345, "stated": 1, "not_stated": 0, "unknown": 0},
        "reviews": {"rounds": 0, "decided": 0, "overdue": 0, "by_outcome": []},
        "coverage": {"cases": 1, "ok": 1, "flagged": 0}, "notices": 1, "as_of": "2031-01-20",
        "by_kind": [{"key": "<script>", "label": "<script>", "count": 1}], "by_category": [], "by_status": []})
    page = site.figures_year_page(2030, [f], site.live_links())
    assert "<script>" not in page and "&lt;script&gt;" in page and "123.45 元" in page
    assert site.figures_index_page([f], site.static_links(0)).count('href="figures-2030.html"') == 1


def test_the_console_page_draws_the_figures_and_the_approval_state(planted: Planted) -> None:
    w = planted.world
    _approve(planted)
    _approve(planted)  # (in force: the latest; the one before it is history)
    f = _compute(planted, today=dt.datetime.now(ZoneInfo("Asia/Shanghai")).date())
    c = _client(w, REVIEWER)
    r = c.get("/publication/figures", params={"year": 2026, "unit": UNIT}, headers={"Accept": "text/html"})
    assert r.status_code == 200, r.text[:300]
    page = r.text
    for chart_id, label in (("kind", "按决定种类"), ("status", "公示情况"), ("outcome", "法制审核结论")):
        assert f'id="chart-{chart_id}" class="chart" role="img" aria-label="{label}"' in page
        assert f'id="table-{chart_id}"' in page  # the table beside the chart says the same
    assert f'<g data-key="罚款" data-count="{_counts(f.by_kind)["罚款"]}">' in page
    assert '<g data-key="逾期公示" data-count="1">' in page and '<g data-key="已撤回" data-count="1">' in page
    assert f'id="pf-decisions" data-count="{f.decisions}"' in page and 'id="pf-approved"' in page
    assert 'data-changed="no"' in page and 'id="pf-approve"' in page and 'id="pf-history"' in page
    assert 'href="/publication/figures?year=2026&amp;unit=' in page and "format=csv" in page
    csv_page = c.get("/publication/figures", params={"year": 2026, "unit": UNIT, "format": "csv"})
    assert csv_page.headers["content-type"].startswith("text/csv") and csv_page.content.startswith("\ufeff".encode())
    # the console's approval of a year that has not ended is refused with the reason, nothing written
    year = dt.datetime.now(ZoneInfo("Asia/Shanghai")).year
    with w.archive.sessions() as db:
        before = len(figures.approvals(db, unit_id=planted.unit, year=year))
    r = c.post("/publication/figures/approve", data={"csrf": "", "year": str(year), "unit": UNIT},
               follow_redirects=False)
    assert r.status_code == 303 and "error=figures_not_final" in r.headers["location"]
    assert "该年度尚未结束" in c.get(r.headers["location"], headers={"Accept": "text/html"}).text
    with w.archive.sessions() as db:
        assert len(figures.approvals(db, unit_id=planted.unit, year=year)) == before
    # another unit's figures: 404, as if the unit did not exist
    other = _client(w, OTHER_REVIEWER).get("/publication/figures", params={"year": 2026, "unit": UNIT},
                                           headers={"Accept": "text/html"})
    assert other.status_code == 404 and "东城区" not in other.text
