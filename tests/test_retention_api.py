"""Retention as users see it: the rules and the report (``/api/v1/retention``, ``liuhen retention``),
an evidence's class set with a reason, its retention in the evidence record (API and ``liuhen show``),
the recompute after a change of ``[retention]``, and reopening a case — through the real app and
the real command line, on SQLite and PostgreSQL.

The test of the recompute changes the rules of every evidence of the module's world: it comes last."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from auth import service as accounts
from cases.models import Case
from cases.service import close_case
from hashing.models import CustodyEvent
from retention.models import RetentionChange, RetentionState
from tests.api_world import PASSWORD
from tests.retention_world import OTHER_UNIT, UNIT, RWorld, local

API = "/api/v1"
DAY = dt.timedelta(days=1)
USERS = {"investigator_a": ("investigator", UNIT), "auditor_a": ("auditor", UNIT),
         "records_a": ("records_manager", UNIT), "records_b": ("records_manager", OTHER_UNIT),
         "operator_a": ("operator", UNIT)}


@dataclass
class Api:
    w: RWorld
    app: Any
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, username: str) -> TestClient:
        c = TestClient(self.app, raise_server_exceptions=True)
        c.headers["Authorization"] = f"Bearer {self.tokens[username]}"
        return c

    def last_seq(self) -> int:
        with self.w.archive.sessions() as db:
            return int(db.scalar(select(func.max(CustodyEvent.seq))) or 0)

    def events_since(self, seq: int) -> list[tuple[str, str, int | None, dict[str, Any]]]:
        with self.w.archive.sessions() as db:
            return [(e.actor, e.action, e.evidence_id, json.loads(e.detail or "{}")) for e in db.scalars(
                select(CustodyEvent).where(CustodyEvent.seq > seq).order_by(CustodyEvent.seq))]


@pytest.fixture(scope="module")
def api(rworld: RWorld) -> Iterator[Api]:
    from app.web import create_app

    a = Api(rworld, create_app(rworld.archive, sweep=False))
    with rworld.archive.sessions.begin() as db:
        for name, (role, unit) in USERS.items():
            u = accounts.add_user(db, rworld.archive.custody, username=name, password=PASSWORD, role=role,
                                  unit_code=unit, actor="test", settings=rworld.settings.auth)
            a.tokens[name] = accounts.issue_api_token(db, rworld.archive.custody, user=u, name="retention tests",
                                                      actor="test")
    yield a


def stamp(t: dt.datetime) -> str:
    return t.astimezone(local("20200101000000").tzinfo).strftime("%Y%m%d%H%M%S")


def ago(days: float) -> dt.datetime:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(days=days)).replace(microsecond=0)


def liuhen(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", "--config", str(cfg), *args],
                          capture_output=True, text=True, timeout=300, cwd=cfg.parent)


def cfg_of(w: RWorld) -> Path:
    return w.folder / "config.toml"


def state(w: RWorld, eid: int) -> RetentionState:
    with w.archive.sessions() as db:
        s = db.get(RetentionState, eid)
        assert s is not None
        db.expunge(s)
        return s


# ---------------------------------------------------------------------------- rules and report


def test_the_rules_answer_with_the_configured_classes_and_where_each_comes_from(api: Api) -> None:
    r = api.client("records_a").get(f"{API}/retention/rules")
    assert r.status_code == 200, r.text
    rules = r.json()
    classes = {c["name"]: c for c in rules["classes"]}
    assert set(classes) == {"unclassified", "important", "case", "permanent"}
    assert classes["unclassified"]["days"] == 180 and classes["unclassified"]["label"] == "未分类"
    assert "公安机关现场执法视音频记录工作规定" in classes["unclassified"]["source"]
    assert classes["important"]["days"] == 1826 and "行政诉讼法" in classes["important"]["source"]
    assert classes["permanent"]["permanent"] is True and classes["permanent"]["days"] is None
    assert classes["unclassified"]["used_for"] == ["default"]
    assert rules["grace_days"] == 30 and rules["require_approval"] is True
    cats = {c["category"]: c for c in rules["case_categories"]}
    assert set(cats) == set(api.w.settings.cases.categories)
    assert all(c["class"] == "case" and c["label"] == "涉案" and not c["configured"] for c in cats.values())
    # the same from the command line
    out = liuhen(cfg_of(api.w), "retention", "rules", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == rules
    text = liuhen(cfg_of(api.w), "retention", "rules")
    assert text.returncode == 0 and "未分类" in text.stdout and "180" in text.stdout


def test_the_report_counts_per_class_and_unit_and_what_falls_due_in_30_and_90_days(api: Api) -> None:
    c = api.client("records_a")
    before = c.get(f"{API}/retention/report").json()
    soon = api.w.fresh(1, recorded=stamp(ago(170)), size=1000)[0]  # 180 days from recording: due in ~10 days
    later = api.w.fresh(1, recorded=stamp(ago(120)), size=2000)[0]  # due in ~60 days
    kept = api.w.fresh(1, recorded=stamp(ago(170)), size=3000)[0]  # due in ~10 days, but an open case keeps it
    api.w.case(link=[kept])
    assert state(api.w, soon).retain_until is not None and state(api.w, later).retain_until is not None
    r = c.get(f"{API}/retention/report")
    assert r.status_code == 200, r.text
    after = r.json()

    def by(part: list[dict[str, Any]], key: str, value: str) -> dict[str, Any]:
        return next((x for x in part if x[key] == value), {"count": 0, "bytes": 0})

    for k, n, b in (("30", 1, 1000), ("90", 2, 3000)):
        assert after["due"][k]["count"] - before["due"][k]["count"] == n, k
        assert after["due"][k]["bytes"] - before["due"][k]["bytes"] == b, k
    assert by(after["due"]["30"]["by_class"], "class", "unclassified")["count"] >= 1
    assert (by(after["by_class"], "class", "unclassified")["count"]
            - by(before["by_class"], "class", "unclassified")["count"]) == 3
    assert (by(after["by_class"], "class", "unclassified")["bytes"]
            - by(before["by_class"], "class", "unclassified")["bytes"]) == 6000
    assert by(after["by_unit"], "unit_code", UNIT)["count"] - by(before["by_unit"], "unit_code", UNIT)["count"] == 3
    assert after["by_keep"]["open_case"] - before["by_keep"]["open_case"] == 1
    assert after["by_keep"]["until"] - before["by_keep"]["until"] == 2
    assert after["pending"] == {"count": 0, "bytes": 0} and after["destroyed"] == {"count": 0, "bytes": 0}
    assert after["units"] == [UNIT]
    # the command line: the same figures (all units), and a small table for a person
    out = liuhen(cfg_of(api.w), "retention", "report", "--json")
    assert out.returncode == 0, out.stderr
    cli = json.loads(out.stdout)
    assert cli["due"]["30"]["count"] == after["due"]["30"]["count"] and cli["units"] is None
    text = liuhen(cfg_of(api.w), "retention", "report")
    assert text.returncode == 0, text.stderr
    assert "30 天内到期" in text.stdout and "unclassified 未分类" in text.stdout and UNIT in text.stdout


def test_the_report_is_limited_to_the_users_units_and_to_those_who_may_see_it(api: Api) -> None:
    api.w.fresh(1)
    r = api.client("records_b").get(f"{API}/retention/report")
    assert r.status_code == 200, r.text
    other = r.json()
    assert other["units"] == [OTHER_UNIT]
    assert other["total"] == {"count": 0, "bytes": 0} and UNIT not in {u["unit_code"] for u in other["by_unit"]}
    assert api.client("auditor_a").get(f"{API}/retention/report").status_code == 200
    seq = api.last_seq()
    r = api.client("investigator_a").get(f"{API}/retention/report")
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    denied = [e for e in api.events_since(seq) if e[1] == "access_denied"]
    assert [(e[0], e[3]["permission"]) for e in denied] == [("user:investigator_a", "retention.view")]


# ---------------------------------------------------------------------------- the class of one evidence


def test_a_class_set_through_the_api_with_a_reason_moves_the_keep_until_and_is_a_custody_event(api: Api) -> None:
    (eid,) = api.w.fresh(1, recorded="20240301093000")
    seq = api.last_seq()
    r = api.client("investigator_a").post(f"{API}/retention/evidence/{eid}/class",
                                          json={"class": "important", "reason": "当事人申请行政复议"})
    assert r.status_code == 200, r.text
    body = r.json()
    want = local("20240301093000") + 1826 * DAY
    assert body["class"] == "important" and body["class_label"] == "重点标记" and body["class_set"] is True
    assert body["keep"] == "until" and dt.datetime.fromisoformat(body["retain_until"]) == want
    assert state(api.w, eid).retain_until == want and state(api.w, eid).class_name == "important"
    events = api.events_since(seq)
    (cls,) = [e for e in events if e[1] == "retention_class_set"]
    assert cls[0] == "user:investigator_a" and cls[2] == eid
    assert cls[3]["reason"] == "当事人申请行政复议" and cls[3]["new"] == "important" and cls[3]["old"] is None
    changed = [e for e in events if e[1] == "retention_changed"]
    assert len(changed) == 1 and changed[0][0] == "user:investigator_a" and changed[0][2] == eid
    assert changed[0][3]["changes"][0][2] == f"until:{want.astimezone(dt.UTC).isoformat()}"
    # back to the default class
    r = api.client("records_a").post(f"{API}/retention/evidence/{eid}/class",
                                     json={"class": "default", "reason": "复议结束"})
    assert r.status_code == 200, r.text
    assert r.json()["class"] == "unclassified" and r.json()["class_set"] is False
    assert state(api.w, eid).retain_until == local("20240301093000") + 180 * DAY


@pytest.mark.parametrize("body", [{"class": "important"}, {"class": "important", "reason": ""},
                                  {"class": "important", "reason": "   "}], ids=["none", "empty", "blank"])
def test_a_class_without_a_reason_is_refused_in_words(api: Api, body: dict[str, str]) -> None:
    (eid,) = api.w.fresh(1)
    before = state(api.w, eid)
    r = api.client("investigator_a").post(f"{API}/retention/evidence/{eid}/class", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_request" and "reason" in r.json()["detail"]
    after = state(api.w, eid)
    assert (after.class_name, after.retain_until) == (before.class_name, before.retain_until)


def test_an_unknown_class_is_refused_naming_the_classes(api: Api) -> None:
    (eid,) = api.w.fresh(1)
    r = api.client("investigator_a").post(f"{API}/retention/evidence/{eid}/class",
                                          json={"class": "十年", "reason": "试一试"})
    assert r.status_code == 409, r.text  # the rules in force define no such class
    assert r.json()["code"] == "unknown_retention_class" and "unclassified (未分类)" in r.json()["detail"]


def test_an_auditor_may_not_classify_and_the_refusal_is_an_event(api: Api) -> None:
    (eid,) = api.w.fresh(1)
    seq = api.last_seq()
    r = api.client("auditor_a").post(f"{API}/retention/evidence/{eid}/class",
                                     json={"class": "permanent", "reason": "越权"})
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    events = api.events_since(seq)
    assert [(e[0], e[1], e[3]["permission"], e[3]["reason"]) for e in events] == [
        ("user:auditor_a", "access_denied", "retention.classify", "role")]
    assert state(api.w, eid).class_name is None


def test_evidence_of_another_unit_answers_like_a_missing_one(api: Api) -> None:
    (eid,) = api.w.fresh(1)
    c = api.client("records_b")
    seq = api.last_seq()
    answers = []
    for target in (eid, 987654321):
        r = c.post(f"{API}/retention/evidence/{target}/class", json={"class": "permanent", "reason": "越界"})
        answers.append((r.status_code, r.json()["code"], r.json()["detail"].replace(str(target), "N")))
    assert answers[0] == answers[1] and answers[0][0] == 404
    assert state(api.w, eid).class_name is None
    actions = [(e[1], e[2]) for e in api.events_since(seq)]
    assert actions == [("access_denied", eid), ("not_found", None)]


# ---------------------------------------------------------------------------- the evidence record


def test_the_evidence_record_carries_its_retention_for_everyone_who_may_view_it(api: Api) -> None:
    (eid,) = api.w.fresh(1, recorded="20240401093000")
    case_id = api.w.case(link=[eid])
    for user in ("investigator_a", "auditor_a", "operator_a"):
        r = api.client(user).get(f"{API}/evidence/{eid}")
        assert r.status_code == 200, r.text
        ret = r.json()["retention"]
        assert ret["class"] == "unclassified" and ret["class_label"] == "未分类"
        assert ret["keep"] == "open_case" and ret["retain_until"] is None
        assert {x["reason"] for x in ret["reasons"]} == {"class", "case"}
        assert [x.get("case_id") for x in ret["reasons"] if x["reason"] == "case"] == [case_id]
        assert ret["holds"] == [] and ret["disposal"] is None


def test_liuhen_show_carries_the_retention_and_classify_sets_it(api: Api) -> None:
    (eid,) = api.w.fresh(1, recorded="20240501093000")
    cfg = cfg_of(api.w)
    out = liuhen(cfg, "retention", "classify", str(eid), "--class", "permanent", "--reason", "重大案件", "--json")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["class"] == "permanent" and got["keep"] == "permanent" and got["change"]["new"] == "permanent"
    out = liuhen(cfg, "show", str(eid), "--json")
    assert out.returncode == 0, out.stderr
    ret = json.loads(out.stdout)["retention"]
    assert ret["class"] == "permanent" and ret["class_label"] == "永久" and ret["keep"] == "permanent"
    assert ret["retain_until"] is None and ret["holds"] == [] and ret["disposal"] is None
    assert [r["reason"] for r in ret["reasons"]] == ["class"]
    text = liuhen(cfg, "show", str(eid))
    assert text.returncode == 0 and "永久" in text.stdout
    out = liuhen(cfg, "retention", "classify", str(eid), "--class", "default", "--reason", "撤销")
    assert out.returncode == 0, out.stderr
    assert "保存至 2024-10-28" in out.stdout  # 180 days from 2024-05-01
    out = liuhen(cfg, "retention", "classify", str(eid), "--class", "nope", "--reason", "x", "--json")
    assert out.returncode == 1 and json.loads(out.stdout.splitlines()[0])["code"] == "unknown_retention_class"


def test_a_standing_hold_and_a_disposal_show_in_the_record_and_the_report(api: Api) -> None:
    """(Holds and disposals are placed here by their rows, each with its custody event, as the holds
    and disposal services do.)"""
    from hashing.binding import bound
    from retention.bindings import DISPOSAL, HOLD, HOLD_ITEM
    from retention.models import Disposal, HoldItem, LegalHold

    held, pending = api.w.fresh(2, recorded=stamp(ago(400)), size=5000)  # both long past 180 days
    custody, rm = api.w.archive.custody, api.client("records_a")
    before = rm.get(f"{API}/retention/report").json()
    with api.w.archive.sessions.begin() as db:
        h = LegalHold(unit_id=api.w.unit_id, scope_kind="evidence", scope=json.dumps({"evidence": [held]}),
                      reason="诉讼保全", placed_by="user:records_a")
        db.add(h)
        db.flush()
        item = HoldItem(hold_id=h.id, evidence_id=held)
        db.add(item)
        db.flush()
        custody.record(db, actor="user:records_a", action="hold_placed", tool="test", tool_version="0",
                       evidence_id=held, detail={"hold_id": h.id, "bound": bound((HOLD, h), (HOLD_ITEM, item))})
        hold_id = h.id
        now = dt.datetime.now(dt.UTC)
        d = Disposal(evidence_id=pending, state="pending", rule="{}", scheduled_by="system:retention",
                     due_at=now + 30 * DAY)
        db.add(d)
        db.flush()
        custody.record(db, actor="system:retention", action="disposal_scheduled", tool="test", tool_version="0",
                       evidence_id=pending, detail={"disposal_id": d.id, "bound": bound((DISPOSAL, d))})
        disposal_id = d.id
    ret = api.client("investigator_a").get(f"{API}/evidence/{held}").json()["retention"]
    assert ret["keep"] == "held" and ret["retain_until"] is None
    assert [(x["hold_id"], x["reason"], x["scope_kind"]) for x in ret["holds"]] == [(hold_id, "诉讼保全", "evidence")]
    assert {"reason": "hold", "hold_id": hold_id, "keep": "held"} in ret["reasons"]
    ret = api.client("investigator_a").get(f"{API}/evidence/{pending}").json()["retention"]
    assert ret["keep"] == "until" and ret["holds"] == []
    assert ret["disposal"]["disposal_id"] == disposal_id and ret["disposal"]["state"] == "pending"
    assert ret["disposal"]["scheduled_by"] == "system:retention" and ret["disposal"]["approved_by"] == []
    out = liuhen(cfg_of(api.w), "show", str(held))
    assert out.returncode == 0, out.stderr
    assert "保全中" in out.stdout and f"保全 hold {hold_id}" in out.stdout and "诉讼保全" in out.stdout
    shown = json.loads(liuhen(cfg_of(api.w), "show", str(pending), "--json").stdout)["retention"]
    assert shown["disposal"]["state"] == "pending"
    after = rm.get(f"{API}/retention/report").json()
    assert after["by_keep"]["held"] - before["by_keep"]["held"] == 1
    assert after["pending"]["count"] - before["pending"]["count"] == 1
    assert after["pending"]["bytes"] - before["pending"]["bytes"] == 5000
    # both were overdue; neither is any more: one is held, the other is already on its way out
    assert before["overdue"]["count"] - after["overdue"]["count"] == 2


# ---------------------------------------------------------------------------- reopening a case


def _close(w: RWorld, case_id: int) -> None:
    with w.archive.sessions.begin() as db:
        c = db.get(Case, case_id)
        assert c is not None
        close_case(db, w.archive.custody, case=c, actor="user:records_a")


def test_a_case_is_reopened_through_the_api_with_a_reason(api: Api) -> None:
    (eid,) = api.w.fresh(1)
    case_id = api.w.case(link=[eid])
    _close(api.w, case_id)
    assert state(api.w, eid).keep == "until"
    c = api.client("investigator_a")
    r = c.post(f"{API}/cases/{case_id}/reopen", json={})
    assert r.status_code == 422 and "reason" in r.json()["detail"]
    seq = api.last_seq()
    r = c.post(f"{API}/cases/{case_id}/reopen", json={"reason": "复议决定撤销重作"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "open"
    assert state(api.w, eid).keep == "open_case"
    events = api.events_since(seq)
    (ev,) = [e for e in events if e[1] == "case_reopened"]
    assert ev[0] == "user:investigator_a" and ev[3]["reason"] == "复议决定撤销重作"
    assert any(e[1] == "retention_changed" and e[3]["reason"] == "case_reopened" for e in events)
    r = c.post(f"{API}/cases/{case_id}/reopen", json={"reason": "再来一次"})
    assert r.status_code == 400 and "not closed" in r.json()["detail"]
    r = api.client("auditor_a").post(f"{API}/cases/{case_id}/reopen", json={"reason": "越权"})
    assert r.status_code == 403
    r = api.client("records_b").post(f"{API}/cases/{case_id}/reopen", json={"reason": "越界"})
    assert r.status_code == 404 and r.json()["code"] == "unknown_case"


def test_a_case_is_reopened_from_the_command_line(api: Api) -> None:
    (eid,) = api.w.fresh(1)
    number = api.w.case_row(api.w.case(link=[eid])).number
    cfg = cfg_of(api.w)
    out = liuhen(cfg, "cases", "close", number, "--json")
    assert out.returncode == 0, out.stderr
    assert state(api.w, eid).keep == "until"
    out = liuhen(cfg, "cases", "reopen", number, "--reason", "法院判决重新处理", "--json")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["number"] == number and got["status"] == "open"
    assert state(api.w, eid).keep == "open_case"
    with api.w.archive.sessions() as db:
        ev = db.scalars(select(CustodyEvent).where(CustodyEvent.action == "case_reopened")
                        .order_by(CustodyEvent.seq.desc()).limit(1)).one()
        assert ev.actor.startswith("cli:") and json.loads(ev.detail)["reason"] == "法院判决重新处理"
    out = liuhen(cfg, "cases", "reopen", number, "--reason", "又一次")
    assert out.returncode == 1 and "not closed" in out.stderr


# ---------------------------------------------------------------------------- recompute (last: new rules)


LONGER = """
[retention]
default_class = "long"

[retention.classes.long]
label = "长期"
days = 400

[retention.classes.unclassified]
label = "未分类"
days = 180

[retention.classes.important]
label = "重点标记"
days = 1826

[retention.classes.case]
label = "涉案"
days = 1826

[retention.classes.permanent]
label = "永久"
permanent = true
"""


def test_a_recompute_after_a_config_change_moves_every_keep_until_and_records_it(api: Api) -> None:
    (eid,) = api.w.fresh(1, recorded="20240601093000")
    (kept,) = api.w.fresh(1, recorded="20240601093000")
    api.w.case(link=[kept])
    assert state(api.w, eid).retain_until == local("20240601093000") + 180 * DAY
    cfg = cfg_of(api.w)
    longer = cfg.parent / "config-longer.toml"
    longer.write_text(cfg.read_text(encoding="utf-8") + LONGER, encoding="utf-8")
    seq = api.last_seq()
    out = liuhen(longer, "retention", "recompute", "--json")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["reason"] == "recompute (config)"
    with api.w.archive.sessions() as db:
        total = int(db.scalar(select(func.count()).select_from(RetentionState)) or 0)
    assert got["evidence"] == total and got["changed"] >= 1 and got["events"]
    want = local("20240601093000") + 400 * DAY
    assert state(api.w, eid).retain_until == want
    assert state(api.w, kept).keep == "open_case"  # an open case still keeps it
    assert [eid, f"until:{(want - 220 * DAY).astimezone(dt.UTC).isoformat()}",
            f"until:{want.astimezone(dt.UTC).isoformat()}"] in got["changes"]
    assert kept not in {c[0] for c in got["changes"]}
    events = [e for e in api.events_since(seq) if e[1] == "retention_changed"]
    assert events and all(e[0].startswith("cli:") and e[3]["reason"] == "recompute (config)" for e in events)
    with api.w.archive.sessions() as db:
        assert sorted(int(s) for s in db.scalars(select(RetentionChange.seq).where(RetentionChange.seq > seq)
                                                 .distinct())) == sorted(got["events"])
    assert sum(e[3]["count"] for e in events) == got["changed"]
    # run again under the same rules: nothing moves, no event
    seq = api.last_seq()
    again = json.loads(liuhen(longer, "retention", "recompute", "--json").stdout)
    assert again["changed"] == 0 and again["events"] == [] and api.events_since(seq) == []
    # the API's recompute (records managers only) under the archive's own rules puts them back, within units
    r = api.client("investigator_a").post(f"{API}/retention/recompute")
    assert r.status_code == 403
    r = api.client("records_a").post(f"{API}/retention/recompute")
    assert r.status_code == 200, r.text
    assert r.json()["changed"] >= 1 and state(api.w, eid).retain_until == local("20240601093000") + 180 * DAY
