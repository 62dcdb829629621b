"""The case bag (``liuhen export --case``) carries the case's legal review: every round, the materials
pinned at submission exactly as stored (hashing to ``materials_sha256``), the pinned text-record
versions and the signed opinion (法制审核意见书) by path in the bag — on SQLite and PostgreSQL, from
the library call, the CLI and the API."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import bagit
import pytest
from fastapi.testclient import TestClient

from app.web import create_app
from auth import service as accounts
from auth.models import User
from cases.export import _part_path, export_case
from cases.models import Case
from review import service
from review.export import bag_part
from tests.review_world import REVIEWER, ReviewWorld

REPO = Path(__file__).resolve().parent.parent


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def reviewed_case(w: ReviewWorld) -> tuple[int, list[int]]:
    """A case asked for more material in round 1 (one element not met) and agreed in round 2."""
    cid = w.case(title="导出审核卷宗案")
    first = w.submit(cid)
    w.open(first)
    w.answer_all(first, failing=("证据确凿充分合法",))
    w.decide(first, "补充材料", opinion="请补充现场检查笔录。")
    w.form(cid, "现场检查笔录")
    second = w.review(cid, "同意")
    return cid, [first, second]


def check_bag(w: ReviewWorld, bag: Path, round_ids: list[int]) -> None:
    bagit.Bag(str(bag)).validate()  # every payload file against the manifests
    data = bag / "data"
    case_json = json.loads((data / "case" / "case.json").read_text(encoding="utf-8"))
    assert case_json["parts"] == ["data/case/review/round-1-materials.json", "data/case/review/round-1.json",
                                  "data/case/review/round-2-materials.json", "data/case/review/round-2.json"]
    with w.archive.sessions() as db:
        rounds = [service.get_round(db, rid) for rid in round_ids]
        stored = [(r.round_no, r.materials_sha256, r.outcome, r.opinion_record_id, r.decided_by, r.proposal_sha256,
                   r.final_sha256) for r in rounds]
    for no, materials_sha, outcome, opinion_id, decided_by, proposal_sha, final_sha in stored:
        doc = json.loads((data / "case" / "review" / f"round-{no}.json").read_text(encoding="utf-8"))
        materials = data / "case" / "review" / f"round-{no}-materials.json"
        assert sha256(materials) == materials_sha == doc["materials"]["sha256"]
        assert doc["materials"]["file"] == f"data/case/review/round-{no}-materials.json"
        assert (doc["round_no"], doc["outcome"], doc["decided_by"]) == (no, outcome, decided_by)
        assert (doc["proposal_sha256"], doc["final_sha256"]) == (proposal_sha, final_sha)
        assert doc["proposal"]["decision_kind"] == "吊销许可证" and doc["statement"]
        assert len(doc["answers"]) == len(w.settings.review.elements)
        # every pinned text-record version is in the bag, at the path the round names, with its hash
        pinned = json.loads(materials.read_text(encoding="utf-8"))["records"]
        assert [r["sha256"] for r in doc["materials"]["records"]] == [r["sha256"] for r in pinned] != []
        for r in doc["materials"]["records"]:
            assert r["in_bag"] and sha256(bag / r["file"]) == r["sha256"]
            assert (bag / r["statement"]).is_file() and (bag / r["signature"]).is_file()
        # the signed opinion: the PDF in the bag, by record id, version and hash
        op = doc["opinion_record"]
        assert (op["record_id"], op["kind"], op["version"]) == (opinion_id, "法制审核意见书", 1)
        pdf = bag / op["file"]
        assert pdf.read_bytes().startswith(b"%PDF") and sha256(pdf) == op["sha256"]
        listed = {(r["record_id"], r["version"]): r for r in case_json["records"]}
        assert listed[(opinion_id, 1)]["file"] == op["file"] and listed[(opinion_id, 1)]["sha256"] == op["sha256"]
    r1 = json.loads((data / "case" / "review" / "round-1.json").read_text(encoding="utf-8"))
    assert {a["element"]: a["answer"] for a in r1["answers"]}["证据确凿充分合法"] == "no"
    r2 = json.loads((data / "case" / "review" / "round-2.json").read_text(encoding="utf-8"))
    assert "现场检查笔录" in {r["kind"] for r in r2["materials"]["records"]}  # filed between the rounds
    assert "现场检查笔录" not in {r["kind"] for r in r1["materials"]["records"]}


def test_the_case_bag_holds_every_round_its_pinned_materials_and_signed_opinion(review_world, tmp_path):
    w = review_world
    cid, rounds = reviewed_case(w)
    result = export_case(w.archive, cid, tmp_path / "bag", actor="user:handler", extra=bag_part)
    check_bag(w, result.path, rounds)


def test_liuhen_export_case_and_the_api_export_carry_the_review(review_world, tmp_path):
    w = review_world
    cid, rounds = reviewed_case(w)
    with w.archive.sessions() as db:
        number = db.get_one(Case, cid).number
    out = tmp_path / "cli-bag"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-m", "app.cli", "--config", str(w.folder / "config.toml"), "export",
                        "--case", number, "--out", str(out)], capture_output=True, text=True, timeout=300, env=env,
                       cwd=w.folder)
    assert r.returncode == 0, r.stderr
    check_bag(w, out, rounds)

    with w.archive.sessions.begin() as db:
        u = db.query(User).filter(User.username == REVIEWER).one()
        token = accounts.issue_api_token(db, w.archive.custody, user=u, name="export test", actor="cli:test")
    client = TestClient(create_app(w.archive))
    resp = client.get(f"/api/v1/cases/{cid}/export", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    (tmp_path / "api.zip").write_bytes(resp.content)
    with zipfile.ZipFile(tmp_path / "api.zip") as z:
        z.extractall(tmp_path / "api")
    check_bag(w, tmp_path / "api" / "case", rounds)


@pytest.mark.parametrize("path", ["../escape.json", "/abs.json", "case.json", "records/1_v1/x.pdf", "review//x",
                                  "review/../../x", ""])
def test_a_part_may_not_climb_out_of_the_case_folder_or_take_the_cases_own_files(path):
    with pytest.raises(ValueError):
        _part_path(path)
