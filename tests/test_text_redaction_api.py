"""Release copies of text records (文书脱敏, issue #15 item 6) through the API, on SQLite and PostgreSQL.

A filled form with personal data planted in its fields: the findings name field, kind and exact
span with masked previews; a masking that drops a detected ID number, mobile or bank card is
refused and stores nothing; one that keeps them (and adds a name the detector cannot know, and
drops a false finding) is stored, bound to the custody log, and reads back with nothing detectable
left in it. Another unit's record is 404 like a missing one; an uploaded PDF has only its title.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from cases import records as text_records
from cases import service as case_service
from hashing.models import CustodyEvent
from redaction import pii
from redaction.record_models import TEXT_REDACTION, TextRedaction
from tests.api_world import BACKENDS, A, B, World, user_of, world_for

API = "/api/v1/cases/records"
EDITOR, RELEASER, AUDITOR, FOREIGN = (user_of("investigator"), user_of("legal_reviewer"), user_of("auditor"),
                                      user_of("investigator", "b"))
ID = "11010519900307123" + pii.id_check_char("11010519900307123")
CARD = next(c for d in "0123456789" if pii.luhn(c := "622202123456789012" + d))
PARTY = f"张三丰，公民身份号码{ID}，手机13812345678，住北京市朝阳区建国路88号3号楼1单元502室"
FACTS = f"当事人以银行卡{CARD}收取货款，车牌京A·D12345，罚没款5000元，订单号20240305123456789012。"


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          make_clip: Callable[..., Path]) -> Iterator[World]:
    yield from world_for(request, tmp_path_factory, make_clip)


@pytest.fixture(scope="module")
def record(world: World) -> int:
    with world.archive.sessions.begin() as db:
        c = case_service.create_case(db, world.archive.custody, world.settings.cases, unit_id=world.units[A],
                                     unit_code=A, category="行政处罚", title="脱敏测试", actor="test:pii")
        case_id = c.id
    rec = text_records.add_form(world.archive, case_id=case_id, actor="test:pii", kind="决定书",
                                fields={"party": PARTY, "facts": FACTS, "law": "《行政处罚法》第二十八条",
                                        "decision": "罚款5000元", "remedy": "六十日内申请复议", "decided_on": "2026-11-23"})
    return rec.record_id


def spans(world: World, record: int) -> list[tuple[str, str, str]]:
    r = world.client(EDITOR).get(f"{API}/{record}/versions/1/pii")
    assert r.status_code == 200, r.text
    return [(f["field"], f["kind"], f["preview"]) for f in r.json()["findings"]]


def test_findings_name_field_kind_span_and_a_masked_preview_only(world: World, record: int) -> None:
    since = world.last_seq()
    r = world.client(EDITOR).get(f"{API}/{record}/versions/1/pii")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["document_masked"] is True and body["fields"]["fields.party"] == len(PARTY)
    got = {(f["field"], f["kind"], f["start"], f["end"], f["required"]) for f in body["findings"]}
    addr = "北京市朝阳区建国路88号3号楼1单元502室"
    assert got == {("fields.party", "id_number", PARTY.index(ID), PARTY.index(ID) + 18, True),
                   ("fields.party", "mobile", PARTY.index("138"), PARTY.index("138") + 11, True),
                   ("fields.party", "address", PARTY.index(addr), len(PARTY), False),
                   ("fields.facts", "bank_card", FACTS.index(CARD), FACTS.index(CARD) + 19, True),
                   ("fields.facts", "plate", FACTS.index("京A"), FACTS.index("京A") + 9, False)}
    text = json.dumps(body, ensure_ascii=False)
    assert ID not in text and "13812345678" not in text and CARD not in text  # previews are masked
    events = world.events_since(since)
    assert [e.action for e in events] == ["record_pii_checked"]


def masks_of(world: World, record: int, drop: tuple[str, ...] = ()) -> list[dict[str, object]]:
    r = world.client(EDITOR).get(f"{API}/{record}/versions/1/pii")
    return [{k: f[k] for k in ("field", "start", "end", "kind")} for f in r.json()["findings"] if f["kind"] not in drop]


@pytest.mark.parametrize("kind", ["id_number", "mobile", "bank_card"])
def test_a_detected_id_mobile_or_card_cannot_be_dropped(world: World, record: int, kind: str) -> None:
    masks = masks_of(world, record, (kind,))
    since = world.last_seq()
    r = world.client(EDITOR).post(f"{API}/{record}/redactions", json={"version": 1, "masks": masks, "why": "公示"})
    assert r.status_code == 422 and r.json()["code"] == "text_redaction_refused", r.text
    assert "不能取消遮蔽" in r.json()["detail"]
    assert [e.action for e in world.events_since(since)] == []
    with world.archive.sessions() as db:
        assert db.scalars(select(TextRedaction).where(TextRedaction.record_id == record)).all() == []


def test_a_confirmed_masking_is_stored_bound_and_reads_back_with_nothing_left(world: World, record: int) -> None:
    masks = masks_of(world, record, ("plate",))  # a false finding may be dropped
    masks.append({"field": "fields.party", "start": 0, "end": 3, "kind": "name"})  # what no detector finds
    since = world.last_seq()
    r = world.client(EDITOR).post(f"{API}/{record}/redactions", json={"version": 1, "masks": masks, "why": "公示前脱敏"})
    assert r.status_code == 201, r.text
    made = r.json()
    party = made["fields"]["fields.party"]
    assert party == (f"张某，公民身份号码{ID[:6]}********{ID[-4:]}，手机138****5678，住北京市朝阳区******")
    assert made["fields"]["fields.facts"].startswith("当事人以银行卡****" + CARD[-4:] + "收取货款，车牌京A·D12345")
    assert made["dropped"] == [{"field": "fields.facts", "kind": "plate", "start": FACTS.index("京A"),
                                "end": FACTS.index("京A") + 9}]
    for value in made["fields"].values():
        assert not [f for f in pii.find(value) if f.kind != "plate"]
    (event,) = world.events_since(since)
    assert event.action == "record_redacted" and event.actor == f"user:{EDITOR}"
    detail = json.loads(event.detail)
    with world.archive.sessions() as db:
        row = db.get(TextRedaction, made["id"])
        assert row is not None
        key, entry = TEXT_REDACTION.entry(row)
    assert detail["bound"] == {key: entry} and detail["redaction_id"] == made["id"]

    for reader in (RELEASER, EDITOR):
        since = world.last_seq()
        got = world.client(reader).get(f"{API}/{record}/redactions/{made['id']}")
        assert got.status_code == 200 and got.json() == made, got.text
        assert [e.action for e in world.events_since(since)] == ["record_redaction_read"]


def test_who_may_check_confirm_and_read(world: World, record: int) -> None:
    pii_url = f"{API}/{record}/versions/1/pii"
    assert world.client(RELEASER).get(pii_url).status_code == 403  # the legal reviewer releases, does not edit
    assert world.client(AUDITOR).get(pii_url).status_code == 403
    since = world.last_seq()
    r = world.client(FOREIGN).get(pii_url)
    assert r.status_code == 404, r.text
    assert [e.action for e in world.events_since(since)] == ["access_denied"]
    assert world.client(EDITOR).get(f"{API}/{record}/redactions/999999").status_code == 404
    assert world.client(EDITOR).get(f"{API}/{record}/versions/9/pii").status_code == 404


def test_an_uploaded_document_has_only_its_title_checked(world: World, tmp_path: Path) -> None:
    with world.archive.sessions.begin() as db:
        c = case_service.create_case(db, world.archive.custody, world.settings.cases, unit_id=world.units[A],
                                     unit_code=A, category="行政处罚", title="上传文书", actor="test:pii")
        case_id = c.id
    pdf = tmp_path / "d.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% 13812345678\n%%EOF\n")
    rec = text_records.add_version(world.archive, case_id=case_id, actor="test:pii", kind="询问笔录",
                                   title="询问笔录（电话13912345678）", path=pdf, file_name="d.pdf")
    r = world.client(EDITOR).get(f"{API}/{rec.record_id}/versions/1/pii")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["document_masked"] is False and list(body["fields"]) == ["title"]
    assert [(f["field"], f["kind"]) for f in body["findings"]] == [("title", "mobile")]


def test_a_masking_is_bound_to_the_log_for_verify(world: World, record: int) -> None:
    with world.archive.sessions() as db:
        rows = db.scalars(select(TextRedaction).where(TextRedaction.record_id == record)).all()
        events = db.scalars(select(CustodyEvent).where(CustodyEvent.action == "record_redacted")).all()
    bound = {k for e in events for k in json.loads(e.detail).get("bound", {})}
    assert rows and {TEXT_REDACTION.entry(r)[0] for r in rows} <= bound
    _ = B
