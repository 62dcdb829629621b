"""The case bag carries the case's decision notices (``data/case/publication/``): every notice in
every state with its masks, deadline, publication and withdrawal, the public page of each published
one (its SHA-256 the one checked at publication), and the history in the case's custody events."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import bagit

from cases.export import export_case
from publication import service
from publication.bag import bag_part
from tests.review_world import ReviewWorld, actor
from tests.test_publication import ID, decide


def test_the_case_bag_carries_every_notice_its_page_and_its_history(review_world: ReviewWorld,
                                                                     tmp_path: Path) -> None:
    w = review_world
    n = decide(w, "行政处罚", "警告", facts=f"当事人身份证号{ID}，未取得许可擅自经营")
    with w.archive.sessions.begin() as db:
        service.publish(db, w.archive.custody, w.settings, notice=service.get(db, n.id), actor=actor("reviewer"))
    with w.archive.sessions.begin() as db:
        service.withdraw(db, w.archive.custody, notice=service.get(db, n.id), reason="决定已被依法撤销",
                         actor=actor("reviewer"))
    second = w.form(n.case_id, "决定书", {"party": "某某有限公司", "facts": "再次经营", "law": "《某法》第十条",
                                        "decision": "责令停业", "remedy": "可申请复议", "decided_on": "2026-03-09",
                                        "decision_kind": "警告", "doc_number": "京东市监〔2026〕900号"})
    export_case(w.archive, n.case_id, tmp_path / "bag", actor=actor("handler"), extra=bag_part(w.settings))
    bagit.Bag(str(tmp_path / "bag")).validate()
    folder = tmp_path / "bag" / "data" / "case" / "publication"
    doc = json.loads((folder / "notices.json").read_text(encoding="utf-8"))
    assert [(x["state"], x["record_id"]) for x in doc["notices"]] == [("withdrawn", n.record_id), ("draft", second)]
    first, draft = doc["notices"]
    assert first["withdraw_reason"] == "决定已被依法撤销" and first["published_by"] == actor("reviewer")
    assert {k for _, _, k in first["masks"]["facts"]} == {"id_number"} and ID not in json.dumps(doc)
    page = (tmp_path / "bag" / first["page"]).read_bytes()
    assert hashlib.sha256(page).hexdigest() == first["page_sha256"] == first["html_sha256"]
    assert first["same_as_published"] is True
    withdrawn = (tmp_path / "bag" / first["withdrawn_page"]).read_text(encoding="utf-8")
    assert ID.encode() not in page and "撤回".encode() not in page
    assert ID not in withdrawn and "本公示已于" in withdrawn and "决定已被依法撤销" in withdrawn
    assert "page" not in draft and draft["published_on"] is None and draft["due_on"] == "2026-03-18"
    case_json = json.loads((tmp_path / "bag" / "data" / "case" / "case.json").read_text(encoding="utf-8"))
    assert f"data/case/publication/notice-{n.public_no}.html" in case_json["parts"]
    events = [json.loads(line) for line in (tmp_path / "bag" / "data" / "case" / "events.jsonl").read_text(
        encoding="utf-8").splitlines()]
    assert [e["action"] for e in events if e["action"].startswith("notice_")] == [
        "notice_drafted", "notice_published", "notice_withdrawn", "notice_drafted"]
