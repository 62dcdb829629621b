"""Export that scales (issue #14, item 8): the bag streamed as a zip whose media are stored, not
deflated; a bag that verifies; proxies only when asked; several recordings or a case as a job with
progress and a download when ready; another unit's recordings and another user's export 404; every
export and download in the custody log; and a ~300 MB export streamed in flat memory.

On ``tests.api_world`` (real units, users, station, ffmpeg clips, media jobs run to the end)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import bagit
import pytest

from api.exports import HANDLERS as EXPORT_JOBS
from archive.bagstream import Streamed, plan_bag, stream_bag, zip_size
from archive.models import DerivedFile, Evidence
from jobs import queue
from jobs.models import Export
from jobs.worker import run_one
from tests.api_world import BACKENDS, A, B, World, user_of, world_for

API = "/api/v1"
INVESTIGATOR = user_of("investigator")
OTHER = user_of("records_manager")  # same unit, may export too: still not someone else's export
STEP = {"kind": "调查", "started_at": "2026-11-23T09:29:00+08:00", "ended_at": "2026-11-23T10:05:00+08:00",
        "officers": ["000123"]}
MEDIA = (".mp4", ".MP4", ".jpg", ".m4a", ".bin")


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          make_clip: Callable[..., Path]) -> Iterator[World]:
    yield from world_for(request, tmp_path_factory, make_clip)


def events(world: World, since: int, action: str) -> list:
    return [e for e in world.events_since(since) if e.action == action]


def unzip_bag(data: bytes, into: Path) -> tuple[zipfile.ZipFile, Path]:
    z = zipfile.ZipFile(io.BytesIO(data))
    z.extractall(into)
    (top,) = list(into.iterdir())
    return z, top


def run_exports(world: World) -> None:
    """Run every export job there is (only those: other tests leave media jobs behind)."""
    while (job := queue.claim(world.archive, worker="test", kinds=("export",), lease_s=30)) is not None:
        run_one(world.archive, job, EXPORT_JOBS, lease_s=30)


# ---------------------------------------------------------------------------- one recording, streamed


def test_one_recording_streams_a_bag_with_stored_media_that_verifies(world: World, tmp_path: Path) -> None:
    eid = world.evidence["wangwu"]
    since = world.last_seq()
    r = world.client(INVESTIGATOR).get(f"{API}/evidence/{eid}/export")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert int(r.headers["content-length"]) == len(r.content)  # the browser can show its own progress
    z, top = unzip_bag(r.content, tmp_path)
    original = [i for i in z.infolist() if "/data/originals/" in i.filename and "/derived/" not in i.filename]
    assert len(original) == 1 and original[0].filename.endswith(".MP4")
    assert original[0].compress_type == zipfile.ZIP_STORED  # the video is not re-compressed
    assert original[0].compress_size == original[0].file_size
    texts = [i for i in z.infolist() if i.filename.endswith((".json", ".jsonl", ".txt"))]
    assert texts and all(i.compress_type == zipfile.ZIP_DEFLATED for i in texts)
    assert not [i for i in z.infolist() if "/derived/" in i.filename]  # no proxy unless asked

    bag = bagit.Bag(str(top))
    bag.validate()  # every payload file against manifest-sha256.txt, every tag file against the tag manifest
    checked = subprocess.run([sys.executable, "verify_bag.py", "."], cwd=top, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr  # signatures, custody proofs: all of it
    with world.archive.sessions() as db:
        ev = db.get_one(Evidence, eid)
        assert f"{ev.sha256}  data/{original[0].filename.split('/data/', 1)[1]}" in \
            (top / "manifest-sha256.txt").read_text()  # the manifest carries the hash recorded at intake

    (exported,) = events(world, since, "exported")
    assert exported.evidence_id == eid and exported.actor == f"user:{INVESTIGATOR}"
    detail = json.loads(exported.detail)
    assert detail["payload_oxum"] == bag.info["Payload-Oxum"] and detail["proxies"] is False
    assert detail["zip_bytes"] == len(r.content)
    (down,) = events(world, since, "downloaded")
    assert json.loads(down.detail)["what"] == "export" and down.evidence_id == eid


def test_proxies_only_when_asked(world: World, tmp_path: Path) -> None:
    eid = world.evidence["wangwu"]
    with world.archive.sessions() as db:
        kinds = {d.kind for d in db.query(DerivedFile).filter(DerivedFile.evidence_id == eid)}
    assert "proxy" in kinds
    r = world.client(INVESTIGATOR).get(f"{API}/evidence/{eid}/export", params={"proxies": "true"})
    assert r.status_code == 200, r.text
    z, top = unzip_bag(r.content, tmp_path)
    derived = [i for i in z.infolist() if "/derived/" in i.filename]
    assert any(i.filename.endswith("/derived/proxy.mp4") for i in derived)
    assert all(i.compress_type == zipfile.ZIP_STORED for i in derived if i.filename.endswith(MEDIA))
    bagit.Bag(str(top)).validate()


def test_another_units_recording_is_not_exported_and_answers_404(world: World) -> None:
    since = world.last_seq()
    c = world.client(INVESTIGATOR)
    r = c.get(f"{API}/evidence/{world.evidence['lisi']}/export")
    assert r.status_code == 404
    r = c.post(f"{API}/exports", json={"evidence_ids": [world.evidence["wangwu"], world.evidence["lisi"]]})
    assert r.status_code == 404, r.text
    assert r.json()["detail"] == c.post(f"{API}/exports", json={"evidence_ids": [999_999]}).json()["detail"].replace(
        "999999", str(world.evidence["lisi"]))
    assert not events(world, since, "exported")
    assert len(events(world, since, "access_denied")) == 2
    with world.archive.sessions() as db:
        assert all(world.evidence["lisi"] not in json.loads(x.evidence_ids) for x in db.query(Export))


# ---------------------------------------------------------------------------- several recordings, as a job


def test_several_recordings_export_as_a_job_with_progress_then_download(world: World, tmp_path: Path) -> None:
    c = world.client(INVESTIGATOR)
    ids = [world.evidence["zhangsan"], world.evidence["wangwu"]]
    since = world.last_seq()
    r = c.post(f"{API}/exports", json={"evidence_ids": ids})
    assert r.status_code == 202, r.text
    started = r.json()
    assert set(started) == {"export_id", "state"} and started["state"] == "pending"
    xid = started["export_id"]
    before = c.get(f"{API}/exports/{xid}").json()
    assert before["state"] == "pending" and before["download"] is None
    assert c.get(f"{API}/exports/{xid}/download").status_code == 409  # not made yet
    assert not events(world, since, "exported")

    run_exports(world)
    x = c.get(f"{API}/exports/{xid}").json()
    assert x["state"] == "done", x
    assert x["bytes_total"] > 0 and x["bytes_done"] == x["bytes_total"]
    assert x["download"] == f"{API}/exports/{xid}/download" and x["expires_at"] is not None
    assert sorted(e.evidence_id for e in events(world, since, "exported")) == sorted(ids)

    mid = world.last_seq()
    r = c.get(x["download"])
    assert r.status_code == 200 and len(r.content) == x["size"]
    assert hashlib.sha256(r.content).hexdigest() == x["sha256"] == r.headers["x-content-sha256"]
    z, top = unzip_bag(r.content, tmp_path)
    bagit.Bag(str(top)).validate()
    originals = [i for i in z.infolist() if "/data/originals/" in i.filename]
    assert len(originals) == 2 and all(i.compress_type == zipfile.ZIP_STORED for i in originals)
    assert sorted(e.evidence_id for e in events(world, mid, "downloaded")) == sorted(ids)

    part = c.get(x["download"], headers={"Range": "bytes=0-99"})  # a download that was cut off goes on
    assert part.status_code == 206 and part.content == r.content[:100]
    assert part.headers["content-range"] == f"bytes 0-99/{x['size']}"

    listed = c.get(f"{API}/exports").json()
    assert listed[0]["export_id"] == xid


def test_another_users_export_answers_404_like_a_missing_one(world: World) -> None:
    c = world.client(INVESTIGATOR)
    xid = c.post(f"{API}/exports", json={"evidence_ids": [world.evidence["wangwu"]]}).json()["export_id"]
    run_exports(world)
    other = world.client(OTHER)
    since = world.last_seq()
    for path in (f"/exports/{xid}", f"/exports/{xid}/download"):
        mine = other.get(f"{API}{path}")
        missing = other.get(f"{API}{path.replace(str(xid), '999999')}")
        assert mine.status_code == missing.status_code == 404
        assert mine.json()["code"] == missing.json()["code"] == "export_not_found"
    assert other.post(f"{API}/exports/{xid}/download/link").status_code == 404
    assert xid not in [x["export_id"] for x in other.get(f"{API}/exports").json()]
    assert len(events(world, since, "access_denied")) == 3 and not events(world, since, "downloaded")


def test_a_whole_case_exports_as_a_job_with_the_case_events(world: World, tmp_path: Path) -> None:
    c = world.client(INVESTIGATOR)
    case = c.post(f"{API}/cases", json={"unit_code": A, "category": "行政处罚", "title": "导出测试"}).json()
    step = c.post(f"{API}/cases/{case['case_id']}/steps", json=STEP).json()
    assert c.post(f"{API}/cases/steps/{step['step_id']}/links",
                  json={"evidence_id": world.evidence["zhangsan"]}).status_code == 201
    pdf = b"%PDF-1.4\n% export test\n" + os.urandom(3000) + b"\n%%EOF\n"  # sent as it is, not deflated
    assert c.post(f"{API}/cases/{case['case_id']}/records", files={"file": ("决定书.pdf", pdf, "application/pdf")},
                  data={"kind": "决定书"}).status_code == 201
    now = c.get(f"{API}/cases/{case['case_id']}/export")  # the case bag streamed at once, its exact length first
    assert now.status_code == 200 and int(now.headers["content-length"]) == len(now.content)
    since = world.last_seq()
    xid = c.post(f"{API}/exports", json={"case_id": case["case_id"]}).json()["export_id"]
    run_exports(world)
    x = c.get(f"{API}/exports/{xid}").json()
    assert x["state"] == "done", x
    (case_event,) = events(world, since, "case_exported")
    assert json.loads(case_event.detail)["case_id"] == case["case_id"]
    assert [e.evidence_id for e in events(world, since, "exported")] == [world.evidence["zhangsan"]]
    r = c.get(x["download"])
    z, top = unzip_bag(r.content, tmp_path)
    bagit.Bag(str(top)).validate()
    assert (top / "data" / "case" / "case.json").is_file()
    (doc,) = [i for i in z.infolist() if i.filename.endswith(".pdf")]
    assert doc.compress_type == zipfile.ZIP_STORED and z.read(doc) == pdf
    down = [json.loads(e.detail) for e in world.events_since(since) if e.action == "case_downloaded"]
    assert [d["case_id"] for d in down] == [case["case_id"]]


# ---------------------------------------------------------------------------- the maker's rights, again when it runs


def _change_user(world: World, username: str, **change: str) -> dict[str, str]:
    """Change a user as an administrator does (``auth.service.update_user``); what it was before."""
    from auth import service as accounts

    with world.archive.sessions.begin() as db:
        user = accounts.get_user(db, username=username)
        before = {"role": user.role, "unit_code": user.unit.code}
        accounts.update_user(db, world.archive.custody, username=username, actor="test", **change)
    return {k: v for k, v in before.items() if k in change}


def test_an_export_whose_maker_lost_the_right_since_it_was_asked_fails_in_words(world: World) -> None:
    c = world.client(INVESTIGATOR)
    xid = c.post(f"{API}/exports", json={"evidence_ids": [world.evidence["wangwu"]]}).json()["export_id"]
    since = world.last_seq()
    before = _change_user(world, INVESTIGATOR, role="auditor")  # an auditor may not export
    try:
        run_exports(world)
    finally:
        _change_user(world, INVESTIGATOR, **before)
    x = c.get(f"{API}/exports/{xid}").json()
    assert x["state"] == "failed" and x["download"] is None, x
    assert "已无导出权限" in x["error"] and "no longer allows exporting" in x["error"]
    assert not events(world, since, "exported")
    (denied,) = events(world, since, "access_denied")
    assert denied.actor == f"user:{INVESTIGATOR}"
    assert json.loads(denied.detail) | {"permission": "evidence.export", "reason": "role", "export_id": xid} \
        == json.loads(denied.detail)
    with world.archive.sessions() as db:
        job = db.get_one(Export, xid).job_id
        from jobs.models import Job

        assert db.get_one(Job, job).state == "failed"


def test_a_case_export_whose_maker_left_the_cases_unit_since_it_was_asked_fails_in_words(world: World) -> None:
    c = world.client(INVESTIGATOR)
    case = c.post(f"{API}/cases", json={"unit_code": A, "category": "行政处罚", "title": "换单位"}).json()
    xid = c.post(f"{API}/exports", json={"case_id": case["case_id"]}).json()["export_id"]
    since = world.last_seq()
    before = _change_user(world, INVESTIGATOR, unit_code=B)
    try:
        run_exports(world)
    finally:
        _change_user(world, INVESTIGATOR, **before)
    x = c.get(f"{API}/exports/{xid}").json()
    assert x["state"] == "failed", x
    assert f"案件 {case['case_id']} 已不在发起人的单位范围内" in x["error"]
    assert not events(world, since, "case_exported")
    (denied,) = events(world, since, "access_denied")
    assert json.loads(denied.detail)["reason"] == "unit" and json.loads(denied.detail)["export_id"] == xid


# ---------------------------------------------------------------------------- a large recording, flat memory


@pytest.mark.slow
def test_a_300_mb_export_streams_in_flat_memory(world: World, tmp_path: Path) -> None:
    """A ~300 MB file ingested as evidence (broken media is still evidence): the streamed zip is
    whole and verifies, and the peak of Python's allocations while it streams stays a few MB."""
    from tests.test_export import Recorder

    if world.archive.settings.archive.database_url.startswith("postgresql"):
        pytest.skip("the memory of streaming does not depend on the database; SQLite suffices")
    big = tmp_path / "big.MP4"
    size = 300 * 1024 * 1024 + 12345
    with open(big, "wb") as f:
        block = os.urandom(1 << 20)
        for i in range(size // len(block)):
            f.write(hashlib.sha256(i.to_bytes(8, "big")).digest() + block[32:])
        f.write(block[: size % len(block)])
    got = Recorder(world.archive, tmp_path / "st", station_id="st-big").offload(big, "DSJ-Z001_big.MP4")
    assert got.status == "archived"

    plan = plan_bag(world.archive, [got.sha256], top="big")
    expected = zip_size(plan)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = Streamed()
        h = hashlib.sha256()
        n = 0
        out = tmp_path / "big.zip"
        with open(out, "wb") as f:
            for piece in stream_bag(world.archive, plan, actor="test", result=result):
                f.write(piece)
                n += len(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.finished and n == expected == result.zip_bytes > size
    assert peak < 32 * 1024 * 1024, f"peak {peak} bytes while streaming {size} bytes"
    with zipfile.ZipFile(out) as z:
        (info,) = [i for i in z.infolist() if i.filename.endswith("DSJ-Z001_big.MP4")]
        assert info.compress_type == zipfile.ZIP_STORED and info.file_size == size
        with z.open(info) as f:
            while chunk := f.read(1 << 22):
                h.update(chunk)
    assert h.hexdigest() == got.sha256
