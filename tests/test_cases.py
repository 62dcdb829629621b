"""Cases (案件): full-process coverage, gap-free numbering, signed text records, the case bag.

Real parts throughout: real ffmpeg clips offloaded by the real station and probed by the real
media workers (so every recording has its real start time and duration), real SQLite and
PostgreSQL databases with the real migrations and triggers, the real ``liuhen`` command line in
subprocesses, real processes racing for case numbers, ``bagit`` and ``openssl`` checking the bag.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import bagit
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select, text

from app.runtime import open_archive
from archive.attribution import add_officer
from archive.context import Archive
from archive.intake import LocalIntake
from archive.models import Evidence
from archive.scope import Scope
from archive.stations import set_unit
from auth.models import User
from auth.service import add_unit
from cases.coverage import Gap, StepCoverage, check_case, check_step
from cases.errors import CaseClosed, RecordRefused
from cases.models import Case, CaseCounter, TextRecordVersion
from cases.records import FORMS, add_form, add_version
from cases.service import (
    add_step,
    close_case,
    create_case,
    get_case,
    get_step,
    link,
    open_cases_of,
    suggestions,
    unlink,
)
from hashing.digest import Digest
from hashing.models import CustodyEvent
from ingest.station import Station
from jobs.worker import run_worker
from liuhen import config
from media.service import HANDLERS
from tests.conftest import create_pg_database, write_config
from tests.docks import put, sha256_of

TZ = ZoneInfo("Asia/Shanghai")
ACTOR = "test:investigator"
A, B = "000123", "000456"  # two officers, each with their own recorder
UNIT = "110101-ZF"

# The recordings of the shared world, 3 s each; the file name gives the start (Asia/Shanghai).
# A gap is made by the start times alone: A@09:40:00 ends 09:40:03, A@09:40:08 starts 5 s later.
CLIPS = {
    "a0930": ("bay1", f"DSJ-A001_{A}_20261123093000_0001.MP4", 301),
    "b0930": ("bay2", f"DSJ-B002_{B}_20261123093003_0001.MP4", 401),  # right after a0930 ends
    "a0940": ("bay1", f"DSJ-A001_{A}_20261123094000_0002.MP4", 302),
    "a0940b": ("bay1", f"DSJ-A001_{A}_20261123094008_0003.MP4", 303),  # 5 s after a0940 ends
    "a0945": ("bay1", f"DSJ-A001_{A}_20261123094500_0004.MP4", 304),
    "a0945b": ("bay1", f"DSJ-A001_{A}_20261123094504_0005.MP4", 305),  # 1 s after a0945 ends
}
SECONDS = 3.0


def local(stamp: str) -> dt.datetime:
    """``20261123094000`` in Asia/Shanghai, as the recorder writes it."""
    return dt.datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=TZ)


def shown(t: dt.datetime) -> str:
    return t.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S")


def liuhen(cfg: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", "--config", str(cfg), *args],
                          capture_output=True, text=True, timeout=300, cwd=cfg.parent)


def tiny_pdf(words: str) -> bytes:
    """A small but valid one-page PDF (with a correct cross-reference table)."""
    content = f"BT /F1 12 Tf 20 100 Td ({words}) Tj ET".encode()
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


# ---------------------------------------------------------------------------- the world


@dataclass(frozen=True)
class Rec:
    """One real recording as the archive knows it after intake and probing."""

    id: int
    sha256: str
    officer_id: str
    recorded_at: dt.datetime
    duration_s: float
    source: Path  # the docked file's bytes

    @property
    def end(self) -> dt.datetime:
        return self.recorded_at + dt.timedelta(seconds=self.duration_s)


@dataclass(frozen=True)
class World:
    settings: config.Settings
    archive: Archive
    unit_id: int
    recs: dict[str, Rec]


def _units_and_officers(archive: Archive) -> int:
    with archive.sessions.begin() as db:
        unit = add_unit(db, code=UNIT, name="东城区综合行政执法大队")
        add_officer(db, archive.custody, officer_no=A, name="张三", unit_id=unit.id, actor=ACTOR)
        add_officer(db, archive.custody, officer_no=B, name="李四", unit_id=unit.id, actor=ACTOR)
        return unit.id


def _offload_and_probe(settings: config.Settings, archive: Archive, clips: dict[str, tuple[str, str, Path]],
                       *, probe: bool = True) -> dict[str, Rec]:
    dock = settings.station.dock_root
    docked = {key: put(dock, f"{bay}/{name}", src) for key, (bay, name, src) in clips.items()}
    station = Station(settings.station, LocalIntake(archive))
    try:
        # the station is the unit's (footage belongs to the unit tree of the station that offloads it;
        # a station with no unit keeps its footage from every unit, issue #10)
        station.register()
        set_unit(archive, station_id=settings.station.id, unit_code=UNIT)
        results = station.offload_once(dock)
    finally:
        station.close()
    assert sorted(r.status for r in results) == ["archived"] * len(clips), [r.reason for r in results]
    if probe:
        run_worker(archive, HANDLERS, stop=threading.Event(), poll_s=0.05, until_idle=True)
    out = {}
    with archive.sessions() as db:
        for key, (_bay, name, src) in clips.items():
            ev = db.scalars(select(Evidence).where(Evidence.sha256 == docked[key].sha256)).one()
            assert ev.file_name == name
            if probe:
                # the start time comes from the file name: ffmpeg's test clips carry no creation time
                assert ev.recorded_at_source == "file_name", ev.recorded_at_source
                assert ev.duration_s == pytest.approx(SECONDS, abs=0.05)
            assert ev.recorded_at == local(name.split("_")[2])
            out[key] = Rec(ev.id, ev.sha256, ev.officer_id, ev.recorded_at, ev.duration_s or 0.0, src)
    return out


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, make_clip) -> Iterator[World]:
    """Six real recordings of two officers, offloaded and probed once per database backend; each
    test builds its own case on them."""
    folder = tmp_path_factory.mktemp(f"cases-{request.param}")
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'var' / 'liuhen.db'}"
    else:
        request.getfixturevalue("pg_ready")
        url, drop = create_pg_database()
    try:
        settings = config.load(write_config(folder, url), environ={})
        archive = open_archive(settings)
        try:
            unit_id = _units_and_officers(archive)
            clips = {k: (bay, name, make_clip(seconds=SECONDS, tone=tone)) for k, (bay, name, tone) in CLIPS.items()}
            yield World(settings, archive, unit_id, _offload_and_probe(settings, archive, clips))
        finally:
            archive.close()
    finally:
        if drop is not None:
            drop()


def new_case(w: World, title: str = "某商店无证经营案", category: str = "行政强制") -> tuple[int, str]:
    with w.archive.sessions.begin() as db:
        c = create_case(db, w.archive.custody, w.settings.cases, unit_id=w.unit_id, unit_code=UNIT,
                        category=category, title=title, actor=ACTOR)
        return c.id, c.number


def new_step(w: World, case_id: int, kind: str, start: str, end: str, links: list = (),
             officers: tuple[str, ...] = (A,)) -> int:
    """A step from ``start`` to ``end`` (local stamps) with ``links``: keys of recordings, or
    (key, start_s, end_s) for a part of one."""
    with w.archive.sessions.begin() as db:
        st = add_step(db, w.archive.custody, w.settings.cases, case=get_case(db, case_id), kind=kind,
                      started_at=local(start), ended_at=local(end), actor=ACTOR, officers=officers)
        for item in links:
            key, a, b = (item, None, None) if isinstance(item, str) else item
            link(db, w.archive.custody, step=st, evidence=db.get(Evidence, w.recs[key].id), actor=ACTOR,
                 start_s=a, end_s=b)
        return st.id


def coverage(w: World, step_id: int) -> StepCoverage:
    with w.archive.sessions() as db:
        return check_step(db, get_step(db, step_id), w.settings.cases, tz="Asia/Shanghai")


# ---------------------------------------------------------------------------- 1. coverage


def test_full_step_covered_back_to_back_by_two_officers_is_covered_and_not_flagged(world):
    w, r = world, world.recs
    case_id, _ = new_case(w)
    step = new_step(w, case_id, "询问", "20261123093000", "20261123093006", ["a0930", "b0930"], officers=(A, B))
    c = coverage(w, step)
    assert (c.requirement, c.status, c.flagged) == ("full", "covered", False)
    assert r["a0930"].end <= r["b0930"].recorded_at + dt.timedelta(seconds=0.05)  # really back to back
    assert [(p.evidence_id, p.officer_id) for p in c.pieces] == [(r["a0930"].id, A), (r["b0930"].id, B)]
    assert [(p.start, p.end) for p in c.pieces] == [(r["a0930"].recorded_at, r["a0930"].end),
                                                  (r["b0930"].recorded_at, min(r["b0930"].end, local("20261123093006")))]
    assert all(g.seconds <= 0.05 for g in c.gaps)
    assert c.covered_s == pytest.approx(6.0, abs=0.05) and c.total_s == 6.0
    assert "已被录像" in c.reason and "covered by recordings" in c.reason


def test_five_second_gap_in_a_full_step_is_flagged_with_its_exact_times(world):
    w, r = world, world.recs
    case_id, _ = new_case(w)
    step = new_step(w, case_id, "查封扣押", "20261123094000", "20261123094010", ["a0940", "a0940b"])
    c = coverage(w, step)
    assert (c.requirement, c.status, c.flagged) == ("full", "gaps", True)
    (gap,) = c.gaps
    # the real end of the first recording (its real start + its probed duration) to the real start of the next
    assert gap.start == r["a0940"].recorded_at + dt.timedelta(seconds=r["a0940"].duration_s)
    assert gap.end == r["a0940b"].recorded_at
    assert gap.seconds == pytest.approx(5.0, abs=0.05)
    assert shown(gap.start) == "2026-11-23 09:40:03" and shown(gap.end) == "2026-11-23 09:40:08"
    assert f"{shown(gap.start)} 至 {shown(gap.end)} 无录像" in c.reason
    assert f"nothing recorded from {shown(gap.start)} to {shown(gap.end)}" in c.reason
    assert "5.0" in c.reason and "查封扣押" in c.reason


def test_full_step_with_nothing_linked_is_missing_and_flagged(world):
    w = world
    case_id, _ = new_case(w)
    step = new_step(w, case_id, "强制拆除", "20261123095000", "20261123095500")
    c = coverage(w, step)
    assert (c.requirement, c.status, c.flagged) == ("full", "missing", True)
    assert c.pieces == [] and c.covered_s == 0
    assert c.gaps == [Gap(local("20261123095000"), local("20261123095500"))]
    assert "2026-11-23 09:50:00 – 2026-11-23 09:55:00" in c.reason and "no recording" in c.reason


def test_whole_case_check_flags_the_gap_and_the_missing_step_only(world):
    w = world
    case_id, number = new_case(w)
    covered = new_step(w, case_id, "询问", "20261123093000", "20261123093006", ["a0930", "b0930"], officers=(A, B))
    gaps = new_step(w, case_id, "查封扣押", "20261123094000", "20261123094010", ["a0940", "a0940b"])
    missing = new_step(w, case_id, "强制拆除", "20261123095000", "20261123095500")
    with w.archive.sessions() as db:
        report = check_case(db, get_case(db, number), w.settings.cases)
    assert [s.step_id for s in report.steps] == [covered, gaps, missing]  # in time order
    assert [s.step_id for s in report.flagged] == [gaps, missing] and not report.ok
    assert report.to_dict()["flagged_steps"] == [gaps, missing]


def test_gap_in_an_av_step_is_reported_but_not_flagged(world):
    w, r = world, world.recs
    case_id, _ = new_case(w)
    step = new_step(w, case_id, "现场检查", "20261123094000", "20261123094010", ["a0940", "a0940b"])
    c = coverage(w, step)
    assert (c.requirement, c.status, c.flagged) == ("av", "gaps", False)
    assert c.gaps == [Gap(r["a0940"].end, r["a0940b"].recorded_at)]
    assert "2026-11-23 09:40:03 至 2026-11-23 09:40:08" in c.reason


def test_av_step_with_nothing_linked_is_flagged(world):
    w = world
    case_id, _ = new_case(w)
    c = coverage(w, new_step(w, case_id, "取证", "20261123094000", "20261123094010"))
    assert (c.requirement, c.status, c.flagged) == ("av", "missing", True)


def test_gap_within_tolerance_on_a_full_step_is_not_flagged(world):
    w, r = world, world.recs
    assert w.settings.cases.gap_tolerance_s == 2.0
    case_id, _ = new_case(w)
    step = new_step(w, case_id, "查封扣押", "20261123094500", "20261123094506", ["a0945", "a0945b"])
    c = coverage(w, step)
    assert (c.requirement, c.status, c.flagged) == ("full", "covered", False)
    (gap,) = c.gaps  # the 1 s gap is still reported
    assert (gap.start, gap.end) == (r["a0945"].end, r["a0945b"].recorded_at)
    assert gap.seconds == pytest.approx(1.0, abs=0.05)
    assert "1.0" in c.reason and "within" in c.reason


def test_linked_part_of_a_recording_counts_only_that_part(world):
    w, r = world, world.recs
    rec = r["a0930"]
    case_id, _ = new_case(w)
    whole = coverage(w, new_step(w, case_id, "查封扣押", "20261123093000", "20261123093003", ["a0930"]))
    assert (whole.status, whole.flagged, whole.gaps) == ("covered", False, [])

    part = coverage(w, new_step(w, case_id, "查封扣押", "20261123093000", "20261123093003", [("a0930", 0.0, 0.5)]))
    (piece,) = part.pieces
    assert (piece.start, piece.end) == (rec.recorded_at, rec.recorded_at + dt.timedelta(seconds=0.5))
    assert part.covered_s == 0.5
    assert part.gaps == [Gap(rec.recorded_at + dt.timedelta(seconds=0.5), local("20261123093003"))]
    assert (part.status, part.flagged) == ("gaps", True)

    tail = coverage(w, new_step(w, case_id, "查封扣押", "20261123093000", "20261123093003", [("a0930", 2.0, None)]))
    (piece,) = tail.pieces
    assert (piece.start, piece.end) == (rec.recorded_at + dt.timedelta(seconds=2), rec.end)
    assert tail.gaps == [Gap(local("20261123093000"), rec.recorded_at + dt.timedelta(seconds=2))]
    assert (tail.status, tail.flagged) == ("covered", False)  # a gap of exactly the 2 s tolerance is allowed
    assert tail.covered_s == pytest.approx(1.0, abs=0.05)


def test_coverage_in_the_same_transaction_counts_the_links_just_made(world):
    w, r = world, world.recs
    case_id, _ = new_case(w)
    with w.archive.sessions.begin() as db:
        case = get_case(db, case_id)
        st = add_step(db, w.archive.custody, w.settings.cases, case=case, kind="查封扣押",
                      started_at=local("20261123094000"), ended_at=local("20261123094010"), actor=ACTOR)
        for key in ("a0940", "a0940b"):
            link(db, w.archive.custody, step=st, evidence=db.get(Evidence, r[key].id), actor=ACTOR)
        link(db, w.archive.custody, step=st, evidence=db.get(Evidence, r["a0940"].id), actor=ACTOR)  # again
        c = check_step(db, st, w.settings.cases)
        assert [p.evidence_id for p in c.pieces] == [r["a0940"].id, r["a0940b"].id]
        assert c.status == "gaps" and len(c.gaps) == 1
        assert [s.step_id for s in check_case(db, case, w.settings.cases).steps] == [st.id]


def test_recording_linked_before_its_probe_is_named_not_silently_dropped_and_counts_once_probed(
        archive, settings, make_clip):
    unit_id = _units_and_officers(archive)
    (rec,) = _offload_and_probe(settings, archive, {
        "x": ("bay1", f"DSJ-A001_{A}_20261123120000_0001.MP4", make_clip(seconds=SECONDS, tone=801))},
        probe=False).values()
    with archive.sessions.begin() as db:
        case = create_case(db, archive.custody, settings.cases, unit_id=unit_id, unit_code=UNIT, category="行政强制",
                           title="某案", actor=ACTOR)
        step = add_step(db, archive.custody, settings.cases, case=case, kind="查封扣押",
                        started_at=local("20261123120000"), ended_at=local("20261123120003"), actor=ACTOR)
        link(db, archive.custody, step=step, evidence=db.get(Evidence, rec.id), actor=ACTOR)
        step_id = step.id
    with archive.sessions() as db:
        c = check_step(db, get_step(db, step_id), settings.cases)
    assert rec.duration_s == 0.0  # not probed yet: its length is unknown
    assert (c.status, c.flagged, c.unplaced) == ("missing", True, [rec.id])
    assert f"Recordings {rec.id} have no known start time or length" in c.reason
    run_worker(archive, HANDLERS, stop=threading.Event(), poll_s=0.05, until_idle=True)
    with archive.sessions() as db:
        c = check_step(db, get_step(db, step_id), settings.cases)
    assert (c.status, c.flagged, c.unplaced, c.gaps) == ("covered", False, [], [])


# ---------------------------------------------------------------------------- 2. the CLI check


def test_cases_check_cli_exits_3_naming_flagged_steps_and_gap_times_and_0_when_all_hold(world):
    w, r = world, world.recs
    case_id, number = new_case(w)
    new_step(w, case_id, "询问", "20261123093000", "20261123093006", ["a0930", "b0930"], officers=(A, B))
    gaps = new_step(w, case_id, "查封扣押", "20261123094000", "20261123094010", ["a0940", "a0940b"])
    missing = new_step(w, case_id, "强制拆除", "20261123095000", "20261123095500")
    res = liuhen(w.settings.config_path, "cases", "check", number, "--json")
    assert res.returncode == 3, res.stderr
    out = json.loads(res.stdout)
    assert out["number"] == number and out["ok"] is False and out["flagged_steps"] == [gaps, missing]
    by_id = {s["step_id"]: s for s in out["steps"]}
    assert (by_id[gaps]["status"], by_id[gaps]["flagged"], by_id[gaps]["kind"]) == ("gaps", True, "查封扣押")
    (gap,) = by_id[gaps]["gaps"]
    assert dt.datetime.fromisoformat(gap["start"]) == r["a0940"].end
    assert dt.datetime.fromisoformat(gap["end"]) == r["a0940b"].recorded_at
    assert gap["seconds"] == pytest.approx(5.0, abs=0.05)
    assert "2026-11-23 09:40:03 至 2026-11-23 09:40:08" in by_id[gaps]["reason"]
    assert by_id[missing]["status"] == "missing" and by_id[missing]["flagged"] is True

    res = liuhen(w.settings.config_path, "cases", "check", number)  # the same, for a person
    assert res.returncode == 3 and "FLAGGED" in res.stdout and "2026-11-23 09:40:03" in res.stdout

    ok_id, ok_number = new_case(w, "某工地扬尘案")
    new_step(w, ok_id, "询问", "20261123093000", "20261123093006", ["a0930", "b0930"], officers=(A, B))
    new_step(w, ok_id, "现场检查", "20261123094000", "20261123094010", ["a0940", "a0940b"])  # av: gap allowed
    res = liuhen(w.settings.config_path, "cases", "check", str(ok_id), "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    out = json.loads(res.stdout)
    assert out["ok"] is True and out["flagged_steps"] == [] and out["number"] == ok_number
    with w.archive.sessions() as db:
        checked = [json.loads(e.detail) for e in db.scalars(select(CustodyEvent)
                                                            .where(CustodyEvent.action == "coverage_checked"))]
    assert {"case_id": ok_id, "number": ok_number, "ok": True, "flagged_steps": []} in checked


def test_coverage_check_through_the_api_is_one_custody_event_naming_the_api_and_the_request(world):
    from fastapi.testclient import TestClient

    from app.web import create_app
    from auth.service import add_user, issue_api_token

    w = world
    case_id, number = new_case(w, "某餐馆无证经营案")
    new_step(w, case_id, "查封扣押", "20261123094000", "20261123094010", ["a0940"])  # the gap: flagged
    with w.archive.sessions.begin() as db:
        add_user(db, w.archive.custody, username="coverage_reader", password="correct horse battery",
                 role="investigator", unit_code=UNIT, actor=ACTOR, settings=w.archive.settings.auth)
        token = issue_api_token(db, w.archive.custody, user=db.scalars(select(User).where(
            User.username == "coverage_reader")).one(), name="tests", actor=ACTOR)
    with TestClient(create_app(w.archive)) as client:
        r = client.get(f"/api/v1/cases/{case_id}/coverage", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is False and r.json()["number"] == number
    with w.archive.sessions() as db:
        checked = [e for e in db.scalars(select(CustodyEvent).where(CustodyEvent.action == "coverage_checked"))
                   if json.loads(e.detail)["case_id"] == case_id]
    (event,) = checked
    detail = json.loads(event.detail)
    assert (event.actor, event.tool) == ("user:coverage_reader", "liuhen-api")
    assert {k: detail[k] for k in ("number", "ok", "flagged_steps")} == {
        "number": number, "ok": False, "flagged_steps": r.json()["flagged_steps"]}
    assert detail["role"] == "investigator" and detail["via"] == "token"


# ---------------------------------------------------------------------------- 7. links, suggestions


def test_linking_and_unlinking_are_custody_events_naming_the_evidence(world):
    w, r = world, world.recs
    case_id, number = new_case(w)
    step = new_step(w, case_id, "查封扣押", "20261123094000", "20261123094010", ["a0940"])
    with w.archive.sessions.begin() as db:
        lk = next(lk for lk in get_step(db, step).links)
        link_id = lk.id
        unlink(db, w.archive.custody, link_id=link_id, actor="test:reviewer")
    with w.archive.sessions() as db:
        events = [e for e in db.scalars(select(CustodyEvent).where(CustodyEvent.evidence_id == r["a0940"].id)
                                        .order_by(CustodyEvent.seq))
                  if json.loads(e.detail).get("case_id") == case_id]
        assert [(e.action, e.actor, e.object_sha256) for e in events] == [
            ("linked", ACTOR, r["a0940"].sha256), ("unlinked", "test:reviewer", r["a0940"].sha256)]
        for e in events:
            d = json.loads(e.detail)
            assert (d["number"], d["step_id"], d["link_id"], d["step_kind"]) == (number, step, link_id, "查封扣押")
        (old,) = get_step(db, step).links  # the link stays, ended
        assert old.unlinked_at is not None and old.unlinked_by == "test:reviewer"
    c = coverage(w, step)
    assert (c.status, c.flagged) == ("missing", True)


def test_suggestions_propose_the_step_officers_recordings_overlapping_its_time(world):
    w, r = world, world.recs
    case_id, _ = new_case(w)
    scope = Scope(units=frozenset({w.unit_id}))
    step_a = new_step(w, case_id, "查封扣押", "20261123094000", "20261123094010", officers=(A,))
    step_both = new_step(w, case_id, "询问", "20261123093001", "20261123093005", officers=(A, B))
    step_b = new_step(w, case_id, "询问", "20261123093001", "20261123093005", officers=(B,))
    with w.archive.sessions() as db:
        assert [e.id for e in suggestions(db, step=get_step(db, step_a), scope=scope)] == [
            r["a0940"].id, r["a0940b"].id]
        # a0930 started before the step but is still running at its start
        assert [e.id for e in suggestions(db, step=get_step(db, step_both), scope=scope)] == [
            r["a0930"].id, r["b0930"].id]
        assert [e.id for e in suggestions(db, step=get_step(db, step_b), scope=scope)] == [r["b0930"].id]
        assert suggestions(db, step=get_step(db, step_a), scope=Scope(units=frozenset({w.unit_id + 999}))) == []
    with w.archive.sessions.begin() as db:
        link(db, w.archive.custody, step=get_step(db, step_a), evidence=db.get(Evidence, r["a0940"].id), actor=ACTOR)
    with w.archive.sessions() as db:  # once linked, no longer proposed
        assert [e.id for e in suggestions(db, step=get_step(db, step_a), scope=scope)] == [r["a0940b"].id]


# ---------------------------------------------------------------------------- 5. the case bag


def test_export_case_cli_makes_one_valid_bag_with_records_originals_coverage_and_events(world, tmp_path):
    w, r = world, world.recs
    case_id, number = new_case(w, "某商店查封扣押案")
    covered = new_step(w, case_id, "询问", "20261123093000", "20261123093006", ["a0930", "b0930"], officers=(A, B))
    flagged = new_step(w, case_id, "查封扣押", "20261123094000", "20261123094010", ["a0940", "a0940b"])
    pdf1, pdf2 = tiny_pdf("v1"), tiny_pdf("v2 corrected")
    (tmp_path / "decision.pdf").write_bytes(pdf1)
    other_id, other_number = new_case(w, "另一案")  # the same document in another case: not this bag's business
    add_version(w.archive, case_id=other_id, actor=ACTOR, kind="查封扣押决定书", title="查封扣押决定书",
                path=tmp_path / "decision.pdf", file_name="decision.pdf")
    v1 = add_version(w.archive, case_id=case_id, actor=ACTOR, kind="查封扣押决定书", title="查封扣押决定书",
                     path=tmp_path / "decision.pdf", file_name="查封扣押决定书.pdf", step_id=flagged)
    (tmp_path / "decision.pdf").write_bytes(pdf2)
    v2 = add_version(w.archive, case_id=case_id, actor=ACTOR, kind="查封扣押决定书", title="查封扣押决定书",
                     path=tmp_path / "decision.pdf", file_name="查封扣押决定书.pdf", record_id=v1.record_id)
    form = add_form(w.archive, case_id=case_id, actor=ACTOR, kind="询问笔录", step_id=covered,
                    fields={key: f"{label}内容" for key, label in FORMS["询问笔录"]})
    odd_pdf = tiny_pdf("an upload may be called anything")
    (tmp_path / "odd.pdf").write_bytes(odd_pdf)
    odd = add_version(w.archive, case_id=case_id, actor=ACTOR, kind="其他", title="名字奇怪的文书",
                      path=tmp_path / "odd.pdf", file_name="statement.json")

    out = tmp_path / "bag"
    res = liuhen(w.settings.config_path, "export", "--case", number, "--out", str(out), "--json")
    assert res.returncode == 0, res.stderr
    bag = bagit.Bag(str(out))
    assert bag.is_valid()
    bag.validate()  # raises with the reason if not
    assert bag.info["Liuhen-Case-Number"] == number
    data = out / "data"

    # every version of every document, byte for byte, each with a statement the archive signed
    records = data / "case" / "records"
    assert (records / f"{v1.record_id}_v1" / "查封扣押决定书.pdf").read_bytes() == pdf1
    assert (records / f"{v1.record_id}_v2" / "查封扣押决定书.pdf").read_bytes() == pdf2
    form_file = records / f"{form.record_id}_v1" / "询问笔录.json"
    assert json.loads(form_file.read_bytes())["fields"]["interviewee"] == "被询问人内容"
    assert (records / f"{odd.record_id}_v1" / "document-statement.json").read_bytes() == odd_pdf
    assert sorted(p.name for p in records.iterdir()) == sorted(
        [f"{v1.record_id}_v1", f"{v2.record_id}_v2", f"{form.record_id}_v1", f"{odd.record_id}_v1"])
    for folder in records.iterdir():
        stmt = json.loads((folder / "statement.json").read_bytes())
        (doc,) = [p for p in folder.iterdir() if not p.name.startswith("statement.")]
        assert stmt["sha256"] == sha256_of(doc) and stmt["case_number"] == number
        v = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "data/keys/archive.pem", "-rawin",
                            "-in", str((folder / "statement.json").relative_to(out)),
                            "-sigfile", str((folder / "statement.sig").relative_to(out))],
                           cwd=out, capture_output=True, text=True)
        assert v.returncode == 0 and "Signature Verified Successfully" in v.stdout, v.stdout + v.stderr

    # the linked originals, byte for byte the docked files
    linked = ["a0930", "b0930", "a0940", "a0940b"]
    evidence = json.loads((data / "evidence.json").read_text())["evidence"]
    assert sorted(e["evidence_id"] for e in evidence) == sorted(r[k].id for k in linked)
    for k in linked:
        (e,) = [e for e in evidence if e["evidence_id"] == r[k].id]
        assert (out / e["bag"]["original"]).read_bytes() == r[k].source.read_bytes()

    # the coverage report as the check gives it, and the case's custody events
    with w.archive.sessions() as db:
        expected = check_case(db, get_case(db, case_id), w.settings.cases).to_dict()
    assert json.loads((data / "case" / "coverage.json").read_text()) == json.loads(json.dumps(expected))
    assert expected["flagged_steps"] == [flagged]
    assert "[!] 查封扣押" in (data / "case" / "coverage.txt").read_text()
    events = [json.loads(x) for x in (data / "case" / "events.jsonl").read_text().splitlines()]
    actions = [e["action"] for e in events]
    assert actions.count("case_opened") == 1 and actions.count("step_added") == 2
    assert sorted(e["evidence_id"] for e in events if e["action"] == "linked") == sorted(r[k].id for k in linked)
    assert actions.count("record_added") == 3 and actions.count("record_revised") == 1
    assert all(json.loads(e["detail"]).get("case_id") == case_id for e in events)
    assert other_number not in (data / "case" / "events.jsonl").read_text()
    case_doc = json.loads((data / "case" / "case.json").read_text())
    assert case_doc["number"] == number and [s["step_id"] for s in case_doc["steps"]] == [covered, flagged]
    with w.archive.sessions() as db:
        (exported,) = [json.loads(e.detail) for e in db.scalars(
            select(CustodyEvent).where(CustodyEvent.action == "case_exported"))
            if json.loads(e.detail)["case_id"] == case_id]
    assert exported["records"] == 4 and sorted(exported["evidence_ids"]) == sorted(r[k].id for k in linked)


# ---------------------------------------------------------------------------- 3. numbering


def _create_cases(cfg: str, unit_id: int, n: int, barrier, worker: int) -> None:
    """One process of the numbering race: open the archive, wait for the others, create ``n`` cases."""
    settings = config.load(cfg, environ={})
    archive = open_archive(settings, migrate=False)
    try:
        barrier.wait(timeout=60)
        for i in range(n):
            with archive.sessions.begin() as db:
                create_case(db, archive.custody, settings.cases, unit_id=unit_id, unit_code=UNIT, category="行政处罚",
                            title=f"进程{worker}案{i}", actor=f"test:worker{worker}")
                time.sleep(random.uniform(0, 0.01))  # hold the number a moment: the others must wait
    finally:
        archive.close()


NUMBER_FORMAT = '[cases]\nnumber_format = "{unit}字〔{year}〕第{seq:05d}号"\n'


def test_case_numbers_are_unique_and_gap_free_when_four_processes_create_cases_at_once(pg_url, tmp_path):
    folder = tmp_path / "race"
    settings = config.load(write_config(folder, pg_url, NUMBER_FORMAT), environ={})
    archive = open_archive(settings)
    try:
        with archive.sessions.begin() as db:
            unit_id = add_unit(db, code=UNIT, name="东城区综合行政执法大队").id
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(4)
        procs = [ctx.Process(target=_create_cases, args=(str(settings.config_path), unit_id, 10, barrier, i)) for i in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=120)
        assert [p.exitcode for p in procs] == [0, 0, 0, 0]
        with archive.sessions() as db:
            rows = db.execute(select(Case.seq, Case.number, Case.year, Case.created_by).order_by(Case.seq)).all()
            counter = db.get(CaseCounter, (unit_id, rows[0].year))
    finally:
        archive.close()
    assert [row.seq for row in rows] == list(range(1, 41))  # 4 × 10, no gap, no duplicate
    year = dt.datetime.now(TZ).year
    assert [row.number for row in rows] == [f"{UNIT}字〔{year}〕第{s:05d}号" for s in range(1, 41)]
    assert {row.created_by for row in rows} == {f"test:worker{i}" for i in range(4)}
    assert counter.last_seq == 40


def test_a_case_whose_transaction_fails_gives_its_number_back(archive, settings):
    with archive.sessions.begin() as db:
        unit_id = add_unit(db, code=UNIT, name="东城区综合行政执法大队").id
        other_id = add_unit(db, code="110102-ZF", name="西城区综合行政执法大队").id

    def create(unit: int = unit_id, code: str = UNIT) -> tuple[int, str]:
        with archive.sessions.begin() as db:
            c = create_case(db, archive.custody, settings.cases, unit_id=unit, unit_code=code, category="行政处罚",
                            title="某案", actor=ACTOR)
            return c.seq, c.number

    year = dt.datetime.now(TZ).year
    assert [create() for _ in range(3)] == [(s, f"{UNIT}-{year}-{s:06d}") for s in (1, 2, 3)]
    with pytest.raises(RuntimeError, match="after the number was taken"):
        with archive.sessions.begin() as db:
            c = create_case(db, archive.custody, settings.cases, unit_id=unit_id, unit_code=UNIT, category="行政处罚",
                            title="失败的案", actor=ACTOR)
            assert c.seq == 4
            raise RuntimeError("the transaction fails after the number was taken")
    assert create() == (4, f"{UNIT}-{year}-000004")  # the failed case's number, not 5
    assert create(other_id, "110102-ZF") == (1, f"110102-ZF-{year}-000001")  # each unit numbers its own
    with archive.sessions() as db:
        assert db.scalars(select(Case.seq).where(Case.unit_id == unit_id).order_by(Case.seq)).all() == [1, 2, 3, 4]
        assert db.scalar(select(func.count()).select_from(Case).where(Case.title == "失败的案")) == 0


# ---------------------------------------------------------------------------- 4. text records


def test_text_record_versions_verify_like_originals_and_tampering_names_the_record(archive, settings, tmp_path):
    with archive.sessions.begin() as db:
        unit_id = add_unit(db, code=UNIT, name="东城区综合行政执法大队").id
        case = create_case(db, archive.custody, settings.cases, unit_id=unit_id, unit_code=UNIT, category="行政检查",
                           title="某餐馆检查", actor=ACTOR)
        case_id = case.id
        step_id = add_step(db, archive.custody, settings.cases, case=case, kind="现场检查",
                           started_at=local("20261123100000"), ended_at=local("20261123101000"), actor=ACTOR).id
    pdf1, pdf2 = tiny_pdf("first"), tiny_pdf("second")
    doc = tmp_path / "笔录.pdf"
    doc.write_bytes(pdf1)
    v1 = add_version(archive, case_id=case_id, actor=ACTOR, kind="现场检查笔录", title="现场检查笔录", path=doc,
                     file_name=doc.name, step_id=step_id)
    doc.write_bytes(pdf2)
    v2 = add_version(archive, case_id=case_id, actor=ACTOR, kind="现场检查笔录", title="现场检查笔录", path=doc,
                     file_name=doc.name, record_id=v1.record_id)
    assert (v1.version, v2.version, v2.record_id) == (1, 2, v1.record_id)
    form = add_form(archive, case_id=case_id, actor=ACTOR, kind="送达回证", step_id=step_id,
                    fields={key: f"{label}：某某" for key, label in FORMS["送达回证"]})
    assert form.version == 1 and form.record_id != v1.record_id

    with archive.sessions() as db:
        versions = {(v.record_id, v.version): v for v in db.scalars(select(TextRecordVersion))}
    assert set(versions) == {(v1.record_id, 1), (v1.record_id, 2), (form.record_id, 1)}
    first = versions[(v1.record_id, 1)]
    with archive.store.open(first.store_key, first.store_version) as f:  # v1 is kept after v2
        assert f.read() == pdf1
    assert first.store_key.startswith("records/") and first.mime == "application/pdf"
    assert versions[(form.record_id, 1)].form and versions[(form.record_id, 1)].mime == "application/json"

    res = liuhen(settings.config_path, "verify", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads(res.stdout)
    assert report["ok"] is True and report["text_records_checked"] == 3 and report["failures"] == []

    # not a document: refused, naming the file; nothing is added
    note = tmp_path / "情况说明.txt"
    note.write_text("这不是文书", encoding="utf-8")
    with pytest.raises(RecordRefused, match="情况说明.txt") as refused:
        add_version(archive, case_id=case_id, actor=ACTOR, kind="情况说明", title="情况说明", path=note,
                    file_name=note.name)
    assert "PDF" in str(refused.value.diagnostics())
    with pytest.raises(RecordRefused, match="询问人"):  # a form with a field left empty
        add_form(archive, case_id=case_id, actor=ACTOR, kind="询问笔录", fields={"time": "2026-11-23 10:00"})
    with archive.sessions() as db:
        assert db.scalar(select(func.count()).select_from(TextRecordVersion)) == 3

    # the versions table is append-only, below the application
    for sql in ("UPDATE text_record_versions SET file_name = 'x.pdf' WHERE id = :id",
                "DELETE FROM text_record_versions WHERE id = :id"):
        with pytest.raises(sa_exc.DBAPIError, match="append-only"):
            with archive.engine.begin() as conn:
                conn.execute(text(sql), {"id": first.id})

    # one byte of the stored first version flipped: verify fails and names the text record
    stored = archive.store.path_of(first.store_key)
    assert stored.is_relative_to(settings.archive.store_path / "records")
    os.chmod(stored, 0o644)
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01
    stored.write_bytes(bytes(data))
    res = liuhen(settings.config_path, "verify", "--json")
    assert res.returncode == 3, res.stdout + res.stderr
    report = json.loads(res.stdout)
    assert report["ok"] is False and report["text_records_checked"] == 3
    (failure,) = report["failures"]
    assert failure["kind"] == "text_record"
    assert f"Text record {v1.record_id} version 1" in failure["detail"] and first.store_key in failure["detail"]


# ---------------------------------------------------------------------------- 6. protection


def _delete_evidence(archive: Archive, evidence_id: int, *, relax_foreign_keys: bool = False) -> int:
    """A raw ``DELETE FROM evidence`` in its own transaction, always rolled back. With
    ``relax_foreign_keys`` the rows that point at the evidence (sightings, jobs, the kept case links)
    do not stop it, so whether the *trigger* refuses it shows alone."""
    with archive.engine.connect() as conn:
        tx = conn.begin()
        try:
            if relax_foreign_keys:
                if conn.dialect.name == "sqlite":
                    conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")  # checked at commit, which never comes
                else:  # PostgreSQL: DDL is transactional, the constraints come back with the rollback
                    for table, name in conn.execute(text(
                            "SELECT conrelid::regclass::text, conname FROM pg_constraint "
                            "WHERE contype = 'f' AND confrelid = 'evidence'::regclass")).all():
                        conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            return conn.execute(text("DELETE FROM evidence WHERE id = :id"), {"id": evidence_id}).rowcount
        finally:
            tx.rollback()


def test_evidence_linked_to_an_open_case_cannot_be_deleted_and_closed_cases_refuse_changes(archive, settings,
                                                                                           make_clip, tmp_path):
    unit_id = _units_and_officers(archive)
    recs = _offload_and_probe(settings, archive, {
        "x": ("bay1", f"DSJ-A001_{A}_20261123110000_0001.MP4", make_clip(seconds=1.0, tone=701)),
        "y": ("bay1", f"DSJ-A001_{A}_20261123110100_0002.MP4", make_clip(seconds=1.0, tone=702))}, probe=False)
    x = recs["x"].id
    with archive.sessions.begin() as db:
        case = create_case(db, archive.custody, settings.cases, unit_id=unit_id, unit_code=UNIT, category="行政强制",
                           title="某违建拆除案", actor=ACTOR)
        case_id = case.id
        step = add_step(db, archive.custody, settings.cases, case=case, kind="强制拆除",
                        started_at=local("20261123110000"), ended_at=local("20261123110200"), actor=ACTOR)
        step_id = step.id
        link_id = link(db, archive.custody, step=step, evidence=db.get(Evidence, x), actor=ACTOR).id

    assert _delete_evidence(archive, recs["y"].id, relax_foreign_keys=True) == 1  # the check itself works
    for relax in (False, True):
        with pytest.raises(sa_exc.DBAPIError, match="linked to an open case"):
            _delete_evidence(archive, x, relax_foreign_keys=relax)
    with archive.sessions() as db:
        assert [c.id for c in open_cases_of(db, x)] == [case_id]

    with archive.sessions.begin() as db:  # the link ended: the trigger no longer refuses
        unlink(db, archive.custody, link_id=link_id, actor=ACTOR)
    with pytest.raises(sa_exc.DBAPIError) as blocked:  # the kept link row (and the sightings) still point at it
        _delete_evidence(archive, x)
    assert "open case" not in str(blocked.value)
    assert _delete_evidence(archive, x, relax_foreign_keys=True) == 1
    with archive.sessions() as db:
        assert open_cases_of(db, x) == []

    with archive.sessions.begin() as db:  # linked again, then the case closed
        link(db, archive.custody, step=get_step(db, step_id), evidence=db.get(Evidence, x), actor=ACTOR)
    with pytest.raises(sa_exc.DBAPIError, match="linked to an open case"):
        _delete_evidence(archive, x, relax_foreign_keys=True)
    with archive.sessions.begin() as db:
        close_case(db, archive.custody, case=get_case(db, case_id), actor=ACTOR)
    assert _delete_evidence(archive, x, relax_foreign_keys=True) == 1
    with archive.sessions() as db:
        assert open_cases_of(db, x) == [] and db.get(Evidence, x) is not None  # every delete was rolled back
        assert get_case(db, case_id).status == "closed"
        current = next(lk.id for lk in get_step(db, step_id).links if lk.unlinked_at is None)

    # a closed case refuses every change
    attempts = {
        "step": lambda db: add_step(db, archive.custody, settings.cases, case=get_case(db, case_id), kind="执行",
                                    started_at=local("20261123120000"), ended_at=local("20261123120100"), actor=ACTOR),
        "link": lambda db: link(db, archive.custody, step=get_step(db, step_id),
                                evidence=db.get(Evidence, recs["y"].id), actor=ACTOR),
        "unlink": lambda db: unlink(db, archive.custody, link_id=current, actor=ACTOR),
        "close": lambda db: close_case(db, archive.custody, case=get_case(db, case_id), actor=ACTOR),
    }
    for attempt in attempts.values():
        with pytest.raises(CaseClosed, match="已结案"):
            with archive.sessions.begin() as db:
                attempt(db)
    pdf = tmp_path / "决定书.pdf"
    pdf.write_bytes(tiny_pdf("late"))
    with pytest.raises(CaseClosed):
        add_version(archive, case_id=case_id, actor=ACTOR, kind="决定书", title="决定书", path=pdf,
                    file_name=pdf.name)
    assert archive.store.head(Digest(sha256_of(pdf)), "records") is None  # refused before anything was stored
    res = liuhen(settings.config_path, "cases", "step", str(case_id), "--kind", "执行", "--start",
                 "2026-11-23T12:00:00", "--end", "2026-11-23T12:01:00", "--json")
    assert res.returncode == 1 and json.loads(res.stdout)["code"] == "case_closed"
    # and nothing of a case is ever deleted
    for table in ("cases", "case_steps", "case_links"):
        with pytest.raises(sa_exc.DBAPIError, match="never deleted"):
            with archive.engine.begin() as conn:
                conn.execute(text(f"DELETE FROM {table}"))


def test_a_reader_who_may_not_see_a_recording_gets_its_coverage_but_not_its_identity_or_bytes(world, tmp_path):
    from cases.export import export_case

    w, r = world, world.recs
    case_id, number = new_case(w, title="两单位联合执法案")
    new_step(w, case_id, "询问", "20261123093000", "20261123093006", ["a0930", "b0930"], officers=(A, B))
    only_a = lambda ev: ev.officer_id == A  # noqa: E731 - a reader whose units hold only officer A's footage
    with w.archive.sessions() as db:
        full = check_case(db, get_case(db, case_id), w.settings.cases, tz="Asia/Shanghai")
        seen = check_case(db, get_case(db, case_id), w.settings.cases, tz="Asia/Shanghai", visible=only_a)
    assert [s.status for s in seen.steps] == [s.status for s in full.steps] == ["covered"]
    assert [(p.evidence_id, p.officer_id) for p in seen.steps[0].pieces] == [(r["a0930"].id, A), (None, None)]
    assert [(p.start, p.end) for p in seen.steps[0].pieces] == [(p.start, p.end) for p in full.steps[0].pieces]

    bag = tmp_path / "bag"
    export_case(w.archive, case_id, bag, actor=ACTOR, visible=only_a)
    assert bagit.Bag(str(bag)).is_valid()
    doc = json.loads((bag / "data" / "case" / "case.json").read_text(encoding="utf-8"))
    assert [lk["evidence_id"] for lk in doc["steps"][0]["links"]] == [r["a0930"].id]
    assert doc["steps"][0]["links_of_other_units_left_out"] == 1
    payload = b"".join(p.read_bytes() for p in (bag / "data").rglob("*") if p.is_file())
    cov = json.loads((bag / "data" / "case" / "coverage.json").read_text(encoding="utf-8"))
    assert [p["evidence_id"] for p in cov["steps"][0]["pieces"]] == [r["a0930"].id, None]
    assert r["b0930"].sha256 not in payload.decode("utf-8", "replace")
    assert r["a0930"].source.read_bytes() in payload
