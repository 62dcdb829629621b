"""Bad input gets a clear answer and loses nothing.

Broken media is archived as-is and marked; links, FIFOs and device files are never opened;
files still being written wait; an unplugged recorder resumes; a full disk stops intake
cleanly; non-UTF-8 names are kept byte for byte. Every refusal names the file, the reason and
what to do.
"""

from __future__ import annotations

import os
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from archive.intake import LocalIntake
from archive.models import Evidence, Sighting
from ingest.errors import IngestHalted
from ingest.station import Station
from tests.docks import put, sha256_of


def offload(settings, archive, listener=None, **kw):
    station = Station(settings.station, LocalIntake(archive), listener=listener)
    try:
        return station.offload_once(settings.station.dock_root, **kw)
    finally:
        station.close()


def test_broken_media_is_archived_as_is_and_marked(settings, archive, make_clip):
    dock = settings.station.dock_root
    good = make_clip(seconds=2.0).read_bytes()
    files = {
        "truncated": put(dock, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", good[: len(good) * 2 // 3]),
        "random": put(dock, "bay1/DSJ-A001_000123_20261123094000_0002.MP4", os.urandom(300_000)),
        "empty": put(dock, "bay1/DSJ-A001_000123_20261123095000_0003.MP4", b""),
        "fine": put(dock, "bay1/DSJ-A001_000123_20261123096000_0004.MP4", good),
    }
    results = {r.path.encode(): r for r in offload(settings, archive)}
    assert {r.status for r in results.values()} == {"archived"}
    with archive.sessions() as db:
        for name, f in files.items():
            ev = db.execute(select(Evidence).where(Evidence.sha256 == f.sha256)).scalar_one()
            assert sha256_of(archive.store.path_of(ev.store_key)) == f.sha256
            assert ev.size == f.size
            expected = {"truncated": "broken", "random": "broken", "empty": "empty", "fine": "ok"}[name]
            assert ev.media_state == expected, (name, ev.media_note)
            if expected != "ok":
                assert ev.media_note  # the reason is there for users to read
    assert results[files["truncated"].rel].media_state == "broken"


def test_links_fifos_and_devices_are_refused_unopened_with_reason_and_action(settings, archive, make_clip, tmp_path):
    dock = settings.station.dock_root
    put(dock, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", make_clip())
    bay = dock / "bay1"
    secret = tmp_path / "outside.txt"
    secret.write_text("not evidence")
    os.symlink(secret, bay / "link_out.MP4")
    os.symlink(bay / "DSJ-A001_000123_20261123093000_0001.MP4", bay / "link_in.MP4")
    os.symlink("/etc", bay / "etcdir")
    os.mkfifo(bay / "pipe.MP4")  # opening it for reading would block forever
    dev = bay / "null.MP4"
    try:
        os.mknod(dev, stat.S_IFCHR | 0o600, os.makedev(1, 3))
        have_dev = True
    except PermissionError:
        have_dev = False  # needs root; the other cases still run

    t0 = time.monotonic()
    results = {r.path: r for r in offload(settings, archive)}
    assert time.monotonic() - t0 < 30  # no hang on the FIFO

    refused = {p: r for p, r in results.items() if r.status == "refused"}
    expected = {"bay1/link_out.MP4", "bay1/link_in.MP4", "bay1/etcdir", "bay1/pipe.MP4"}
    if have_dev:
        expected.add("bay1/null.MP4")
    assert set(refused) == expected
    for p, r in refused.items():
        assert p in r.reason  # names the file
        assert any(w in r.reason for w in ("symbolic link", "named pipe", "device file"))  # says why
        assert any(w in r.reason for w in ("Copy", "copy", "remove", "Nothing to do"))  # says what to do
    with archive.sessions() as db:
        assert db.scalar(select(func.count()).select_from(Evidence)) == 1
        names = [s.original_path for s in db.execute(select(Sighting)).scalars()]
    assert names == ["DSJ-A001_000123_20261123093000_0001.MP4"]


def test_a_file_still_being_written_is_archived_only_once_stable(settings, archive, make_clip):
    dock = settings.station.dock_root
    path = dock / "bay1" / "DSJ-A001_000123_20261123093000_0001.MP4"
    path.parent.mkdir(parents=True)
    data = make_clip(seconds=2.0).read_bytes()
    step = len(data) // 10

    def recorder_writing() -> None:
        with open(path, "wb") as f:
            for i in range(0, len(data), step):
                f.write(data[i:i + step])
                f.flush()
                time.sleep(0.15)

    with open(path, "wb"):
        pass
    t = threading.Thread(target=recorder_writing)
    t.start()
    try:
        (r,) = offload(settings, archive)
    finally:
        t.join()
    assert r.status == "archived"
    assert r.size == len(data) and r.sha256 == sha256_of(path)  # the finished file, not a partial one


def test_a_file_that_never_settles_is_refused_without_hanging(settings, archive):
    path = settings.station.dock_root / "bay1" / "DSJ-A001_000123_20261123093000_0001.MP4"
    path.parent.mkdir(parents=True)
    stop = threading.Event()

    def endless() -> None:
        with open(path, "ab") as f:
            while not stop.is_set():
                f.write(b"x" * 1000)
                f.flush()
                time.sleep(0.05)

    t = threading.Thread(target=endless)
    t.start()
    try:
        (r,) = offload(settings, archive, unstable_timeout=2.0)
    finally:
        stop.set()
        t.join()
    assert r.status == "refused"
    assert "still being written" in r.reason and "run the offload again" in r.reason
    with archive.sessions() as db:
        assert db.scalar(select(func.count()).select_from(Evidence)) == 0


def test_recorder_unplugged_mid_copy_resumes_when_it_returns(settings, archive):
    dock = settings.station.dock_root
    data = os.urandom(64 * 1024 * 1024)  # larger than the read-ahead, so the unplug hits a read
    f = put(dock, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", data)
    path = os.fsencode(dock) + b"/" + f.rel
    st = os.stat(path)
    pulled = {"done": False}

    def unplug_at_half(event: dict) -> None:
        # the recorder vanishes mid-copy: its file ends early under the reader
        if event["event"] == "progress" and event["done"] >= len(data) // 2 and not pulled["done"]:
            pulled["done"] = True
            os.truncate(path, event["done"])

    (r,) = offload(settings, archive, listener=unplug_at_half)
    assert r.status == "interrupted"
    assert "Dock the recorder again" in r.reason
    with archive.sessions() as db:
        assert db.scalar(select(func.count()).select_from(Evidence)) == 0  # nothing half-archived

    # the recorder comes back with its file intact
    with open(path, "wb") as fh:
        fh.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    firsts: list[int] = []
    (r,) = offload(settings, archive, listener=lambda e: firsts.append(e["done"]) if e["event"] == "progress" else None)
    assert r.status == "archived" and r.sha256 == f.sha256
    assert firsts[0] >= len(data) // 2  # resumed from the kept part, not from byte 0
    with archive.sessions() as db:
        ev = db.execute(select(Evidence)).scalar_one()
        assert sha256_of(archive.store.path_of(ev.store_key)) == f.sha256


def _mount_tmpfs(where: Path, size: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill up (needs root): {r.stderr.strip()}")


def test_full_station_disk_stops_intake_clearly_and_loses_nothing(make_settings, tmp_path, make_clip):
    from app.runtime import open_archive

    small = tmp_path / "small"
    _mount_tmpfs(small, "3m")
    try:
        cfg = make_settings(folder=tmp_path / "cfg")
        import dataclasses

        st = dataclasses.replace(cfg.station, state_path=small / "station")
        s = dataclasses.replace(cfg, station=st)
        a = open_archive(s)
        try:
            big = put(s.station.dock_root, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", os.urandom(5 << 20))
            with pytest.raises(IngestHalted) as e:
                offload(s, a)
            assert e.value.code == "staging_full"
            assert "full" in e.value.detail and "Free space" in e.value.action
            assert "Nothing was lost" in e.value.action
            with a.sessions() as db:
                assert db.scalar(select(func.count()).select_from(Evidence)) == 0
            assert sha256_of(os.fsencode(s.station.dock_root) + b"/" + big.rel) == big.sha256  # recorder untouched
        finally:
            a.close()
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


def test_full_archive_store_stops_intake_and_counts_no_half_object(make_settings, tmp_path):
    import dataclasses

    from app.runtime import open_archive

    small = tmp_path / "store"
    _mount_tmpfs(small, "3m")
    try:
        cfg = make_settings(folder=tmp_path / "cfg")
        s = dataclasses.replace(cfg, archive=dataclasses.replace(cfg.archive, store_path=small / "originals"))
        a = open_archive(s)
        try:
            put(s.station.dock_root, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", os.urandom(5 << 20))
            with pytest.raises(IngestHalted) as e:
                offload(s, a)
            assert e.value.code == "store_full"
            with a.sessions() as db:
                assert db.scalar(select(func.count()).select_from(Evidence)) == 0
            leftovers = [p for p in (small / "originals").rglob("*") if p.is_file()]
            assert leftovers == []  # no half-written object, not even a temp file
        finally:
            a.close()
        # space is freed (the store moves to a bigger disk): the staged file goes through
        s2 = dataclasses.replace(s, archive=dataclasses.replace(s.archive, store_path=tmp_path / "big"))
        a2 = open_archive(s2)
        try:
            results = offload(s2, a2)
            assert [r.status for r in results] == ["archived"]
        finally:
            a2.close()
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


def test_non_utf8_file_names_are_kept_exactly(settings, archive, make_clip):
    dock = settings.station.dock_root
    gbk = "现场检查_张三.MP4".encode("gbk")
    junk = b"\xff\xfe\xfd_rec.MP4"
    put(dock, b"bay1/DCIM/" + gbk, make_clip())
    put(dock, b"bay1/DCIM/" + junk, make_clip(tone=999))
    results = offload(settings, archive)
    by_hex = {r.path_hex: r for r in results}
    assert (b"bay1/DCIM/" + gbk).hex() in by_hex
    assert (b"bay1/DCIM/" + junk).hex() in by_hex
    assert by_hex[(b"bay1/DCIM/" + gbk).hex()].path == "bay1/DCIM/现场检查_张三.MP4"  # readable for people
    with archive.sessions() as db:
        raw = {bytes.fromhex(s.original_path_hex): s for s in db.execute(select(Sighting)).scalars()}
    assert set(raw) == {b"DCIM/" + gbk, b"DCIM/" + junk}  # the exact bytes, kept
    assert raw[b"DCIM/" + gbk].original_path == "DCIM/现场检查_张三.MP4"
    import json

    from ingest.wire import Manifest

    m = Manifest.parse(raw[b"DCIM/" + junk].manifest)
    assert m.raw_path == b"DCIM/" + junk and m.path_encoding == "unknown"
    json.loads(raw[b"DCIM/" + gbk].manifest)


class CorruptingIntake(LocalIntake):
    """The archive's intake as a remote station meets it (``receive`` re-hashing what it got, as
    ``archive.uploads`` does), with one bit flipped in the bytes on the way (as a bad disk or cable
    would) — the archive's own re-hash must catch it."""

    def submit(self, *, manifest, signature, path):
        from archive.service import receive

        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x04
        os.chmod(path, 0o644)
        path.write_bytes(bytes(data))
        return receive(self.archive, manifest_bytes=manifest, signature=signature, path=path)


def test_archive_refuses_bytes_that_do_not_match_the_signed_manifest(settings, archive, make_clip):
    from hashing.models import CustodyEvent

    f = put(settings.station.dock_root, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", make_clip())
    station = Station(settings.station, CorruptingIntake(archive))
    try:
        (r,) = station.offload_once(settings.station.dock_root)
    finally:
        station.close()
    assert r.status == "refused"
    assert "not to the manifest's" in r.reason and "offload the file again" in r.reason
    with archive.sessions() as db:
        assert db.scalar(select(func.count()).select_from(Evidence)) == 0
        refused = db.execute(select(CustodyEvent).where(CustodyEvent.action == "refused")).scalar_one()
        assert refused.outcome == "failure" and refused.object_sha256 == f.sha256
    assert not [p for p in archive.settings.archive.store_path.rglob("*") if p.is_file()]
    # the recorder still has the file; the next, clean offload archives it
    (r,) = offload(settings, archive)
    assert r.status == "archived" and r.sha256 == f.sha256


def _watching(s, archive):
    """``liuhen station watch``'s loop in a thread (retrying a full disk every 0.3 s); its answers
    arrive on the returned queue."""
    import queue

    from ingest.watch import watch

    s.station.dock_root.mkdir(parents=True, exist_ok=True)
    answers: queue.Queue = queue.Queue()
    stop = threading.Event()
    t = threading.Thread(target=watch, args=(s, LocalIntake(archive), s.station.dock_root),
                         kwargs=dict(stop=stop, on_result=answers.put, rescan_seconds=0.5, full_retry_seconds=0.3),
                         daemon=True)
    t.start()
    return answers, stop, t


def _next_answer(answers, t, status: str, timeout: float = 60.0):
    import queue

    deadline = time.monotonic() + timeout
    while True:
        try:
            r = answers.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no {status} answer within {timeout:.0f} s") from None
        assert t.is_alive(), "the watcher died"
        if r.status == status:
            return r


def test_watcher_on_a_full_station_disk_says_so_keeps_the_file_and_retries(make_settings, tmp_path):
    import dataclasses

    from app.runtime import open_archive

    small = tmp_path / "small"
    _mount_tmpfs(small, "8m")
    try:
        cfg = make_settings(folder=tmp_path / "cfg")
        s = dataclasses.replace(cfg, station=dataclasses.replace(cfg.station, state_path=small / "station"))
        filler = small / "filler"
        filler.write_bytes(b"\0" * (6 << 20))
        a = open_archive(s)
        answers, stop, t = _watching(s, a)
        try:
            big = put(s.station.dock_root, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", os.urandom(5 << 20))
            r = _next_answer(answers, t, "refused")
            assert r.path == "bay1/DSJ-A001_000123_20261123093000_0001.MP4"
            assert "staging disk" in r.reason and "full" in r.reason and "Free space" in r.reason
            assert "Nothing was lost" in r.reason and "tries again by itself" in r.reason
            time.sleep(1.0)
            assert t.is_alive()  # the station waits, it does not die
            with a.sessions() as db:
                assert db.scalar(select(func.count()).select_from(Evidence)) == 0
            assert sha256_of(os.fsencode(s.station.dock_root) + b"/" + big.rel) == big.sha256

            filler.unlink()  # the operator frees space: the station goes on by itself
            r = _next_answer(answers, t, "archived")
            assert r.sha256 == big.sha256
        finally:
            stop.set()
            t.join(timeout=30)
            a.close()
        assert not t.is_alive()
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


def test_watcher_on_a_full_archive_store_keeps_the_file_queued_and_retries(make_settings, tmp_path):
    import dataclasses

    from app.runtime import open_archive

    small = tmp_path / "store"
    _mount_tmpfs(small, "8m")
    try:
        cfg = make_settings(folder=tmp_path / "cfg")
        s = dataclasses.replace(cfg, archive=dataclasses.replace(cfg.archive, store_path=small / "originals"))
        filler = small / "filler"
        filler.write_bytes(b"\0" * (6 << 20))
        a = open_archive(s)
        answers, stop, t = _watching(s, a)
        try:
            big = put(s.station.dock_root, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", os.urandom(5 << 20))
            r = _next_answer(answers, t, "queued")
            assert r.sha256 == big.sha256 and "kept staged on the station" in r.reason
            assert "tries again by itself" in r.reason
            time.sleep(1.0)
            assert t.is_alive()
            with a.sessions() as db:
                assert db.scalar(select(func.count()).select_from(Evidence)) == 0

            filler.unlink()
            r = _next_answer(answers, t, "archived")
            assert r.sha256 == big.sha256
        finally:
            stop.set()
            t.join(timeout=30)
            a.close()
        assert not t.is_alive()
        with a.sessions() as db:
            assert db.scalar(select(func.count()).select_from(Sighting)) == 1  # sent again, archived once
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


def test_ingest_once_on_a_full_station_disk_exits_1_naming_the_disk(tmp_path, database_url):
    import json
    import sys

    from tests.conftest import write_config

    small = tmp_path / "small"
    _mount_tmpfs(small, "3m")
    try:
        cfg = write_config(tmp_path / "cfg", database_url)
        cfg.write_text(cfg.read_text().replace('state_path = "var/station"', f'state_path = "{small}/station"'))
        big = put(tmp_path / "cfg" / "dock", "bay1/DSJ-A001_000123_20261123093000_0001.MP4", os.urandom(5 << 20))
        p = subprocess.run([sys.executable, "-m", "app.cli", "--config", str(cfg), "ingest", "--once", "--json"],
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 1, p.stderr  # README: 1 on an error that stopped intake
        (row,) = [json.loads(x) for x in p.stdout.splitlines() if x.startswith("{") and '"path"' in x]
        assert row["status"] == "refused" and "full" in row["reason"]
        assert "staging" in (p.stdout + p.stderr) and "Free space" in (p.stdout + p.stderr)
        assert sha256_of(os.fsencode(tmp_path / "cfg" / "dock") + b"/" + big.rel) == big.sha256
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)
