"""Legal review's core, on SQLite and PostgreSQL: the catalogue, the gate (service and database),
rounds and resubmission, pinned materials, pre-filled elements, separation of duties."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from archive.verify import Report
from cases import records
from cases.service import get_case
from hashing.models import CustodyEvent
from integrity.bindings import check_rows
from liuhen import config
from review import service
from review.catalogue import judge, parse_amount, proposal_hash
from review.errors import ReviewConflict, ReviewError, ReviewRequired
from review.models import ReviewCase, ReviewDecision, ReviewRound
from tests.review_world import (
    HANDLER,
    NOVICE,
    OFFICER_REVIEWER,
    REVIEWER,
    B,
    ReviewWorld,
    actor,
)

DB_ERRORS = (IntegrityError, DBAPIError)
SETTINGS = config.Settings()


def bindings_clean(w: ReviewWorld) -> None:
    report = Report()
    check_rows(w.archive, report)
    bad = [f for f in report.failures if f.kind in ("row_unbound", "row_changed", "row_deleted")]
    assert bad == [], [f.detail for f in bad]


# ---------------------------------------------------------------------------- the catalogue


@pytest.mark.parametrize(("kind", "amount", "level", "hearing", "major"), [
    ("吊销许可证", None, "county", False, True),
    ("责令停产停业", None, "city", False, True),
    ("罚款", 1_000_000, "county", False, True),  # 10,000 yuan at a county unit: 较大数额
    ("罚款", 999_999, "county", False, False),
    ("罚款", 1_000_000, "city", False, False),  # a city unit's threshold is 50,000 yuan
    ("罚款", 5_000_000, "city", False, True),
    ("警告", None, "county", True, True),  # decided after a hearing
    ("警告", None, "county", False, False),
])
def test_the_catalogue_makes_a_decision_major_or_not(kind: str, amount: int | None, level: str, hearing: bool,
                                                     major: bool) -> None:
    r = config.ReviewSettings(unit_levels={"X": level})  # type: ignore[dict-item]
    m = judge(r, category="行政处罚", unit_code="X", decision_kind=kind, amount_fen=amount, hearing=hearing)
    assert m.major is major
    assert bool(m.reasons) is major
    if major:
        assert all(x.startswith("目录：") for x in m.reasons)


def test_a_hand_mark_wins_over_the_catalogue_and_says_why() -> None:
    m = judge(SETTINGS.review, category="行政处罚", unit_code="X", decision_kind="警告", amount_fen=None,
              hearing=False, mark=(True, "涉及重大公共利益"))
    assert m.major and "涉及重大公共利益" in m.reasons[0]
    m = judge(SETTINGS.review, category="行政处罚", unit_code="X", decision_kind="吊销许可证", amount_fen=None,
              hearing=False, mark=(False, "集体讨论认定"))
    assert not m.major


def test_amounts_and_the_decision_hash() -> None:
    assert parse_amount("1.2万") == 1_200_000
    assert parse_amount("12,000.50元") == 1_200_050
    assert parse_amount("") is None
    with pytest.raises(ReviewError, match="不是数字"):
        parse_amount("一万")
    # re-typed line breaks are not a different decision; another word or amount is
    assert proposal_hash("罚款", "罚款 一万元\n整", 100) == proposal_hash("罚款", "罚款 一万元 整", 100)
    assert proposal_hash("罚款", "罚款一万元", 100) != proposal_hash("罚款", "罚款两万元", 100)
    assert proposal_hash("罚款", "罚款一万元", 100) != proposal_hash("罚款", "罚款一万元", 200)


def test_a_catalogue_rule_without_a_condition_is_refused_at_load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "config.toml"
    cfg.write_text('[[review.catalogue]]\nlabel = "一切"\n', encoding="utf-8")
    with pytest.raises(Exception, match="gives no condition"):
        config.load(cfg, environ={})


# ---------------------------------------------------------------------------- the gate


def test_a_minor_case_decides_without_review(review_world: ReviewWorld) -> None:
    w = review_world
    cid = w.case(category="行政检查", steps=(("立案", "20200101090000", ("000123",)),))
    w.step(cid, "决定")
    with w.archive.sessions() as db:
        assert db.get(ReviewCase, cid) is not None and not db.get(ReviewCase, cid).major  # type: ignore[union-attr]


def test_a_major_case_cannot_decide_without_review_by_service_or_database(review_world: ReviewWorld) -> None:
    w = review_world
    cid = w.case()  # a hearing was held: major by the catalogue
    with pytest.raises(ReviewRequired, match="未经法制审核不得作出决定"):
        w.step(cid, "决定")
    with pytest.raises(ReviewRequired):
        w.form(cid, "决定书", {"decision": "吊销当事人食品经营许可证"})
    with w.archive.sessions() as db:
        assert db.get(ReviewCase, cid).major  # type: ignore[union-attr]
        case_no = get_case(db, cid).number
    # below the service: the database refuses a decision step of a major case
    with pytest.raises(DB_ERRORS, match="legal review"):
        with w.archive.engine.begin() as conn:
            conn.execute(text("INSERT INTO case_steps (case_id, kind, started_at, ended_at, officers, created_at, "
                              "created_by) VALUES (:c, '决定', '2020-01-05T00:00:00.000000+00:00', "
                              "'2020-01-05T01:00:00.000000+00:00', '[]', '2020-01-05T00:00:00.000000+00:00', 'x')"),
                         {"c": cid})
    assert case_no


def test_after_a_failing_outcome_the_decision_is_refused(review_world: ReviewWorld) -> None:
    w = review_world
    cid = w.case()
    rid = w.submit(cid)
    w.open(rid)
    w.answer_all(rid, failing=("证据确凿充分合法",))
    w.decide(rid, "不同意", opinion="证据不足，不同意作出吊销决定。")
    with pytest.raises(ReviewRequired, match="不同意"):
        w.step(cid, "决定")
    # the database refuses a decision row for a round that did not pass, whatever hash it carries
    with w.archive.sessions() as db:
        rnd = db.get(ReviewRound, rid)
        assert rnd is not None and rnd.final_sha256 is None
    with pytest.raises(DB_ERRORS, match="latest round"):
        with w.archive.sessions.begin() as db:
            db.add(ReviewDecision(case_id=cid, round_id=rid, what="step", kind="决定", decision_sha256="0" * 64,
                                  recorded_by="x"))
            db.flush()


def test_a_passing_review_of_a_different_proposal_does_not_admit_another_decision(review_world: ReviewWorld) -> None:
    w = review_world
    cid = w.case()
    w.review(cid, "同意", proposal=w.proposal(content="吊销当事人食品经营许可证"))
    with pytest.raises(ReviewRequired, match="不一致"):
        w.form(cid, "决定书", {"decision": "责令当事人停业整顿三个月"})
    # the database compares the declared hash with the reviewed one
    with w.archive.sessions() as db:
        rnd = service.latest_round(db, cid)
        assert rnd is not None
    with pytest.raises(DB_ERRORS, match="latest round"):
        with w.archive.sessions.begin() as db:
            db.add(ReviewDecision(case_id=cid, round_id=rnd.id, what="record", kind="决定书",
                                  decision_sha256=proposal_hash("吊销许可证", "责令当事人停业整顿三个月", None),
                                  recorded_by="x"))
            db.flush()
    # the reviewed decision, re-typed with other line breaks, passes; so does the 决定 step
    w.form(cid, "决定书", {"decision": "吊销当事人\n食品经营许可证"})
    w.step(cid, "决定")
    with w.archive.sessions() as db:
        rows = list(db.scalars(select(ReviewDecision).where(ReviewDecision.case_id == cid)))
        assert sorted(r.what for r in rows) == ["record", "step"]
        assert all(r.decision_sha256 == rnd.final_sha256 for r in rows)
    bindings_clean(w)


def test_a_changed_proposal_admits_only_the_changed_decision(review_world: ReviewWorld) -> None:
    w = review_world
    cid = w.case()
    changed = w.proposal(kind="罚款", content="罚款人民币五万元", amount_fen=5_000_000)
    w.review(cid, "变更", changed=changed)
    with pytest.raises(ReviewRequired):
        w.form(cid, "决定书", {"decision": "吊销当事人食品经营许可证"})  # the original proposal: not what was agreed
    w.form(cid, "决定书", {"decision": "罚款人民币五万元", "decision_kind": "罚款", "amount": "50000"})


def test_resubmission_keeps_earlier_rounds_and_a_decided_round_never_changes(review_world: ReviewWorld) -> None:
    w = review_world
    cid = w.case()
    r1 = w.submit(cid)
    with pytest.raises(ReviewError, match="尚未结束"):
        w.submit(cid)  # one open round at a time
    w.open(r1)
    w.answer_all(r1, failing=("事实清楚",))
    w.decide(r1, "补充材料", opinion="请补充现场检查录像。")
    r2 = w.submit(cid, w.proposal(content="吊销当事人食品经营许可证（补充材料后）"))
    with w.archive.sessions() as db:
        rounds = service.rounds_of(db, cid)
        assert [(r.round_no, r.outcome) for r in rounds] == [(1, "补充材料"), (2, None)]
        assert rounds[0].opinion == "请补充现场检查录像。" and rounds[1].id == r2
    w.open(r2)  # the reviewer who asked for 补充材料 (and filed its opinion) reviews the resubmission
    with pytest.raises(DB_ERRORS, match="never change"):
        with w.archive.engine.begin() as conn:
            conn.execute(text("UPDATE review_rounds SET outcome = '同意' WHERE id = :i"), {"i": r1})
    with pytest.raises(DB_ERRORS, match="never"):
        with w.archive.engine.begin() as conn:
            conn.execute(text("UPDATE review_rounds SET content = 'x' WHERE id = :i"), {"i": r2})
    with pytest.raises(DB_ERRORS, match="never deleted"):
        with w.archive.engine.begin() as conn:
            conn.execute(text("DELETE FROM review_rounds WHERE id = :i"), {"i": r1})


def test_pinned_materials_report_a_later_change(review_world: ReviewWorld) -> None:
    w = review_world
    cid = w.case()
    rid = w.submit(cid)
    with w.archive.sessions() as db:
        rnd = service.get_round(db, rid)
        assert service.changes_since(db, w.settings, rnd) == []
        pinned = json.loads(rnd.materials)
        assert {r["kind"] for r in pinned["records"]} == {"立案审批表", "询问笔录"}
        assert rnd.materials_sha256 and len(rnd.materials_sha256) == 64
        record_id = next(r["record_id"] for r in pinned["records"] if r["kind"] == "询问笔录")
    records.add_form(w.archive, case_id=cid, actor=actor(HANDLER), kind="询问笔录", record_id=record_id,
                     fields={key: "改过的" + label for key, label in records.FORMS["询问笔录"]})
    w.form(cid, "现场检查笔录")
    with w.archive.sessions() as db:
        changes = service.changes_since(db, w.settings, service.get_round(db, rid))
    assert any("第 1 版，现为第 2 版" in c for c in changes), changes
    assert any("新增文书" in c and "现场检查笔录" in c for c in changes), changes


# ---------------------------------------------------------------------------- liuhen's own findings


def test_prefill_is_right_for_a_good_case(review_world: ReviewWorld) -> None:
    w = review_world
    # 立案 and 调查 (text records suffice), a fine above the county threshold: major, nothing to flag
    cid = w.case(steps=(("立案", "20200101090000", ("000123",)), ("调查", "20200102090000", ("000123",))))
    rid = w.submit(cid, w.proposal(kind="罚款", content="罚款人民币二万元", amount_fen=2_000_000))
    w.open(rid)
    with w.archive.sessions() as db:
        answers = service.answers_of(db, service.get_round(db, rid))
    assert answers["执法资格"].prefill == "yes", answers["执法资格"].prefill_reason
    assert answers["程序合法"].prefill == "yes", answers["程序合法"].prefill_reason
    assert answers["文书规范齐备"].prefill == "yes", answers["文书规范齐备"].prefill_reason
    assert answers["事实清楚"].prefill is None  # a person judges the facts


def test_prefill_names_an_expired_certificate_a_flagged_step_and_a_missing_document(review_world: ReviewWorld) -> None:
    w = review_world
    cid = w.case(steps=(("立案", "20200101090000", ("000123",)), ("调查", "20200102090000", (B,)),
                        ("现场检查", "20200102140000", ("000123",)), ("听证", "20200103090000", ("000123",))),
                 documents=("立案审批表",))
    rid = w.submit(cid)
    w.open(rid)
    with w.archive.sessions() as db:
        answers = service.answers_of(db, service.get_round(db, rid))
    qual = answers["执法资格"]
    assert qual.prefill == "no" and "ZF-11010100456" in qual.prefill_reason and "2019-12-31" in qual.prefill_reason
    proc = answers["程序合法"]
    assert proc.prefill == "no" and "现场检查" in proc.prefill_reason  # an AV step with nothing linked
    docs = answers["文书规范齐备"]
    assert docs.prefill == "no" and "询问笔录" in docs.prefill_reason


def test_prefill_names_steps_out_of_order(review_world: ReviewWorld) -> None:
    w = review_world
    cid = w.case(steps=(("调查", "20200101090000", ("000123",)), ("立案", "20200102090000", ("000123",)),
                        ("听证", "20200103090000", ("000123",))))
    rid = w.submit(cid)
    w.open(rid)
    with w.archive.sessions() as db:
        proc = service.answers_of(db, service.get_round(db, rid))["程序合法"]
    assert proc.prefill == "no" and "「调查」早于「立案」" in proc.prefill_reason


# ---------------------------------------------------------------------------- who may review


def test_a_handler_an_officer_and_an_unqualified_first_timer_may_not_review(review_world: ReviewWorld) -> None:
    w = review_world
    cid = w.case()
    rid = w.submit(cid)
    with pytest.raises(ReviewConflict, match="参与办理"):
        w.open(rid, by=HANDLER)
    with pytest.raises(ReviewConflict, match="执法人员"):
        w.open(rid, by=OFFICER_REVIEWER)
    with pytest.raises(ReviewConflict, match="法律职业资格"):
        w.open(rid, by=NOVICE)
    # not a penalty decision: the qualification is not required
    other = w.submit(w.case(category="行政许可"), w.proposal(kind="行政许可", content="不予许可"))
    w.open(other, by=NOVICE)
    w.open(rid, by=REVIEWER)


def test_answers_and_outcomes_are_checked(review_world: ReviewWorld) -> None:
    w = review_world
    rid = w.submit(w.case())
    with pytest.raises(ReviewError, match="尚未打开"):
        w.answer_all(rid)
    w.open(rid)
    with pytest.raises(ReviewError, match="理由"):
        with w.archive.sessions.begin() as db:
            service.answer(db, w.archive.custody, w.settings, rnd=service.get_round(db, rid), element="事实清楚",
                           answer="no", comment=" ", actor=actor(REVIEWER))
    with pytest.raises(ReviewError, match="尚有审核要素未作结论"):
        w.decide(rid, "同意")
    w.answer_all(rid, failing=("程序合法",))
    with pytest.raises(ReviewError, match="不能同意"):
        w.decide(rid, "同意")
    with pytest.raises(ReviewError, match="变更须写明"):
        w.decide(rid, "变更")
    with pytest.raises(ReviewError, match="无效"):
        w.decide(rid, "好的")
    w.decide(rid, "纠正", opinion="程序不合法，请纠正。")


def test_every_act_is_a_custody_event_and_bound(review_world: ReviewWorld) -> None:
    w = review_world
    cid = w.case()
    rid = w.review(cid, "同意")
    w.step(cid, "决定")
    with w.archive.sessions() as db:
        events = [e.action for e in db.scalars(select(CustodyEvent).where(
            CustodyEvent.detail.like(f'%"case_id":{cid},%')).order_by(CustodyEvent.seq))]
        notices = service.notices(db, units={w.unit_id})
    for action in ("review_submitted", "review_opened", "review_answered", "review_decided",
                   "review_decision_recorded", "step_added"):
        assert action in events, (action, events)
    assert events.index("review_decided") < events.index("review_decision_recorded")
    assert any(n.round_id == rid and "同意" in n.message for n in notices)
    bindings_clean(w)


# ---------------------------------------------------------------------------- the opinion, filed


def test_the_opinion_is_a_signed_text_record_of_the_case_with_its_chinese_text(review_world: ReviewWorld,
                                                                               tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil
    import subprocess

    from cases.models import TextRecord, TextRecordVersion

    w = review_world
    cid = w.case()
    rid = w.submit(cid)
    w.open(rid)
    w.answer_all(rid, failing=("证据确凿充分合法",))
    w.decide(rid, "补充材料", opinion="请补充听证笔录及现场录像。")
    with w.archive.sessions() as db:
        rnd = service.get_round(db, rid)
        rec = db.get(TextRecord, rnd.opinion_record_id)
        assert rec is not None and rec.case_id == cid and rec.kind == "法制审核意见书"
        v = db.scalars(select(TextRecordVersion).where(TextRecordVersion.record_id == rec.id)).one()
        number = get_case(db, cid).number
        key, version = v.store_key, v.store_version
    assert v.mime == "application/pdf"
    with w.archive.store.open(key, version) as f:
        pdf = f.read()
    assert pdf.startswith(b"%PDF-")
    (tmp_path / "o.pdf").write_bytes(pdf)
    assert shutil.which("pdftotext"), "poppler-utils (pdftotext) is installed by scripts/bootstrap.sh"
    out = subprocess.run(["pdftotext", "-layout", str(tmp_path / "o.pdf"), "-"], capture_output=True, text=True,
                         check=True).stdout
    flat = "".join(out.split())
    assert number in flat and "补充材料" in flat and "请补充听证笔录及现场录像。" in flat
    for element in w.settings.review.elements:
        answer = "不符合" if element == "证据确凿充分合法" else "符合"
        assert element + answer in flat, (element, answer)
    # it verifies like any text record: the archive's signature over its statement, its bytes re-hashed
    checked, problems = records.verify_versions(w.archive)
    assert checked >= 1 and not [p for p in problems if p[0] == rec.id]


def test_the_database_refuses_a_decision_document_of_a_major_case_below_the_service(review_world: ReviewWorld) -> None:
    w = review_world
    cid = w.case()
    with w.archive.sessions() as db:
        assert db.get(ReviewCase, cid).major  # type: ignore[union-attr]
    with pytest.raises(DB_ERRORS, match="legal review"):
        with w.archive.engine.begin() as conn:
            conn.execute(text("INSERT INTO text_records (case_id, kind, title, created_at, created_by) "
                              "VALUES (:c, '决定书', '决定书', '2020-01-05T00:00:00.000000+00:00', 'x')"), {"c": cid})
            rid = conn.execute(text("SELECT max(id) FROM text_records")).scalar_one()
            conn.execute(text("INSERT INTO text_record_versions (record_id, version, sha256, size, mime, file_name, "
                              "store_key, form, manifest, signature, key_id, created_at, created_by) VALUES "
                              "(:r, 1, :h, 1, 'application/pdf', 'x.pdf', 'k', false, :b, :b, 'k', "
                              "'2020-01-05T00:00:00.000000+00:00', 'x')"), {"r": rid, "h": "0" * 64, "b": b"x"})


def test_unreviewed_decisions_are_reported(review_world: ReviewWorld) -> None:
    w = review_world
    cid = w.case(category="行政检查", steps=(("立案", "20200101090000", ("000123",)),))
    w.step(cid, "决定")  # not major then
    with w.archive.sessions.begin() as db:
        service.mark(db, w.archive.custody, w.settings, case=get_case(db, cid), major=True, reason="涉及重大公共利益",
                     actor=actor(REVIEWER))
    with w.archive.sessions() as db:
        found = [x for x in service.unreviewed_decisions(db, w.settings, units={w.unit_id}) if x["case_id"] == cid]
    assert len(found) == 1 and "从未提请法制审核" in found[0]["problem"]


def test_verify_names_a_major_case_lowered_below_liuhen(review_world: ReviewWorld) -> None:
    from review import verify as review_verify

    w = review_world
    cid = w.case()
    with w.archive.sessions() as db:
        number = get_case(db, cid).number
    report = Report()
    assert review_verify.check(w.archive, report) >= 1
    assert not [f for f in report.failures if f.kind == "review_standing_changed" and number in f.detail]
    with w.archive.engine.begin() as conn:
        conn.execute(text("UPDATE review_cases SET major = false WHERE case_id = :c"), {"c": cid})
    report = Report()
    review_verify.check(w.archive, report)
    found = [f for f in report.failures if f.kind == "review_standing_changed" and number in f.detail]
    assert len(found) == 1 and number in found[0].detail and "经过听证" in found[0].detail
    with w.archive.engine.begin() as conn:  # (put it back: the world is shared)
        conn.execute(text("UPDATE review_cases SET major = true WHERE case_id = :c"), {"c": cid})



# ---------------------------------------------------------------------------- ways around the gate, closed

NO_HEARING = (("立案", "20200101090000", ("000123",)), ("调查", "20200102090000", ("000123",)))


def test_a_decision_document_cannot_lower_the_case_below_its_reviewed_proposal(review_world: ReviewWorld) -> None:
    w = review_world
    cid = w.case(steps=NO_HEARING)  # major only by the proposal: a fine of 50,000 yuan at a county unit
    rid = w.submit(cid, w.proposal(kind="罚款", content="罚款人民币五万元", amount_fen=5_000_000))
    w.open(rid)
    w.answer_all(rid, failing=("裁量基准适当",))
    w.decide(rid, "不同意", opinion="裁量过重。")
    for fields in ({"decision": "罚款人民币五万元", "decision_kind": "罚款", "amount": "1"},
                   {"decision": "罚款人民币五万元"}, {"decision": "警告", "decision_kind": "警告"}):
        with pytest.raises(ReviewRequired, match="不同意"):
            w.form(cid, "决定书", fields)
    with w.archive.sessions() as db:
        assert db.get(ReviewCase, cid).major  # type: ignore[union-attr]


def test_no_decision_while_a_round_is_open_even_for_a_lesser_proposal(review_world: ReviewWorld) -> None:
    w = review_world
    cid = w.case(steps=NO_HEARING)
    rid = w.submit(cid, w.proposal(kind="吊销许可证"))
    w.open(rid)
    w.answer_all(rid, failing=("裁量基准适当",))
    w.decide(rid, "纠正", opinion="应当从轻。")
    w.submit(cid, w.proposal(kind="警告", content="警告"))
    with pytest.raises(ReviewRequired, match="尚未结束"):
        w.step(cid, "决定")
    with pytest.raises(DB_ERRORS, match="legal review"):  # the database: a case submitted for review is gated
        with w.archive.engine.begin() as conn:
            conn.execute(text("INSERT INTO case_steps (case_id, kind, started_at, ended_at, officers, created_at, "
                              "created_by) VALUES (:c, '决定', '2020-01-05T00:00:00.000000+00:00', "
                              "'2020-01-05T01:00:00.000000+00:00', '[]', '2020-01-05T00:00:00.000000+00:00', 'x')"),
                         {"c": cid})


def test_a_handler_cannot_mark_their_own_case_not_major(review_world: ReviewWorld) -> None:
    w = review_world
    cid = w.case()
    with w.archive.sessions.begin() as db:
        with pytest.raises(ReviewConflict, match="不能认定其不属于"):
            service.mark(db, w.archive.custody, w.settings, case=get_case(db, cid), major=False, reason="我认为不重大",
                         actor=actor(HANDLER))
        service.mark(db, w.archive.custody, w.settings, case=get_case(db, cid), major=True, reason="涉及公共利益",
                     actor=actor(HANDLER))  # marking it major is anyone's to do


def test_the_opinion_is_filed_only_by_the_decision(review_world: ReviewWorld, tmp_path) -> None:  # type: ignore[no-untyped-def]
    w = review_world
    cid = w.case()
    rid = w.review(cid, "同意")
    with w.archive.sessions() as db:
        opinion_id = service.get_round(db, rid).opinion_record_id
    pdf = tmp_path / "forged.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% not the reviewer's\n")
    with pytest.raises(ReviewRequired, match="不能另行上传或修改"):
        records.add_version(w.archive, case_id=cid, actor=actor(HANDLER), kind="法制审核意见书", title="x", path=pdf,
                            file_name="x.pdf", record_id=opinion_id)
    with pytest.raises(ReviewRequired, match="不能另行上传或修改"):
        records.add_version(w.archive, case_id=cid, actor=actor(HANDLER), kind="法制审核意见书", title="x", path=pdf,
                            file_name="x.pdf")


def test_a_reviewer_of_another_unit_may_not_review(review_world: ReviewWorld) -> None:
    from tests.review_world import OTHER_REVIEWER

    w = review_world
    rid = w.submit(w.case())
    with pytest.raises(ReviewConflict, match="其他单位"):
        w.open(rid, by=OTHER_REVIEWER)


def test_review_standing_cannot_be_deleted_and_a_case_without_one_is_named(review_world: ReviewWorld) -> None:
    from cases.service import create_case
    from review import verify as review_verify

    w = review_world
    cid = w.case()
    with pytest.raises(DB_ERRORS, match="never deleted"):
        with w.archive.engine.begin() as conn:
            conn.execute(text("DELETE FROM review_cases WHERE case_id = :c"), {"c": cid})
    with w.archive.sessions.begin() as db:  # a case with no standing (as before migration 0013), a hearing
        bare = create_case(db, w.archive.custody, w.settings.cases, unit_id=w.unit_id, unit_code="110101-ZF",
                           category="行政处罚", title="迁移前的案件", actor=actor(HANDLER))
        number, bare_id = bare.number, bare.id
    with w.archive.engine.begin() as conn:
        conn.execute(text("INSERT INTO case_steps (case_id, kind, started_at, ended_at, officers, created_at, "
                          "created_by) VALUES (:c, '听证', '2020-01-05T00:00:00.000000+00:00', "
                          "'2020-01-05T01:00:00.000000+00:00', '[]', '2020-01-05T00:00:00.000000+00:00', 'x')"),
                     {"c": bare_id})
    report = Report()
    review_verify.check(w.archive, report)
    found = [f for f in report.failures if f.kind == "review_standing_changed" and number in f.detail]
    assert len(found) == 1 and "holds no review standing" in found[0].detail
