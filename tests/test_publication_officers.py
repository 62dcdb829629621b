"""Officers (执法人员公示, 事前公示) on the public site and in its static export, on SQLite and PostgreSQL.

The world is ``tests.api_world``'s (districts A 东城分局 and B 西城分局). Officers are added to the roster
with certificates valid today, expired yesterday, valid from tomorrow, revoked, and one whose officer
is inactive: only the valid ones of active officers are on the list, with name, unit, certificate
number, category, area and the last day of validity; nothing else of the roster (no officer number,
no row id). The live list is searchable by name or number and filterable by unit, paged; the static
export writes the same pages but for links and the search form."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from liuhen.db import utcnow
from publication import export as site_export
from publication import officers as officer_list
from roster import service as roster
from roster.models import Certificate, Officer
from tests.api_world import BACKENDS, A, B, World, world_for

ACTOR = "test:officers"


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          make_clip: Callable[..., Path]) -> Iterator[World]:
    yield from world_for(request, tmp_path_factory, make_clip)


def today(w: World) -> dt.date:
    return utcnow().astimezone(ZoneInfo(w.settings.station.timezone)).date()


def add(w: World, officer_no: str, name: str, unit: str, number: str, valid_from: dt.date, valid_until: dt.date, *,
        revoke: bool = False, active: bool = True) -> None:
    with w.archive.sessions.begin() as db:
        roster.add_officer(db, w.archive.custody, officer_no=officer_no, name=name, unit_id=w.units[unit], actor=ACTOR)
        roster.add_certificate(db, w.archive.custody, officer_no=officer_no, number=number, category="市场监管",
                               area="东城区" if unit == A else "西城区", valid_from=valid_from, valid_until=valid_until,
                               actor=ACTOR)
        if revoke:
            roster.update_certificate(db, w.archive.custody, number=number, actor=ACTOR, revoke=True)
        if not active:
            roster.update_officer(db, w.archive.custody, officer_no=officer_no, actor=ACTOR, active=False)


@pytest.fixture(scope="module")
def roster_today(world: World) -> World:
    t = today(world)
    day = dt.timedelta(days=1)
    add(world, "P10001", "赵有效", A, "GZ11010100001", t - 30 * day, t + 365 * day)
    add(world, "P10002", "钱过期", A, "GZ11010100002", t - 400 * day, t - day)
    add(world, "P10003", "孙未生效", A, "GZ11010100003", t + day, t + 400 * day)
    add(world, "P10004", "李注销", A, "GZ11010100004", t - 30 * day, t + 365 * day, revoke=True)
    add(world, "P10005", "周离岗", A, "GZ11010100005", t - 30 * day, t + 365 * day, active=False)
    add(world, "P10006", "吴今日到期", B, "GZ11010200006", t - 365 * day, t)  # both days included
    add(world, "P10007", "郑今日生效", B, "GZ11010200007", t, t + 10 * day)
    return world


def test_only_valid_certificates_of_active_officers_are_listed(roster_today: World) -> None:
    w = roster_today
    page = w.client().get("/public/officers")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "public" in page.headers["cache-control"] and page.headers["etag"] and "set-cookie" not in page.headers
    for name, number in (("赵有效", "GZ11010100001"), ("吴今日到期", "GZ11010200006"), ("郑今日生效", "GZ11010200007")):
        assert name in page.text and number in page.text
    for name, number in (("钱过期", "GZ11010100002"), ("孙未生效", "GZ11010100003"), ("李注销", "GZ11010100004"),
                         ("周离岗", "GZ11010100005")):
        assert name not in page.text and number not in page.text
    row = re.search(r"<tr><td>赵有效</td>.*?</tr>", page.text)
    assert row is not None
    until = today(w) + dt.timedelta(days=365)
    assert row.group(0) == (f"<tr><td>赵有效</td><td>东城分局</td><td>GZ11010100001</td><td>市场监管</td><td>东城区</td>"
                            f"<td>{until.year}年{until.month}月{until.day}日</td></tr>")
    assert "西城分局" in page.text and page.text.index("东城分局</td>") < page.text.index("西城分局</td>")


def test_no_internal_id_is_on_the_page(roster_today: World) -> None:
    w = roster_today
    page = w.client().get("/public/officers").text
    with w.archive.sessions() as db:
        rows = db.execute(select(Officer.id, Officer.officer_no, Certificate.id)
                          .join(Certificate, Certificate.officer_id == Officer.id)
                          .where(Officer.officer_no.like("P1000%"))).all()
    for officer_id, officer_no, cert_id in rows:
        assert officer_no not in page
        assert f">{officer_id}<" not in page and f">{cert_id}<" not in page and f"={officer_id}" not in page
    assert set(re.findall(r'href="([^"]*)"', page)) == {"#main", "/public/notices", "/public/officers", "/public/powers",
                                                        "/public/figures"}
    assert "/api/" not in page
    # every cell of the table is a public value: name, unit name, number, category, area, date
    for cells in re.findall(r"<tr>((?:<td>[^<]*</td>)+)</tr>", page):
        name, unit, number, category, area, until = re.findall(r"<td>([^<]*)</td>", cells)
        assert unit in ("东城分局", "西城分局") and number.startswith("GZ") and category == "市场监管"
        assert re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日", until) and area in ("东城区", "西城区")


def test_search_by_name_or_number_and_filter_by_unit(roster_today: World) -> None:
    anon = roster_today.client()
    by_name = anon.get("/public/officers", params={"q": "赵有"}).text
    assert "赵有效" in by_name and "吴今日到期" not in by_name and "共 1 条" in by_name
    by_number = anon.get("/public/officers", params={"q": "GZ110102"}).text
    assert "吴今日到期" in by_number and "郑今日生效" in by_number and "赵有效" not in by_number
    in_b = anon.get("/public/officers", params={"unit": "西城分局"}).text
    assert "吴今日到期" in in_b and "赵有效" not in in_b and '<option value="西城分局" selected>' in in_b
    assert "共 0 条" in anon.get("/public/officers", params={"q": "钱过期"}).text
    assert "没有符合条件" in anon.get("/public/officers", params={"q": "100%_"}).text  # LIKE wildcards are text


def test_the_list_pages_and_the_static_export_is_the_same_pages(roster_today: World, tmp_path: Path) -> None:
    w = roster_today
    with w.archive.reads() as db:
        first, total = officer_list.public_officers(db, on=today(w), page=1, size=2)
        second, _ = officer_list.public_officers(db, on=today(w), page=2, size=2)
    assert total >= 3 and len(first) == 2 and second and not set(first) & set(second)
    out = tmp_path / "site"
    with w.archive.sessions() as db:
        done = site_export.export(db, w.settings, out)
    assert done.officers == total
    live = w.client().get("/public/officers").text
    static = (out / "officers.html").read_text(encoding="utf-8")
    assert normalised(static) == normalised(live)
    assert "<form" not in static and 'href="index.html"' in static and 'href="powers.html"' in static


def normalised(page: str) -> str:
    """A page with its links reduced to what they point at, and without the live search form."""
    page = re.sub(r'<form class="search".*?</form>\n', "", page, flags=re.S)
    page = re.sub(r'href="(?:\.\./)?index\.html"', 'href="list:1"', page)
    page = re.sub(r'href="(?:\.\./)?(officers|powers|figures)\.html"', r'href="part:\1"', page)
    page = re.sub(r'href="(?:\.\./)?officers-page-([0-9]+)\.html"', r'href="officers:\1"', page)
    page = re.sub(r'href="/public/officers\?page=([0-9]+)"', r'href="officers:\1"', page)
    page = re.sub(r'href="/public/(officers|powers|figures)"', r'href="part:\1"', page)
    return page.replace('href="/public/notices"', 'href="list:1"')


def test_an_officer_drops_off_when_the_certificate_is_revoked(roster_today: World) -> None:
    w = roster_today
    t = today(w)
    add(w, "P10008", "王将注销", B, "GZ11010200008", t - dt.timedelta(days=1), t + dt.timedelta(days=30))
    assert "王将注销" in w.client().get("/public/officers", params={"q": "王将"}).text
    with w.archive.sessions.begin() as db:
        roster.update_certificate(db, w.archive.custody, number="GZ11010200008", actor=ACTOR, revoke=True)
    assert "王将注销" not in w.client().get("/public/officers", params={"q": "王将"}).text
