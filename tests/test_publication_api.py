"""Decision notices through the HTTP API, the public site and the command line, on SQLite and PostgreSQL.

The world is ``tests.api_world``'s (districts A and B). An investigator of A opens a 行政处罚 case
against 张三丰 and 某某餐饮管理有限公司 and records its 决定书 with personal data planted in it; the
legal reviewer of A (a publisher) lists the draft with its deadline, sees the masks, masks more,
publishes; an anonymous client finds it on the public site by the organisation's name, with no
personal data and no internal id in the page; it is withdrawn and shows so. The public site is its
own door: every internal route answers nothing to a client without a session."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from api.public import RateLimit
from tests.api_world import BACKENDS, A, World, user_of, world_for
from tests.test_api_rbac import _flat
from tests.test_pii import make_card, make_credit, make_id

API = "/api/v1"
HANDLER, PUBLISHER, AUDITOR = user_of("investigator"), user_of("legal_reviewer"), user_of("auditor")
OTHER = user_of("investigator", "b")
ORG = "某某餐饮管理有限公司"
ID = make_id("110105", dt.date(1979, 2, 28), "317")
BAD_ID = ID[:-1] + ("0" if ID[-1] != "0" else "1")
CARD = make_card("622848", 19, random.Random(7))
CREDIT = make_credit("91110101MA02XYKW3")
ORDER = "20261126000012345678"
FACTS = (f"当事人{ORG}（统一社会信用代码{CREDIT}）法定代表人张三丰（公民身份号码{ID}，手机139 1234 5678，"
         f"住北京市东城区东直门南大街5号2单元301室）未取得食品经营许可经营，收款账户{CARD}，订单号{ORDER}，"
         f"证件号{BAD_ID}（校验位不符）。")
FORM = {"party": f"{ORG}，法定代表人张三丰", "facts": FACTS, "law": "《中华人民共和国食品安全法》第一百二十二条",
        "decision": "没收违法所得，并处罚款人民币五千元", "remedy": "可在六十日内申请行政复议", "decided_on": "2026-11-20",
        "decision_kind": "罚款", "amount": "5000", "doc_number": "京东市监罚〔2026〕88号"}


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          make_clip: Callable[..., Path]) -> Iterator[World]:
    yield from world_for(request, tmp_path_factory, make_clip)


def decided(w: World, form: dict[str, str] | None = None, unit: str = A, who: str = HANDLER) -> dict[str, object]:
    c = w.client(who)
    r = c.post(f"{API}/cases", json={"unit_code": unit, "category": "行政处罚", "title": f"{ORG}无证经营案",
                                     "parties": [{"name": "张三丰", "kind": "person", "id_number": ID},
                                                 {"name": ORG, "kind": "organisation", "id_number": CREDIT}]})
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    r = c.post(f"{API}/cases/{case_id}/forms", json={"kind": "决定书", "fields": form or FORM})
    assert r.status_code == 201, r.text
    listed = w.client(PUBLISHER if unit == A else who).get(f"{API}/publication/notices")
    assert listed.status_code == 200, listed.text
    mine = [n for n in listed.json() if n["case_id"] == case_id]
    assert len(mine) == 1
    return mine[0]


def normalised(page: str) -> str:
    """A page with its links reduced to what they point at, and without the live search form."""
    page = re.sub(r'<form class="search".*?</form>\n', "", page, flags=re.S)
    page = re.sub(r'href="(?:\.\./)?notices/([a-zA-Z0-9-]+)\.html"', r'href="notice:\1"', page)
    page = re.sub(r'href="/public/notices/([a-zA-Z0-9-]+)"', r'href="notice:\1"', page)
    page = re.sub(r'href="(?:\.\./)?index\.html"', 'href="list:1"', page)
    page = re.sub(r'href="(?:\.\./)?page-([0-9]+)\.html"', r'href="list:\1"', page)
    page = re.sub(r'href="/public/notices\?page=([0-9]+)"', r'href="list:\1"', page)
    page = re.sub(r'href="(?:\.\./)?(officers|powers|figures)\.html"', r'href="part:\1"', page)
    page = re.sub(r'href="/public/(officers|powers|figures)"', r'href="part:\1"', page)
    return page.replace('href="/public/notices"', 'href="list:1"')


def test_a_decision_is_drafted_masked_published_found_and_withdrawn(world: World, tmp_path: Path) -> None:
    n = decided(world)
    assert n["state"] == "draft" and n["status"] == "due" and n["days"] == 7
    assert n["decided_on"] == "2026-11-20" and n["due_on"] == "2026-12-01"
    assert n["party"] == f"{ORG}，法定代表人张某" and n["doc_number"] == "京东市监罚〔2026〕88号"
    kinds = {k for _, _, k in n["masks"]["facts"]}  # type: ignore[index]
    assert kinds == {"name", "id_number", "mobile", "address", "bank_card"}
    # the publisher masks more; the auditor may read but not publish; another unit does not see it
    assert world.client(AUDITOR).get(f"{API}/publication/notices/{n['id']}").status_code == 200
    assert world.client(AUDITOR).post(f"{API}/publication/notices/{n['id']}/publish").status_code == 403
    assert world.client(OTHER).get(f"{API}/publication/notices/{n['id']}").status_code == 404
    r = world.client(PUBLISHER).post(f"{API}/publication/notices/{n['id']}/mask",
                                     json={"field": "facts", "text": "食品经营许可"})
    assert r.status_code == 200, r.text
    assert "食品经营许可" not in r.json()["facts"] and "hand" in {k for _, _, k in r.json()["masks"]["facts"]}
    r = world.client(PUBLISHER).post(f"{API}/publication/notices/{n['id']}/publish")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "published" and r.json()["status"] in ("on_time", "late")
    assert world.client(PUBLISHER).post(f"{API}/publication/notices/{n['id']}/publish").status_code == 409
    # an anonymous client finds it by the organisation's name
    anon = world.client()
    found = anon.get("/public/notices", params={"q": "餐饮管理"})
    assert found.status_code == 200 and found.headers["content-type"].startswith("text/html")
    assert "public" in found.headers["cache-control"] and found.headers["etag"]
    assert n["public_no"] in found.text
    assert anon.get("/public/notices", params={"q": "餐饮管理"},
                    headers={"If-None-Match": found.headers["etag"]}).status_code == 304
    page = anon.get(f"/public/notices/{n['public_no']}")
    assert page.status_code == 200
    for secret in (ID, "139 1234 5678", "1234 5678", CARD, "东直门南大街5号", "张三丰", "食品经营许可"):
        assert secret not in page.text
    for kept in (CREDIT, ORDER, BAD_ID, ORG, "北京市东城区", "京东市监罚〔2026〕88号"):
        assert kept in page.text
    # no internal id: not the notice's, the case's, its number, the record's
    with world.archive.sessions() as db:
        from cases.models import Case

        case = db.get(Case, n["case_id"])
        assert case is not None
        assert case.number not in page.text
    hrefs = set(re.findall(r'href="([^"]*)"', page.text))
    # the only links: the site's own parts, no id of anything behind the site
    assert hrefs == {"#main", "/public/notices", "/public/officers", "/public/powers", "/public/figures"}
    assert f'"{n["id"]}"' not in page.text and f"/{n['id']}" not in page.text
    assert "/api/" not in page.text and "/evidence" not in page.text
    # the static export is the same pages
    out = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "app.cli", "--config", str(world.settings.config_path), "publish",
                        "export", "--out", str(out), "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["notices"] >= 1
    assert set(json.loads(r.stdout)) == {"out", "pages", "notices", "officers", "documents", "figure_years"}  # README
    static = (out / "notices" / f"{n['public_no']}.html").read_text(encoding="utf-8")
    assert normalised(static) == normalised(page.text)
    assert normalised((out / "index.html").read_text(encoding="utf-8")) == normalised(anon.get("/public/notices").text)
    # withdrawn: still there, marked so
    r = world.client(PUBLISHER).post(f"{API}/publication/notices/{n['id']}/withdraw",
                                     json={"reason": "行政处罚决定已被复议机关撤销"})
    assert r.status_code == 200 and r.json()["state"] == "withdrawn"
    page = anon.get(f"/public/notices/{n['public_no']}")
    assert page.status_code == 200 and "撤回" in page.text and "行政处罚决定已被复议机关撤销" in page.text
    assert "已撤回" in anon.get("/public/notices", params={"q": ORG}).text


def test_publish_due_lists_overdue_drafts_and_exits_3(world: World) -> None:
    n = decided(world, {**FORM, "decided_on": "2026-03-02", "doc_number": "京东市监罚〔2026〕12号"})
    r = subprocess.run([sys.executable, "-m", "app.cli", "--config", str(world.settings.config_path), "publish",
                        "due", "--json", "--today", "2026-11-26"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 3, r.stderr
    got = {i["public_no"]: i for i in json.loads(r.stdout)["notices"]}
    assert got[str(n["public_no"])]["status"] == "overdue" and got[str(n["public_no"])]["due_on"] == "2026-03-11"
    listed = world.client(PUBLISHER).get(f"{API}/publication/notices", params={"status": "overdue"}).json()
    assert str(n["public_no"]) in {i["public_no"] for i in listed}


def test_publish_due_exits_3_on_a_deadline_the_calendar_cannot_give(world: World) -> None:
    n = decided(world, {**FORM, "decided_on": "2027-06-01", "doc_number": "京东市监罚〔2027〕5号"})
    r = subprocess.run([sys.executable, "-m", "app.cli", "--config", str(world.settings.config_path), "publish",
                        "due", "--json", "--today", "2027-06-02"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 3, r.stderr
    out = json.loads(r.stdout)
    got = {i["public_no"]: i for i in out["notices"]}[str(n["public_no"])]
    assert got["status"] == "deadline_unknown" and got["due_on"] is None
    assert out["counts"]["deadline_unknown"] >= 1


def test_the_public_router_reaches_nothing_internal(world: World) -> None:
    anon = world.client()
    # the doors open to anyone by design, none holding data: health, the API's description, the sign-in page,
    # the choice of language (a cookie)
    open_doors = {"/api/v1/health", "/api/v1/openapi.json", "/api/v1/docs", "/docs/oauth2-redirect", "/login",
                  "/lang/{code}"}
    answered = []
    checked: set[str] = set()
    for _route, full, methods in _flat(world.app.routes):
        if full.startswith(("/public", "/static")) or full in open_doors or not full:
            continue
        checked.add(full)
        path = re.sub(r"\{[^}:]+(:path)?\}", "1", full)
        for method in sorted(methods - {"HEAD"}):
            r = anon.request(method, path, follow_redirects=False)
            if r.status_code < 300 or r.status_code == 304:
                answered.append((method, full, r.status_code))
            elif r.status_code in (302, 303, 307) and "/login" not in r.headers.get("location", ""):
                answered.append((method, full, r.status_code))
    assert answered == []
    assert {"/search", "/audit", "/api/v1/evidence/{evidence_id}", "/api/v1/cases/{case_id}/export"} <= checked
    # the public routes take no session and show only notices
    for path in ("/public/notices", "/public/notices/GS2026-bcdfghjkmn"):
        r = anon.get(path)
        assert r.status_code in (200, 404) and "set-cookie" not in r.headers
    assert anon.get("/public/notices/1").status_code == 404  # an internal id is no public number
    assert anon.get("/public/notices/../api/v1/evidence/1").status_code in (404, 401)


def test_the_rate_limit_and_a_withdrawal_without_reason(world: World) -> None:
    limit = RateLimit(3)
    assert [limit.wait("x", now=t) for t in (0, 1, 2)] == [0, 0, 0]
    assert limit.wait("x", now=3) == pytest.approx(57) and limit.wait("y", now=3) == 0
    assert limit.wait("x", now=60.5) == 0
    n = decided(world, {**FORM, "doc_number": "京东市监罚〔2026〕99号"})
    r = world.client(PUBLISHER).post(f"{API}/publication/notices/{n['id']}/withdraw", json={"reason": "已撤销"})
    assert r.status_code == 409 and r.json()["code"] == "notice_state"
