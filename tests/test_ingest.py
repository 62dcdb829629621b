"""Offloading a dock: every file archived once, bit for bit, with where it came from."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from sqlalchemy import func, select

from archive.intake import LocalIntake
from archive.models import Evidence, Sighting
from ingest.station import Station
from tests.docks import BAY3_BINDING, build_multi_bay_dock, put, sha256_of


def offload(settings, archive, **kw):
    station = Station(settings.station, LocalIntake(archive))
    try:
        return station.offload_once(settings.station.dock_root, **kw)
    finally:
        station.close()


@pytest.fixture
def settings(make_settings):
    return make_settings(BAY3_BINDING)


def test_every_file_of_a_multi_bay_dock_is_archived_once_with_its_true_sha256(settings, archive, make_clip):
    files = build_multi_bay_dock(settings.station.dock_root, make_clip)
    results = offload(settings, archive)

    by_path = {r.path.encode(): r for r in results}
    assert set(by_path) == {f.rel for f in files}
    for f in files:
        r = by_path[f.rel]
        assert r.sha256 == f.sha256, f.rel  # the station's digest equals hashlib's, computed independently
        assert r.size == f.size
    statuses = sorted(r.status for r in results)
    assert statuses.count("duplicate") == 1 and statuses.count("archived") == len(files) - 1

    with archive.sessions() as db:
        evidence = db.execute(select(Evidence)).scalars().all()
        assert len(evidence) == len({f.sha256 for f in files})
        for ev in evidence:
            stored = archive.store.path_of(ev.store_key)
            assert sha256_of(stored) == ev.sha256  # the stored original, re-read from disk
            assert (stored.stat().st_mode & 0o777) == 0o400
        n_sightings = db.scalar(select(func.count()).select_from(Sighting))
        assert n_sightings == len(files)
        dup = db.execute(select(Evidence).where(Evidence.sha256 == files[0].sha256)).scalar_one()
        assert sorted(s.bay for s in dup.sightings) == ["bay1", "bay3"]  # stored once, seen twice


def test_layouts_give_device_officer_and_start_time(settings, archive, make_clip):
    build_multi_bay_dock(settings.station.dock_root, make_clip)
    offload(settings, archive)
    with archive.sessions() as db:
        rows = {s.original_path: s for s in db.execute(select(Sighting)).scalars()}
    shanghai = dt.timezone(dt.timedelta(hours=8))
    a = rows["DSJ-A001_000123_20261123093000_0001.MP4"]
    assert (a.layout, a.device_id, a.officer_id) == ("pattern", "DSJ-A001", "000123")
    assert a.recorded_at == dt.datetime(2026, 11, 23, 9, 30, tzinfo=shanghai)  # recorder local time
    axis = rows["zhangsan_AXB1234567_20261123T013000Z/20261123T013100Z_REC0002.mkv"]
    assert (axis.layout, axis.device_id, axis.officer_id) == ("axis", "AXB1234567", "zhangsan")
    assert axis.recorded_at == dt.datetime(2026, 11, 23, 1, 31, tzinfo=dt.UTC)
    trail = rows["zhangsan_AXB1234567_20261123T013000Z/zhangsan_AXB1234567_20261123T013000Z_gpstrail.json"]
    assert trail.layout == "axis" and trail.device_id == "AXB1234567"
    dcim = rows["DCIM/100MEDIA/VID_0001.MP4"]
    assert (dcim.layout, dcim.device_id, dcim.officer_id) == ("dcim", "DSJ-C003", "000789")  # bound to bay3


def test_docking_the_same_recorder_again_archives_nothing_twice(settings, archive, make_clip):
    files = build_multi_bay_dock(settings.station.dock_root, make_clip)
    offload(settings, archive)
    again = offload(settings, archive)
    assert len(again) == len(files)
    assert {r.status for r in again} == {"duplicate"}
    assert all("already offloaded" in r.reason for r in again)
    with archive.sessions() as db:
        assert db.scalar(select(func.count()).select_from(Sighting)) == len(files)


def test_recorder_files_are_kept_unless_config_says_wipe(make_settings, make_clip):
    from app.runtime import open_archive

    keep = make_settings()
    a = open_archive(keep)
    try:
        f = put(keep.station.dock_root, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", make_clip())
        offload(keep, a)
        assert os.path.exists(os.fsencode(keep.station.dock_root) + b"/" + f.rel)
    finally:
        a.close()


def test_wipe_after_offload_deletes_only_acknowledged_files_and_logs_it(make_settings, make_clip, tmp_path):
    from app.runtime import open_archive
    from archive.service import show

    s = make_settings('delete_after_offload = true\n', folder=tmp_path / "wipe")
    a = open_archive(s)
    try:
        f = put(s.station.dock_root, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", make_clip())
        (r,) = offload(s, a)
        assert r.status == "archived"
        assert not os.path.exists(os.fsencode(s.station.dock_root) + b"/" + f.rel)
        actions = [e["action"] for e in show(a, str(r.evidence_id))["custody"]]
        assert actions[-1] == "wiped_from_recorder"
        assert actions.index("stored") < actions.index("wiped_from_recorder")
    finally:
        a.close()


def test_station_staging_is_empty_after_every_file_is_acknowledged(settings, archive, make_clip):
    build_multi_bay_dock(settings.station.dock_root, make_clip)
    offload(settings, archive)
    left = [p.name for p in settings.station.staging_path.iterdir() if p.name != "partial"]
    assert left == []
    assert list((settings.station.staging_path / "partial").iterdir()) == []
