"""Legal review (法制审核) through the HTTP API and the command line, on SQLite and PostgreSQL.

The world is ``tests.api_world``'s (districts A and B, one user of every role in A, an investigator
in B). On it: the handler (A's investigator) opens a 行政处罚 case and proposes a 罚款 of 20,000
yuan — a major decision by the default catalogue (county level: 10,000 yuan and more). Then, all
through the API: submit → the reviewer's queue → the reviewer opens it (a ``review_opened`` event)
→ answers → 补充材料 → the handler's notice → a second round → 同意 → only now a 决定 step and the
决定书 as reviewed are accepted; before, the decision is refused (409 ``review_required``, a
``review_gate_refused`` custody event). A reviewer who was an officer of one of the case's steps
gets a read-only workspace and 403 ``review_conflict`` for answering and deciding, each refusal an
``access_denied`` event; another unit's round or notice answers 404 exactly like a missing one.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from auth import service as accounts
from auth.models import User
from cases import service as case_service
from hashing.models import CustodyEvent
from review.models import ReviewNotice, ReviewRound
from tests.api_world import BACKENDS, PASSWORD, A, World, user_of, world_for

API = "/api/v1"
HANDLER, REVIEWER, AUDITOR = user_of("investigator"), user_of("legal_reviewer"), user_of("auditor")
OTHER_UNIT = user_of("investigator", "b")
CONFLICTED = "reviewer_officer"  # a legal reviewer of A whose officer number is 张三's (an officer of a step)
CONTENT = "对某商店处以罚款人民币贰万元整"
PROPOSAL = {"decision_kind": "罚款", "content": CONTENT, "legal_basis": "《中华人民共和国行政处罚法》第二十八条",
            "discretion": "一般情节，按裁量基准中档", "amount": "20000", "statement": "事实清楚，证据确凿，拟予处罚"}
DECISION_FORM = {"party": "某商店", "facts": "无证经营", "law": "《中华人民共和国行政处罚法》第二十八条",
                 "decision": CONTENT, "remedy": "六十日内申请复议", "decided_on": "2026-11-26"}
STEP = {"kind": "调查", "started_at": "2026-11-23T09:29:00+08:00", "ended_at": "2026-11-23T10:05:00+08:00",
        "officers": ["000123"]}
DECIDE_STEP = {"kind": "决定", "started_at": "2026-11-26T09:00:00+08:00", "ended_at": "2026-11-26T09:30:00+08:00",
               "officers": ["000321"]}


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          make_clip: Callable[..., Path]) -> Iterator[World]:
    for w in world_for(request, tmp_path_factory, make_clip):
        with w.archive.sessions.begin() as db:
            db.scalars(select(User).where(User.username == REVIEWER)).one().legal_qualification = True
            u = accounts.add_user(db, w.archive.custody, username=CONFLICTED, password=PASSWORD,
                                  role="legal_reviewer", unit_code=A, actor="test", settings=w.settings.auth)
            u.officer_no, u.legal_qualification = "000123", True
            w.tokens[CONFLICTED] = accounts.issue_api_token(db, w.archive.custody, user=u, name="API tests",
                                                            actor="test")
        yield w


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text[:500]}"
    return r.json() if r.content else None


def events(world: World, since: int, action: str | None = None) -> list[CustodyEvent]:
    return [e for e in world.events_since(since) if action is None or e.action == action]


def new_case(world: World, title: str = "某商店无证经营") -> int:
    """A 行政处罚 case of A, built by the handler through the API: an investigation step (张三) with
    张三's recording linked."""
    h = world.client(HANDLER)
    case = ok(h.post(f"{API}/cases", json={"unit_code": A, "category": "行政处罚", "title": title}), 201)
    step = ok(h.post(f"{API}/cases/{case['case_id']}/steps", json=STEP), 201)
    ok(h.post(f"{API}/cases/steps/{step['step_id']}/links", json={"evidence_id": world.evidence["zhangsan"]}), 201)
    return int(case["case_id"])


def filled(kind: str) -> dict[str, str]:
    """Every field of the form ``kind`` filled in."""
    from cases.records import FORMS

    return {key: f"{label}内容" for key, label in FORMS[kind]}


def answer_all(world: World, round_id: int, username: str = REVIEWER, *, no: str | None = None) -> None:
    c = world.client(username)
    for element in world.settings.review.elements:
        body = {"answer": "no", "comment": "缺少询问笔录"} if element == no else {"answer": "yes", "comment": ""}
        ok(c.put(f"{API}/review/rounds/{round_id}/answers/{element}", json=body))


# ---------------------------------------------------------------------------- the whole review


def test_submit_review_ask_for_more_resubmit_agree_then_decide(world: World) -> None:
    h, r = world.client(HANDLER), world.client(REVIEWER)
    case_id = new_case(world)

    catalogue = ok(r.get(f"{API}/review/catalogue"))
    assert "罚款" in catalogue["decision_kinds"] and "补充材料" in catalogue["outcomes"]
    assert len(catalogue["elements"]) == 10 and catalogue["rules"][0]["conditions"]
    standing = ok(h.get(f"{API}/cases/{case_id}/review"))
    assert standing["rounds"] == [] and standing["open_round"] is None

    # submission: a round, due in working days, in the reviewing unit's queue
    since = world.last_seq()
    rnd = ok(h.post(f"{API}/cases/{case_id}/review", json=PROPOSAL), 201)
    assert rnd["round_no"] == 1 and rnd["state"] == "submitted" and rnd["case_id"] == case_id
    assert dt.date.fromisoformat(rnd["due_on"]) > dt.date(2026, 1, 1)
    assert [e.action for e in events(world, since)] == ["review_submitted"]
    standing = ok(h.get(f"{API}/cases/{case_id}/review"))
    assert standing["major"] is True and standing["open_round"] == rnd["round_id"]
    assert standing["decision_allowed"] is False and any("较大数额罚款" in x for x in standing["reasons"])
    queued = ok(r.get(f"{API}/review/queue"))
    mine = [q for q in queued if q["round_id"] == rnd["round_id"]]
    assert len(mine) == 1 and mine[0]["case_id"] == case_id and mine[0]["state"] == "submitted"
    assert mine[0]["amount"] == "20,000.00 元" and mine[0]["workdays_left"] is not None
    assert mine[0]["due_on"] == rnd["due_on"]

    # a decision before the review is over: refused by the gate, 409, and the refusal is an event
    since = world.last_seq()
    refused = h.post(f"{API}/cases/{case_id}/steps", json=DECIDE_STEP)
    assert refused.status_code == 409 and refused.json()["code"] == "review_required", refused.text
    gate = events(world, since, "review_gate_refused")
    assert len(gate) == 1 and gate[0].actor == f"user:{HANDLER}" and gate[0].outcome == "failure"
    assert json.loads(gate[0].detail)["what"] == "step"
    assert all(s["kind"] != "决定" for s in ok(h.get(f"{API}/cases/{case_id}"))["steps"])

    # the reviewer opens it: it is now in review, with liuhen's own findings; a review_opened event
    since = world.last_seq()
    ws = ok(r.get(f"{API}/review/rounds/{rnd['round_id']}"))
    assert ws["may_decide"] is True and ws["refusal"] is None and ws["state"] == "in_review"
    assert ws["reviewer"] == f"user:{REVIEWER}" and ws["case_number"]
    assert [x["evidence_id"] for x in ws["recordings"]] == [world.evidence["zhangsan"]]
    prefilled = {e["element"]: e for e in ws["elements"]}
    assert prefilled["文书规范齐备"]["prefill"] == "no"  # neither 立案审批表 nor 询问笔录 is filed
    opened = events(world, since, "review_opened")
    assert len(opened) == 1 and opened[0].actor == f"user:{REVIEWER}"

    # answers, then 补充材料: the round is decided, the handling unit gets a notice
    answer_all(world, rnd["round_id"], no="文书规范齐备")
    bad = r.put(f"{API}/review/rounds/{rnd['round_id']}/answers/不存在的要素", json={"answer": "yes"})
    assert bad.status_code == 400 and bad.json()["code"] == "review"
    agree_too_soon = r.post(f"{API}/review/rounds/{rnd['round_id']}/decide",
                            json={"outcome": "同意", "opinion": "同意"})
    assert agree_too_soon.status_code == 400, agree_too_soon.text  # an element is not met
    since = world.last_seq()
    first = ok(r.post(f"{API}/review/rounds/{rnd['round_id']}/decide",
                      json={"outcome": "补充材料", "opinion": "请补充询问笔录后重新提请"}))
    assert first["state"] == "decided" and first["outcome"] == "补充材料" and first["final_sha256"] is None
    assert first["opinion_record_id"] is not None
    assert "review_decided" in [e.action for e in events(world, since)]
    notes = ok(h.get(f"{API}/review/notices"))
    mine_n = [n for n in notes if n["round_id"] == rnd["round_id"]]
    assert len(mine_n) == 1 and "补充材料" in mine_n[0]["message"] and mine_n[0]["read_at"] is None
    read = ok(h.post(f"{API}/review/notices/{mine_n[0]['notice_id']}/read"))
    assert read["read_by"] == f"user:{HANDLER}" and read["read_at"] is not None
    assert all(n["notice_id"] != read["notice_id"] for n in ok(h.get(f"{API}/review/notices")))
    assert any(n["notice_id"] == read["notice_id"] for n in ok(h.get(f"{API}/review/notices", params={"all": "true"})))

    # still refused after 补充材料; a decided round is read-only, even for its reviewer
    assert h.post(f"{API}/cases/{case_id}/steps", json=DECIDE_STEP).status_code == 409
    again = ok(r.get(f"{API}/review/rounds/{rnd['round_id']}"))
    assert again["may_decide"] is False and again["outcome"] == "补充材料"

    # the handler adds what was asked for and resubmits: round 2, round 1 kept
    for kind in ("询问笔录", "立案审批表"):
        ok(h.post(f"{API}/cases/{case_id}/forms", json={"kind": kind, "fields": filled(kind)}), 201)
    second = ok(h.post(f"{API}/cases/{case_id}/review", json=PROPOSAL), 201)
    assert second["round_no"] == 2
    ws = ok(r.get(f"{API}/review/rounds/{second['round_id']}"))
    assert ws["may_decide"] is True, ws["refusal"]
    assert {e["element"]: e for e in ws["elements"]}["文书规范齐备"]["prefill"] == "yes", ws["elements"]
    assert [x["round_no"] for x in ws["rounds"]] == [1, 2]
    answer_all(world, second["round_id"])
    agreed = ok(r.post(f"{API}/review/rounds/{second['round_id']}/decide",
                       json={"outcome": "同意", "opinion": "事实清楚，证据确凿，程序合法，同意"}))
    assert agreed["outcome"] == "同意" and agreed["final_sha256"] == agreed["proposal_sha256"]
    standing = ok(h.get(f"{API}/cases/{case_id}/review"))
    assert standing["decision_allowed"] is True and [x["outcome"] for x in standing["rounds"]] == ["补充材料", "同意"]
    assert all(q["round_id"] not in (rnd["round_id"], second["round_id"]) for q in ok(r.get(f"{API}/review/queue")))
    assert {q["round_id"] for q in ok(r.get(f"{API}/review/queue", params={"all": "true"}))} >= {
        rnd["round_id"], second["round_id"]}

    # a 决定书 that is not the decision reviewed: refused, an event; the one reviewed and the 决定 step pass
    since = world.last_seq()
    wrong = h.post(f"{API}/cases/{case_id}/forms", json={"kind": "决定书",
                                                         "fields": {**DECISION_FORM, "decision": "罚款三万元"}})
    assert wrong.status_code == 409 and wrong.json()["code"] == "review_required", wrong.text
    assert [json.loads(e.detail)["what"] for e in events(world, since, "review_gate_refused")] == ["record"]
    ok(h.post(f"{API}/cases/{case_id}/forms", json={"kind": "决定书", "fields": DECISION_FORM}), 201)
    ok(h.post(f"{API}/cases/{case_id}/steps", json=DECIDE_STEP), 201)
    # an uploaded 决定书 states its content with the upload
    pdf = b"%PDF-1.4\n% decision\n%%EOF\n"
    bare = h.post(f"{API}/cases/{case_id}/records", files={"file": ("决定书.pdf", pdf, "application/pdf")},
                  data={"kind": "决定书"})
    assert bare.status_code == 409 and bare.json()["code"] == "review_required", bare.text
    ok(h.post(f"{API}/cases/{case_id}/records", files={"file": ("决定书.pdf", pdf, "application/pdf")},
              data={"kind": "决定书", "decision_content": CONTENT, "decision_kind": "罚款",
                    "decision_amount": "2万"}), 201)


# ---------------------------------------------------------------------------- who may review


def test_a_reviewer_who_was_an_officer_of_the_case_may_read_but_not_review(world: World) -> None:
    h, c = world.client(HANDLER), world.client(CONFLICTED)
    case_id = new_case(world, "回避测试")
    rnd = ok(h.post(f"{API}/cases/{case_id}/review", json=PROPOSAL), 201)

    def denials() -> list[CustodyEvent]:
        return [e for e in events(world, since, "access_denied") if e.actor == f"user:{CONFLICTED}"]

    since = world.last_seq()
    ws = ok(c.get(f"{API}/review/rounds/{rnd['round_id']}"))
    assert ws["may_decide"] is False and "000123" in ws["refusal"] and ws["state"] == "submitted"
    assert not events(world, since, "review_opened")
    assert len(denials()) == 1 and "review conflict" in json.loads(denials()[0].detail)["reason"]

    # opened by a reviewer who may; the conflicted one still may not answer nor decide
    ok(world.client(REVIEWER).get(f"{API}/review/rounds/{rnd['round_id']}"))
    since = world.last_seq()
    for resp in (c.put(f"{API}/review/rounds/{rnd['round_id']}/answers/执法资格", json={"answer": "yes"}),
                 c.post(f"{API}/review/rounds/{rnd['round_id']}/decide", json={"outcome": "补充材料", "opinion": "x"})):
        assert resp.status_code == 403 and resp.json()["code"] == "review_conflict", resp.text
    assert len(denials()) == 2
    assert not events(world, since, "review_answered") and not events(world, since, "review_decided")

    # the handler's role may not decide at all: refused by role, an event
    since = world.last_seq()
    resp = h.post(f"{API}/review/rounds/{rnd['round_id']}/decide", json={"outcome": "同意", "opinion": "x"})
    assert resp.status_code == 403 and resp.json()["code"] == "forbidden"
    assert [e.actor for e in events(world, since, "access_denied")] == [f"user:{HANDLER}"]


def test_another_units_round_and_notice_answer_like_missing_ones(world: World) -> None:
    h = world.client(HANDLER)
    case_id = new_case(world, "单位隔离")
    rnd = ok(h.post(f"{API}/cases/{case_id}/review", json=PROPOSAL), 201)
    b = world.client(OTHER_UNIT)
    missing = 987654321

    def same(path: str, method: str = "GET", **kw: Any) -> None:
        got = []
        for ident in (rnd["round_id"], missing):
            resp = b.request(method, API + path.format(ident), **kw)
            got.append((resp.status_code, resp.json()["code"], re.sub(rf"(?<!\d){ident}(?!\d)", "N",
                                                                       resp.json()["detail"])))
        assert got[0] == got[1] and got[0][0] == 404, got

    with world.archive.sessions.begin() as db:  # a notice to A (as a decision leaves one)
        notice = ReviewNotice(unit_id=world.units[A], case_id=case_id, round_id=rnd["round_id"], message="测试通知")
        db.add(notice)
        db.flush()
        notice_id = notice.id

    since = world.last_seq()
    same("/review/rounds/{}")
    for ident in (rnd["round_id"], missing):  # (B's investigator may not answer at all: refused by role first)
        assert b.put(f"{API}/review/rounds/{ident}/answers/执法资格", json={"answer": "yes"}).status_code == 403
    got = []
    for ident in (notice_id, missing):
        resp = b.post(f"{API}/review/notices/{ident}/read")
        got.append((resp.status_code, resp.json()["code"], resp.json()["detail"].replace(str(ident), "N")))
    assert got[0] == got[1] and got[0][0] == 404, got
    assert notice_id not in [n["notice_id"] for n in ok(b.get(f"{API}/review/notices", params={"all": "true"}))]
    assert notice_id in [n["notice_id"] for n in ok(h.get(f"{API}/review/notices"))]
    assert rnd["round_id"] not in [q["round_id"] for q in ok(b.get(f"{API}/review/queue", params={"all": "true"}))]
    denied = [json.loads(e.detail) for e in events(world, since, "access_denied") if e.actor == f"user:{OTHER_UNIT}"]
    assert [d["reason"] for d in denied] == ["unit", "role", "role", "unit"]  # round, two answers, notice
    foreign_case = b.get(f"{API}/cases/{case_id}/review")
    assert foreign_case.status_code == 404 and foreign_case.json()["code"] == "unknown_case"
    assert b.post(f"{API}/cases/{case_id}/review", json=PROPOSAL).status_code == 404
    assert b.post(f"{API}/cases/{case_id}/review/mark", json={"major": False, "reason": "越权"}).status_code == 404
    with world.archive.sessions() as db:
        assert db.scalar(select(ReviewRound.state).where(ReviewRound.id == rnd["round_id"])) == "submitted"


def test_mark_by_hand_and_the_auditor_reads_but_does_not_act(world: World) -> None:
    h, aud = world.client(HANDLER), world.client(AUDITOR)
    case_id = new_case(world, "人工认定")
    since = world.last_seq()
    marked = ok(h.post(f"{API}/cases/{case_id}/review/mark", json={"major": True, "reason": "涉及重大公共利益"}), 201)
    assert marked["major"] is True and any("涉及重大公共利益" in x for x in marked["reasons"])
    assert [e.action for e in events(world, since)] == ["review_marked"]
    assert ok(aud.get(f"{API}/cases/{case_id}/review"))["major"] is True
    for resp in (aud.post(f"{API}/cases/{case_id}/review/mark", json={"major": False, "reason": "x"}),
                 aud.post(f"{API}/cases/{case_id}/review", json=PROPOSAL)):
        assert resp.status_code == 403
    # a major case marked by hand: its decision step is refused until reviewed
    assert h.post(f"{API}/cases/{case_id}/steps", json=DECIDE_STEP).status_code == 409
    # an amount that is no amount is refused in words, not a server error (and the gate still holds)
    for amount in ("NaN", "Infinity", "1e400"):
        resp = h.post(f"{API}/cases/{case_id}/forms", json={"kind": "决定书", "fields": {**DECISION_FORM,
                                                                                       "amount": amount}})
        assert resp.status_code == 400 and resp.json()["code"] == "review", resp.text
    bad = h.post(f"{API}/cases/{case_id}/review", json={**PROPOSAL, "amount": "1e400"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"


def test_a_console_session_opens_a_round_only_with_its_csrf_token(world: World) -> None:
    """Opening is a change (the round taken into review, an event): a bare GET that any site can make a
    browser send with the session cookie shows the workspace read-only."""
    case_id = new_case(world, "会话打开")
    rnd = ok(world.client(HANDLER).post(f"{API}/cases/{case_id}/review", json=PROPOSAL), 201)
    user = accounts.authenticate(world.archive.sessions, username=REVIEWER, password=PASSWORD,
                                 settings=world.settings.auth)
    with world.archive.sessions.begin() as db:
        token, s = accounts.start_session(db, user=user, ip="10.1.2.3", user_agent="pytest")
        csrf = s.csrf_token
    c = world.client()
    c.cookies.set(world.settings.auth.session_cookie, token)
    since = world.last_seq()
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        ws = ok(c.get(f"{API}/review/rounds/{rnd['round_id']}", headers=headers))
        assert ws["may_decide"] is False and "X-CSRF-Token" in ws["refusal"] and ws["state"] == "submitted"
    assert not events(world, since, "review_opened")
    ws = ok(c.get(f"{API}/review/rounds/{rnd['round_id']}", headers={"X-CSRF-Token": csrf}))
    assert ws["may_decide"] is True and ws["state"] == "in_review"
    assert [e.actor for e in events(world, since, "review_opened")] == [f"user:{REVIEWER}"]


# ---------------------------------------------------------------------------- the command line


def run(capsys: pytest.CaptureFixture[str], world: World, *argv: str) -> tuple[int, str]:
    from app.cli import main

    capsys.readouterr()
    code = main([*argv, "--config", str(world.settings.config_path)])
    return code, capsys.readouterr().out


def last_json(out: str) -> Any:
    return json.loads(out.strip().splitlines()[-1])


def test_cli_catalogue_submit_queue_show_mark(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, world, "review", "catalogue")
    assert code == 0 and "较大数额罚款" in out and "补充材料" in out
    code, out = run(capsys, world, "review", "catalogue", "--json")
    assert code == 0 and last_json(out)["elements"] == list(world.settings.review.elements)

    case_id = new_case(world, "命令行提请")
    code, out = run(capsys, world, "review", "submit", str(case_id), "--kind", "罚款", "--content", CONTENT,
                    "--basis", "《中华人民共和国行政处罚法》第二十八条", "--amount", "1.5万", "--statement", "拟予处罚",
                    "--json")
    assert code == 0, out
    submitted = last_json(out)
    assert submitted["round_no"] == 1 and submitted["amount"] == "15,000.00 元" and submitted["major"] is True
    code, out = run(capsys, world, "review", "submit", str(case_id), "--kind", "罚款", "--content", CONTENT,
                    "--basis", "x", "--statement", "again")
    assert code == 1  # round 1 is still under review

    code, out = run(capsys, world, "review", "queue", "--json")
    assert code == 0 and submitted["round_id"] in [x["round_id"] for x in last_json(out)]
    code, out = run(capsys, world, "review", "queue")
    assert code == 0 and submitted["case_number"] in out

    since = world.last_seq()
    code, out = run(capsys, world, "review", "show", str(submitted["round_id"]), "--json")
    shown = last_json(out)
    assert code == 0 and shown["round_id"] == submitted["round_id"] and shown["state"] == "submitted"
    assert [e.action for e in events(world, since)] == ["review_viewed"]  # shown, not opened
    code, out = run(capsys, world, "review", "show", str(submitted["round_id"]))
    assert code == 0 and CONTENT in out and "执法资格" in out
    code, out = run(capsys, world, "review", "show", "987654321")
    assert code == 1

    # whoever submitted it (this command line's account) handled it: not theirs to mark not major
    code, out = run(capsys, world, "review", "mark", str(case_id), "--not-major", "--reason", "经集体讨论不属于", "--json")
    assert code == 1
    code, out = run(capsys, world, "review", "mark", str(case_id), "--major", "--reason", "涉及重大公共利益", "--json")
    assert code == 0 and last_json(out)["major"] is True
    code, out = run(capsys, world, "review", "mark", str(case_id), "--major", "--reason", "  ")
    assert code == 1


def test_cases_check_reports_a_decision_without_a_passing_review(world: World,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A decision recorded while the case was not major (no proposal yet), then the case is marked major:
    ``liuhen cases check`` reports it and exits 3."""
    case_id = new_case(world, "未经审核的决定")
    with world.archive.sessions.begin() as db:
        c = case_service.get_case(db, case_id)
        case_service.add_step(db, world.archive.custody, world.settings.cases, case=c, kind="决定",
                              started_at=dt.datetime(2026, 11, 24, 9, tzinfo=dt.UTC),
                              ended_at=dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC), actor="test")
    code, out = run(capsys, world, "cases", "check", str(case_id), "--json")
    assert last_json(out)["unreviewed_decisions"] == []
    code, out = run(capsys, world, "review", "mark", str(case_id), "--major", "--reason", "涉及重大公共利益")
    assert code == 0
    code, out = run(capsys, world, "cases", "check", str(case_id), "--json")
    found = last_json(out)["unreviewed_decisions"]
    assert code == 3 and [x["case_id"] for x in found] == [case_id] and found[0]["latest_round"] is None
    code, out = run(capsys, world, "cases", "check", str(case_id))
    assert code == 3 and "法制审核" in out


def test_cli_refuses_an_unreviewed_decision_on_a_major_case_as_an_event(world: World, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    case_id = new_case(world, "命令行决定")
    code, out = run(capsys, world, "review", "mark", str(case_id), "--major", "--reason", "涉及重大公共利益")
    assert code == 0
    since = world.last_seq()
    code, out = run(capsys, world, "cases", "step", str(case_id), "--kind", "决定", "--start",
                    "2026-11-24T09:00:00+08:00", "--end", "2026-11-24T10:00:00+08:00")
    assert code == 1
    pdf = tmp_path / "决定书.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% a decision\n")
    code, out = run(capsys, world, "records", "add", str(case_id), "--kind", "决定书", "--file", str(pdf),
                    "--decision", CONTENT)
    assert code == 1
    refused = [e for e in events(world, since) if e.action == "review_gate_refused"]
    assert [json.loads(e.detail)["what"] for e in refused] == ["step", "record"]
    assert all(e.outcome == "failure" and json.loads(e.detail)["case_id"] == case_id for e in refused)
