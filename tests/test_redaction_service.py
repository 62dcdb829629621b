"""Redaction plans as records, through the API, the jobs and the CLI, on real media and a real
database (SQLite; PostgreSQL with the ``postgres`` marker): versions and stale edits, four eyes,
release only after approval, the release bag (BagIt, no original, what was removed), verify."""

from __future__ import annotations

import hashlib
import json
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import bagit
import pytest
from sqlalchemy import select, text

from archive.models import DerivedFile, Evidence
from hashing.models import CustodyEvent
from jobs.worker import run_worker
from redaction.service import HANDLERS
from tests.api_world import BACKENDS, World, world_for

API = "/api/v1"
EDITOR = "investigator_a"  # redaction.edit, redaction.release
APPROVER = "legal_reviewer_a"  # redaction.approve, redaction.release
MANAGER = "records_manager_a"  # all three
OTHER_UNIT = "investigator_b"


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          make_clip: Callable[..., Path]) -> Iterator[World]:
    yield from world_for(request, tmp_path_factory, make_clip)


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text[:500]}"
    return r.json() if r.headers.get("content-type", "").startswith("application/json") else r.content


def refused(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text[:500]}"
    body = r.json()
    assert body["code"] == code, body
    return body


def run_jobs(world: World) -> None:
    run_worker(world.archive, HANDLERS, stop=threading.Event(), until_idle=True, poll_s=0.05)


def sha_of(world: World, name: str) -> str:
    return world.files[name].sha256


def hand_plan(original_sha256: str, *, proposed: bool = True) -> dict[str, Any]:
    """A face drawn by hand that moves, a 'detected' face still proposed, a plate, and two ranges."""
    tracks = [
        {"id": "h1", "kind": "face", "state": "accepted", "source": "hand", "by": "user:investigator_a",
         "keys": [{"t": 0.0, "box": [0.1, 0.1, 0.2, 0.3]}, {"t": 0.8, "box": [0.5, 0.2, 0.2, 0.3]}]},
        {"id": "d1", "kind": "face", "state": "proposed" if proposed else "accepted", "source": "detector",
         "score": 0.71, "keys": [{"t": 0.2, "box": [0.6, 0.5, 0.1, 0.15]}, {"t": 0.6, "box": [0.62, 0.5, 0.1, 0.15]}]},
        {"id": "p1", "kind": "plate", "state": "accepted", "source": "hand",
         "keys": [{"t": 0.0, "box": [0.3, 0.8, 0.15, 0.06]}, {"t": 0.5, "box": [0.3, 0.8, 0.15, 0.06]}]},
    ]
    ranges = [{"id": "r1", "kind": "audio", "start": 0.1, "end": 0.4, "effect": "mute", "why": "a name is said"},
              {"id": "r2", "kind": "video", "start": 0.7, "end": 0.9, "effect": "black"}]
    return {"format": "liuhen-redaction-plan/1", "original_sha256": original_sha256, "detector": None, "note": "",
            "tracks": tracks, "ranges": ranges}


def new_plan(world: World, name: str = "zhangsan_2", user: str = EDITOR) -> dict[str, Any]:
    c = world.client(user)
    plan = ok(c.post(f"{API}/evidence/{world.evidence[name]}/redaction", json={"title": "公开发布"}), 201)
    assert plan["version"] == 1 and plan["plan"]["tracks"] == [] and plan["original_sha256"] == sha_of(world, name)
    return plan


def events(world: World, since: int, action: str) -> list[CustodyEvent]:
    return [e for e in world.events_since(since) if e.action == action]


# ---------------------------------------------------------------------------- versions


def test_versions_are_numbered_and_a_stale_edit_is_refused(world: World) -> None:
    seq = world.last_seq()
    plan = new_plan(world)
    pid, c = plan["plan_id"], world.client(EDITOR)
    body = hand_plan(plan["original_sha256"])
    v2 = ok(c.put(f"{API}/redaction/{pid}", json={"base_version": 1, "plan": body, "why": "faces drawn"}))
    assert v2["version"] == 2 and v2["undecided"] == 1
    assert [v["base_version"] for v in v2["versions"]] == [None, 1]
    # a second editor still on version 1: refused, nothing written
    refused(world.client(MANAGER).put(f"{API}/redaction/{pid}", json={"base_version": 1, "plan": body}), 409,
            "stale_redaction_plan")
    # a plan naming another recording's original
    other = hand_plan(sha_of(world, "wangwu"))
    refused(c.put(f"{API}/redaction/{pid}", json={"base_version": 2, "plan": other}), 422, "redaction_plan_mismatch")
    refused(c.put(f"{API}/redaction/{pid}", json={"base_version": 2, "plan": {**body, "tracks": [{"id": "x"}]}}),
            422, "bad_redaction_plan")
    shown = ok(c.get(f"{API}/redaction/{pid}"))
    assert shown["version"] == 2
    # the stored content is the plan's canonical JSON, read back the same
    with world.archive.sessions() as db:
        stored = db.scalar(text("SELECT content FROM redaction_versions WHERE plan_id = :p AND version = 2"),
                           {"p": pid})
    from redaction.plan import Plan

    assert Plan.from_json(json.loads(stored)).canonical().decode() == stored
    assert hashlib.sha256(stored.encode()).hexdigest() == shown["plan_sha256"]
    acts = [e.action for e in world.events_since(seq) if e.evidence_id == world.evidence["zhangsan_2"]]
    assert acts.count("redaction_plan_created") == 1 and acts.count("redaction_plan_saved") == 1


# ---------------------------------------------------------------------------- four eyes and release


def test_four_eyes_release_only_after_a_second_persons_approval(world: World, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    plan = new_plan(world)
    pid, ed, ap, mg = plan["plan_id"], world.client(EDITOR), world.client(APPROVER), world.client(MANAGER)
    ok(ed.put(f"{API}/redaction/{pid}", json={"base_version": 1, "plan": hand_plan(plan["original_sha256"])}))
    # a detected track still proposed: refused, saying how many
    body = refused(ap.post(f"{API}/redaction/{pid}/approve", json={"version": 2}), 409, "redaction_approval_refused")
    assert "1" in body["detail"]
    # the records manager accepts it: now they changed the plan too
    v3 = ok(mg.post(f"{API}/redaction/{pid}/tracks/d1", json={"state": "accepted", "why": "a bystander"}))
    assert v3["version"] == 3 and v3["undecided"] == 0
    assert set(v3["may_not_approve"]) == {"user:investigator_a", "user:records_manager_a"}
    refused(mg.post(f"{API}/redaction/{pid}/approve", json={"version": 3}), 409, "redaction_approval_refused")

    # rendered before approval: made, but not released (API 409 and CLI exit 1)
    r = ok(ed.post(f"{API}/redaction/{pid}/render", json={}), 202)
    run_jobs(world)
    r = ok(ed.get(f"{API}/redaction/renders/{r['render_id']}"))
    assert r["state"] == "done" and r["version"] == 3 and not r["releasable"], r
    refused(ed.get(f"{API}/redaction/renders/{r['render_id']}/download"), 409, "redaction_not_approved")
    refused(ed.post(f"{API}/redaction/release", json={"render_ids": [r["render_id"]]}), 409, "redaction_not_approved")
    from app.cli import main

    code = main(["redact", "release", str(r["render_id"]), "--out", str(tmp_path), "--json",
                 "--config", str(world.settings.config_path)])
    assert code == 1 and json.loads(capsys.readouterr().out.strip().splitlines()[-1])["code"] == "redaction_not_approved"
    assert not list(tmp_path.glob("*.zip"))

    # a second person approves: released
    seq = world.last_seq()
    approved = ok(ap.post(f"{API}/redaction/{pid}/approve", json={"version": 3, "why": "checked every face"}))
    assert approved["approved"] and approved["versions"][-1]["approved_by"] == "user:legal_reviewer_a"
    data = ok(ed.get(f"{API}/redaction/renders/{r['render_id']}/download"))
    assert hashlib.sha256(data).hexdigest() == r["sha256"] != sha_of(world, "zhangsan_2")
    log = ok(ed.get(f"{API}/redaction/renders/{r['render_id']}/log"))
    assert log["original_sha256"] == sha_of(world, "zhangsan_2") and log["version"] == 3
    assert [e.action for e in world.events_since(seq) if e.action.startswith("redaction_")] == [
        "redaction_approved", "redaction_released"]

    # an edit after approval: every release of the plan stops until the new version is approved
    ok(ed.put(f"{API}/redaction/{pid}", json={"base_version": 3, "why": "one more range", "plan": {
        **ok(ed.get(f"{API}/redaction/{pid}"))["plan"],
        "ranges": [{"id": "r9", "kind": "audio", "start": 0.0, "end": 0.2, "effect": "tone"}]}}))
    refused(ed.get(f"{API}/redaction/renders/{r['render_id']}/download"), 409, "redaction_not_approved")
    # the approver made no change since version 3's approval: may approve version 4; the editor may not
    refused(ed.post(f"{API}/redaction/{pid}/approve", json={"version": 4}), 403, "forbidden")
    refused(mg.post(f"{API}/redaction/{pid}/approve", json={"version": 3}), 409, "redaction_approval_refused")
    ok(mg.post(f"{API}/redaction/{pid}/approve", json={"version": 4}))
    refused(ap.post(f"{API}/redaction/{pid}/render", json={"version": 4}), 403, "forbidden")
    r4 = ok(ed.post(f"{API}/redaction/{pid}/render", json={"version": 4}), 202)
    run_jobs(world)
    assert ok(ap.get(f"{API}/redaction/renders/{r4['render_id']}"))["releasable"]


def _approved_render(world: World, name: str) -> dict[str, Any]:
    plan = new_plan(world, name)
    pid, ed = plan["plan_id"], world.client(EDITOR)
    ok(ed.put(f"{API}/redaction/{pid}", json={"base_version": 1,
                                              "plan": hand_plan(plan["original_sha256"], proposed=False)}))
    ok(world.client(APPROVER).post(f"{API}/redaction/{pid}/approve", json={"version": 2}))
    r = ok(ed.post(f"{API}/redaction/{pid}/render"), 202)
    run_jobs(world)
    r = ok(ed.get(f"{API}/redaction/renders/{r['render_id']}"))
    assert r["state"] == "done" and r["releasable"], r
    return r


def test_the_release_bag_validates_holds_no_original_and_says_what_was_removed(world: World, tmp_path: Path,
                                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli import main

    r1, r2 = _approved_render(world, "wangwu"), _approved_render(world, "stranger")
    seq = world.last_seq()
    data = ok(world.client(APPROVER).post(f"{API}/redaction/release", json={"render_ids": [r1["render_id"],
                                                                                         r2["render_id"]]}))
    zpath = tmp_path / "bag.zip"
    zpath.write_bytes(data)
    with zipfile.ZipFile(zpath) as zf:
        zf.extractall(tmp_path / "x")
    (top,) = list((tmp_path / "x").iterdir())
    bag = bagit.Bag(str(top))
    bag.validate()  # raises on any bad hash or missing file
    with world.archive.sessions() as db:
        originals = set(db.scalars(select(Evidence.sha256)))
        derived = set(db.scalars(select(DerivedFile.sha256)))  # proxies, posters, thumbnails
    payload = [p for p in (top / "data").rglob("*") if p.is_file()]
    hashes = {hashlib.sha256(p.read_bytes()).hexdigest() for p in payload}
    assert not hashes & originals and not hashes & derived
    assert {r1["sha256"], r2["sha256"]} <= hashes and {r1["log_sha256"], r2["log_sha256"]} <= hashes
    readme = (top / "data" / "README.txt").read_text()
    for r in (r1, r2):
        assert r["original_sha256"] in readme
    assert "face: 2 track(s)" in readme and "plate: 1 track(s)" in readme and "audio range mute" in readme
    assert "user:legal_reviewer_a" in readme
    removed = json.loads((top / "data" / "removed.json").read_text())
    assert [s["render_id"] for s in removed] == [r1["render_id"], r2["render_id"]]
    # the manifest is signed by the archive key
    from hashing import keys

    keys.verify((top / "archive-key.pem").read_text(), (top / "manifest-sha256.txt").read_bytes(),
                (top / "manifest-sha256.txt.sig").read_bytes())
    released = events(world, seq, "redaction_released")
    assert sorted(e.evidence_id for e in released) == sorted([world.evidence["wangwu"], world.evidence["stranger"]])

    # the originals are untouched, and verify passes over everything the redaction wrote
    for name in ("wangwu", "stranger", "zhangsan_2"):
        with world.archive.sessions() as db:
            ev = db.get_one(Evidence, world.evidence[name])
            with world.archive.store.open(ev.store_key, ev.store_version) as f:
                assert hashlib.sha256(f.read()).hexdigest() == ev.sha256 == sha_of(world, name)
    capsys.readouterr()
    code = main(["verify", "--json", "--config", str(world.settings.config_path)])
    out = capsys.readouterr().out
    assert code == 0, out[-3000:]

    # the CLI writes the same kind of bag
    code = main(["redact", "release", str(r1["render_id"]), "--out", str(tmp_path), "--json",
                 "--config", str(world.settings.config_path)])
    got = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and Path(got["file"]).is_file()
    assert hashlib.sha256(Path(got["file"]).read_bytes()).hexdigest() == got["sha256"]


def test_an_edit_of_a_redaction_row_in_the_database_is_named_by_verify(world: World,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli import main

    plan = new_plan(world, "zhangsan")
    with world.archive.sessions.begin() as db:
        db.execute(text("UPDATE redaction_plans SET title = 'nothing to see' WHERE id = :p"), {"p": plan["plan_id"]})
    try:
        capsys.readouterr()
        code = main(["verify", "--json", "--config", str(world.settings.config_path)])
        report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert code != 0
        named = [f["detail"] for f in report["failures"]]
        assert any(d.startswith(f"redaction_plans {plan['plan_id']}: title changed") for d in named), named
    finally:
        with world.archive.sessions.begin() as db:
            db.execute(text("UPDATE redaction_plans SET title = '公开发布' WHERE id = :p"), {"p": plan["plan_id"]})
    # versions never change, and nothing is deleted (the database refuses)
    with pytest.raises(Exception, match="never"):
        with world.archive.sessions.begin() as db:
            db.execute(text("UPDATE redaction_versions SET why = 'x' WHERE plan_id = :p"), {"p": plan["plan_id"]})
    with pytest.raises(Exception, match="never deleted"):
        with world.archive.sessions.begin() as db:
            db.execute(text("DELETE FROM redaction_plans WHERE id = :p"), {"p": plan["plan_id"]})


def test_another_units_plan_and_render_answer_like_missing_ones(world: World) -> None:
    plan = new_plan(world, "zhangsan")
    b = world.client(OTHER_UNIT)
    seq = world.last_seq()
    for path in (f"/redaction/{plan['plan_id']}", f"/redaction/{plan['plan_id']}/preview?t=0.5"):
        mine, missing = b.get(f"{API}{path}"), b.get(f"{API}{path.replace(str(plan['plan_id']), '987654')}")
        assert mine.status_code == missing.status_code == 404
        assert mine.json()["code"] == missing.json()["code"] == "unknown_redaction_plan"
    refused(b.put(f"{API}/redaction/{plan['plan_id']}", json={"base_version": 1, "plan": hand_plan(
        plan["original_sha256"])}), 404, "unknown_redaction_plan")
    refused(b.post(f"{API}/evidence/{world.evidence['zhangsan']}/redaction", json={}), 404, "not_found")
    denied = events(world, seq, "access_denied")
    assert len(denied) == 4 and all(e.evidence_id == world.evidence["zhangsan"] for e in denied)
    assert len(events(world, seq, "not_found")) == 2
    # the auditor holds none of the redaction permissions
    refused(world.client("auditor_a").get(f"{API}/redaction/{plan['plan_id']}"), 403, "forbidden")


def test_preview_is_a_jpeg_of_the_redacted_frame(world: World) -> None:
    plan = new_plan(world, "zhangsan")
    c = world.client(EDITOR)
    ok(c.put(f"{API}/redaction/{plan['plan_id']}", json={"base_version": 1, "plan": hand_plan(plan["original_sha256"])}))
    r = c.get(f"{API}/redaction/{plan['plan_id']}/preview", params={"t": 0.3, "version": 2})
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and r.content[:2] == b"\xff\xd8"
