"""Offload at disk speed without proving less: one hash pass in-process, the archive's own check
as a fixity job, wipes that wait for it, parallel pipelines, no stability wait for old files."""

from __future__ import annotations

import dataclasses
import json
import os
import time

from sqlalchemy import select

from archive import fixity
from archive.intake import LocalIntake
from archive.models import Evidence, FixityState
from hashing.models import CustodyEvent
from ingest.station import Station
from tests.docks import put, sha256_of

CLIP = "bay1/DSJ-A001_000123_20261123093000_0001.MP4"


def offload(settings, intake, listener=None):
    station = Station(settings.station, intake, listener=listener)
    try:
        return station.offload_once(settings.station.dock_root)
    finally:
        station.close()


def received_detail(archive, evidence_id):
    with archive.sessions() as db:
        ev = db.execute(select(CustodyEvent).where(CustodyEvent.evidence_id == evidence_id,
                                                   CustodyEvent.action == "received")).scalar_one()
        return json.loads(ev.detail)


def actions(archive, evidence_id):
    with archive.sessions() as db:
        return [(e.action, e.outcome) for e in db.execute(
            select(CustodyEvent).where(CustodyEvent.evidence_id == evidence_id).order_by(CustodyEvent.seq)).scalars()]


class CorruptStaging(LocalIntake):
    """The embedded intake, with one bit of the staged copy flipped after the station hashed it (a
    disk that wrote what it was given wrongly): only a re-read of the stored original can see it."""

    def submit(self, *, manifest, signature, path):
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x10
        os.chmod(path, 0o644)
        path.write_bytes(bytes(data))
        return super().submit(manifest=manifest, signature=signature, path=path)


class RemoteLike(LocalIntake):
    """Receives as the HTTP intake does (``archive.uploads`` → ``receive`` without ``trusted``), and
    flips one bit of the files named in ``corrupt`` on the way."""

    def __init__(self, archive, corrupt=()):
        super().__init__(archive)
        self.corrupt = set(corrupt)

    def submit(self, *, manifest, signature, path):
        from archive.service import receive
        from ingest.wire import Manifest

        if Manifest.parse(manifest).original_path in self.corrupt:
            data = bytearray(path.read_bytes())
            data[7] ^= 0x01
            os.chmod(path, 0o644)
            path.write_bytes(bytes(data))
        return receive(self.archive, manifest_bytes=manifest, signature=signature, path=path)


def test_embedded_intake_takes_the_station_stream_digest_and_queues_its_own_check(settings, archive, make_clip):
    f = put(settings.station.dock_root, CLIP, make_clip())
    (r,) = offload(settings, LocalIntake(archive))
    assert r.status == "archived" and r.sha256 == f.sha256

    detail = received_detail(archive, r.evidence_id)
    assert detail["verified_by"] == "station-stream" and detail["rehashed"] is False
    assert "queued" in detail["independent_check"]
    with archive.sessions() as db:
        ev = db.get(Evidence, r.evidence_id)
        state = db.get(FixityState, ev.store_key)
        assert state is not None and state.last_checked_at is None  # the fixity job, committed with the evidence
        assert "independent re-read" in state.last_detail
    assert fixity.status(archive, settings=settings.fixity).never_checked == 1

    done = fixity.run(archive, settings=settings.fixity)
    assert (done.checked, done.failed) == (1, 0)
    assert ("verified", "success") in actions(archive, r.evidence_id)


def test_a_remote_upload_is_rehashed_on_receipt_and_says_so(settings, archive, make_clip):
    put(settings.station.dock_root, CLIP, make_clip())
    (r,) = offload(settings, RemoteLike(archive))
    assert r.status == "archived"
    detail = received_detail(archive, r.evidence_id)
    assert detail["verified_by"] == "archive-rehash" and detail["rehashed"] is True


def test_wipe_waits_for_the_archive_check_and_happens_after_it(make_settings, make_clip, tmp_path):
    from app.runtime import open_archive

    s = make_settings("delete_after_offload = true\n", folder=tmp_path / "wipe")
    a = open_archive(s)
    try:
        f = put(s.station.dock_root, CLIP, make_clip())
        (r,) = offload(s, LocalIntake(a))
        assert r.status == "archived"
        assert not os.path.exists(os.fsencode(s.station.dock_root) + b"/" + f.rel)
        seq = actions(a, r.evidence_id)
        assert seq.index(("verified", "success")) < seq.index(("wiped_from_recorder", "success"))
        assert received_detail(a, r.evidence_id)["verified_by"] == "station-stream"
    finally:
        a.close()


def test_a_stored_copy_that_fails_the_archive_check_is_never_wiped_from_the_recorder(make_settings, make_clip,
                                                                                     tmp_path):
    from app.runtime import open_archive

    s = make_settings("delete_after_offload = true\n", folder=tmp_path / "bad")
    a = open_archive(s)
    try:
        f = put(s.station.dock_root, CLIP, make_clip())
        (r,) = offload(s, CorruptStaging(a))
        assert r.status == "archived" and r.sha256 == f.sha256  # on the station's stream digest
        on_recorder = os.fsencode(s.station.dock_root) + b"/" + f.rel
        assert os.path.exists(on_recorder) and sha256_of(on_recorder) == f.sha256  # kept, untouched
        seq = actions(a, r.evidence_id)
        assert ("verified", "failure") in seq and not any(x == "wiped_from_recorder" for x, _ in seq)
        assert fixity.status(a, settings=s.fixity).failing  # the alert stays visible
        # the next pass asks again, and still does not wipe
        offload(s, LocalIntake(a))
        assert os.path.exists(on_recorder)
    finally:
        a.close()


def test_many_files_across_bays_offloaded_in_parallel_each_with_its_true_digest(make_settings, make_clip, tmp_path):
    from app.runtime import open_archive

    s = make_settings("parallel = 3\n", folder=tmp_path / "par")
    a = open_archive(s)
    try:
        files = []
        for i in range(12):
            clip = make_clip(seconds=1.0, tone=300 + 50 * i)
            files.append(put(s.station.dock_root, f"bay{i % 3 + 1}/DSJ-A00{i % 3 + 1}_000123_2026112309{i:02d}00_"
                                                  f"{i:04d}.MP4", clip))
        bad = files[5]
        corrupt = {bad.rel.split(b"/", 1)[1].decode()}
        os.mkfifo(os.path.join(os.fsencode(s.station.dock_root), b"bay2", b"not-a-recording"))
        station = Station(s.station, RemoteLike(a, corrupt))
        assert station.parallel == 3
        try:
            results = station.offload_once(s.station.dock_root)
        finally:
            station.close()
        by = {r.path.encode(): r for r in results}
        assert len(results) == len(files) + 1  # every file answered, the FIFO too
        assert by[b"bay2/not-a-recording"].status == "refused"
        assert by[bad.rel].status == "refused" and "not to the manifest's" in by[bad.rel].reason
        for f in files:
            if f is not bad:
                assert (by[f.rel].status, by[f.rel].sha256) == ("archived", f.sha256), f.rel
        with a.sessions() as db:
            stored = {ev.sha256: a.store.path_of(ev.store_key) for ev in db.execute(select(Evidence)).scalars()}
        assert set(stored) == {f.sha256 for f in files if f is not bad}
        assert all(sha256_of(p) == h for h, p in stored.items())
    finally:
        a.close()


def test_a_file_unchanged_for_longer_than_the_stability_period_is_offloaded_without_waiting(
        make_settings, make_clip, tmp_path):
    from app.runtime import open_archive

    s = make_settings(folder=tmp_path / "old")  # stable_seconds = 0.3
    a = open_archive(s)
    try:
        put(s.station.dock_root, CLIP, make_clip())
        time.sleep(s.station.stable_seconds + 0.2)  # its last change is now older than the period
        events: list[str] = []
        (r,) = offload(s, LocalIntake(a), listener=lambda e: events.append(e["event"]))
        assert r.status == "archived"
        # taken on the first look: one scan of the dock in all, no second look to see it settle
        assert events.count("bays") == 1

        # a file changed within the period still waits for it (a longer period, so a slow machine
        # cannot let it age past the period before the first scan)
        slow = dataclasses.replace(s, station=dataclasses.replace(s.station, stable_seconds=2.0))
        clip = make_clip(tone=880)
        fresh = put(s.station.dock_root, "bay2/DSJ-B002_000456_20261123093000_0001.MP4", clip)
        events.clear()
        results = offload(slow, LocalIntake(a), listener=lambda e: events.append(e["event"]))
        (r2,) = [x for x in results if x.path.startswith("bay2/")]
        assert r2.status == "archived" and r2.sha256 == fresh.sha256
        assert events[:events.index("file_started")].count("bays") >= 2  # seen, then seen unchanged
    finally:
        a.close()
