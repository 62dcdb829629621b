"""Every original becomes playable, searchable media: probe + render jobs on real recordings.

Real ffmpeg makes the recordings (H.264, H.265, MJPEG-in-AVI, WAV, MP3, JPEG), the real station
offloads them, real workers (threads here, processes in the kill/concurrency tests) process them.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from archive.intake import LocalIntake
from archive.models import Evidence
from archive.service import show
from ingest.station import Station
from integrity.service import verify_all
from jobs.models import DONE, Job
from jobs.worker import run_worker
from media.service import HANDLERS
from tests.conftest import ffmpeg_bin
from tests.docks import put


def ff(*args: str) -> None:
    subprocess.run([ffmpeg_bin(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def lavfi_av(seconds: float, size: str = "320x240") -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]


@pytest.fixture(scope="session")
def recordings(media_dir: Path) -> dict[str, Path]:
    d = media_dir / "kinds"
    d.mkdir()
    out = {
        "h264": d / "h264.mp4", "hevc": d / "hevc.mp4", "mjpeg": d / "mjpeg.avi", "wav": d / "voice.wav",
        "mp3": d / "voice.mp3", "jpeg": d / "photo.jpg", "dated": d / "dated.mp4",
    }
    ff(*lavfi_av(12), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
       "-movflags", "+faststart", "-shortest", str(out["h264"]))
    ff(*lavfi_av(3), "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
       "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(out["hevc"]))
    ff(*lavfi_av(3), "-c:v", "mjpeg", "-q:v", "5", "-c:a", "pcm_s16le", "-shortest", str(out["mjpeg"]))
    ff("-f", "lavfi", "-i", "sine=frequency=300:duration=3", str(out["wav"]))
    ff("-f", "lavfi", "-i", "sine=frequency=500:duration=3", "-c:a", "libmp3lame", str(out["mp3"]))
    ff("-f", "lavfi", "-i", "testsrc2=size=1600x1200:duration=1", "-frames:v", "1", str(out["jpeg"]))
    ff(*lavfi_av(2), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
       "-metadata", "creation_time=2026-11-20T02:03:04Z", "-shortest", str(out["dated"]))
    return out


def _moov_before_mdat(data: bytes) -> bool:
    pos, order = 0, []
    while pos + 8 <= len(data):
        n, typ = struct.unpack(">I4s", data[pos:pos + 8])
        if n == 1:
            n = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
        order.append(typ)
        if n < 8:
            break
        pos += n
    return b"moov" in order and b"mdat" in order and order.index(b"moov") < order.index(b"mdat")


def _ffprobe(path: Path) -> dict:
    r = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                        str(path)], capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def _offload_and_process(settings, archive) -> None:
    station = Station(settings.station, LocalIntake(archive))
    try:
        results = station.offload_once(settings.station.dock_root)
    finally:
        station.close()
    assert {r.status for r in results} <= {"archived", "duplicate"}
    run_worker(archive, HANDLERS, stop=threading.Event(), poll_s=0.05, until_idle=True)


def _by_name(archive) -> dict[str, dict]:
    with archive.sessions() as db:
        ids = {e.file_name: e.id for e in db.execute(select(Evidence)).scalars()}
    return {name: show(archive, str(i)) for name, i in ids.items()}


def _derived_path(archive, rec: dict, kind: str) -> Path:
    d = next(x for x in rec["derived"] if x["kind"] == kind)
    return archive.store.path_of(d["store_key"])


def test_each_kind_of_recording_gets_the_right_proxy_and_previews(settings, archive, recordings):
    dock = settings.station.dock_root
    put(dock, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", recordings["h264"])
    put(dock, "bay1/DSJ-A001_000123_20261123093100_0002.MP4", recordings["hevc"])
    put(dock, "bay2/DCIM/100MEDIA/VID_0001.AVI", recordings["mjpeg"])
    put(dock, "bay2/DCIM/100MEDIA/REC_0001.WAV", recordings["wav"])
    put(dock, "bay2/DCIM/100MEDIA/REC_0002.MP3", recordings["mp3"])
    put(dock, "bay2/DCIM/100MEDIA/IMG_0001.JPG", recordings["jpeg"])
    _offload_and_process(settings, archive)
    recs = _by_name(archive)

    with archive.sessions() as db:
        assert {j.state for j in db.execute(select(Job)).scalars()} == {DONE}

    expected_path = {"DSJ-A001_000123_20261123093000_0001.MP4": "remux",
                     "DSJ-A001_000123_20261123093100_0002.MP4": "transcode", "VID_0001.AVI": "transcode"}
    for name, path_taken in expected_path.items():
        rec = recs[name]
        assert rec["playback"] == "ready", rec["playback_note"]
        proxy = next(x for x in rec["derived"] if x["kind"] == "proxy")
        assert proxy["detail"]["path"] == path_taken, name
        p = _derived_path(archive, rec, "proxy")
        info = _ffprobe(p)
        codecs = {s["codec_type"]: s["codec_name"] for s in info["streams"]}
        assert codecs == {"video": "h264", "audio": "aac"}, name
        assert "mp4" in info["format"]["format_name"]
        assert _moov_before_mdat(p.read_bytes()), f"{name}: moov atom is not first (no faststart)"
        assert abs(float(info["format"]["duration"]) - rec["media"]["duration_s"]) <= 0.5
        kinds = {x["kind"] for x in rec["derived"]}
        assert {"proxy", "poster", "sprite", "vtt"} <= kinds
        for x in rec["derived"]:  # every derived file points back, is stored and hash-checked
            assert x["command"][0].endswith("ffmpeg") and x["tool_version"].startswith("ffmpeg version")
            from tests.docks import sha256_of

            assert sha256_of(archive.store.path_of(x["store_key"])) == x["sha256"]

    vtt = _derived_path(archive, recs["DSJ-A001_000123_20261123093000_0001.MP4"], "vtt").read_text()
    assert vtt.startswith("WEBVTT")
    assert "00:00:00.000 --> 00:00:10.000" in vtt and "00:00:10.000 -->" in vtt  # one frame every 10 s

    for name in ("REC_0001.WAV", "REC_0002.MP3"):
        rec = recs[name]
        kinds = {x["kind"] for x in rec["derived"]}
        assert kinds == {"proxy", "waveform"}, name
        info = _ffprobe(_derived_path(archive, rec, "proxy"))
        assert [s["codec_name"] for s in info["streams"]] == ["aac"]
    photo = recs["IMG_0001.JPG"]
    (preview,) = [x for x in photo["derived"]]
    assert preview["kind"] == "preview"
    w = _ffprobe(_derived_path(archive, photo, "preview"))["streams"][0]
    assert max(w["width"], w["height"]) <= 1280

    # the custody log has the exact ffmpeg command of every derived file
    events = [e for e in recs["VID_0001.AVI"]["custody"] if e["action"] == "derived"]
    assert events and all(e["detail"]["command"] and e["detail"]["exit_code"] == 0 for e in events)
    assert verify_all(archive).ok


def test_start_time_from_container_else_file_name(settings, archive, recordings):
    dock = settings.station.dock_root
    put(dock, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", recordings["dated"])
    put(dock, "bay1/DSJ-A001_000123_20261123094500_0002.MP4", recordings["h264"])
    _offload_and_process(settings, archive)
    recs = _by_name(archive)
    dated = recs["DSJ-A001_000123_20261123093000_0001.MP4"]
    assert dated["recorded_at_source"] == "container"
    assert dated["recorded_at"].startswith("2026-11-20T02:03:04")
    plain = recs["DSJ-A001_000123_20261123094500_0002.MP4"]
    assert plain["recorded_at_source"] == "file_name"
    assert plain["recorded_at"].startswith("2026-11-23T01:45:00")  # 09:45 in Asia/Shanghai


def test_gps_track_is_read_from_the_axis_trail(settings, archive, recordings):
    folder = "bay1/zhangsan_AXB1234567_20261123T013000Z"
    put(settings.station.dock_root, f"{folder}/20261123T013000Z_REC0001.mp4", recordings["h264"])
    trail = {"positions": [{"time": "2026-11-23T01:30:00Z", "lat": 39.9087, "lon": 116.3975},
                           {"time": "2026-11-23T01:30:05Z", "lat": 39.9088, "lon": 116.3976}]}
    put(settings.station.dock_root, f"{folder}/zhangsan_AXB1234567_20261123T013000Z_gpstrail.json",
        json.dumps(trail).encode())
    _offload_and_process(settings, archive)
    rec = _by_name(archive)["zhangsan_AXB1234567_20261123T013000Z_gpstrail.json"]
    assert rec["playback"] == "none"
    assert [(p["lat"], p["lon"]) for p in rec["gps_track"]] == [(39.9087, 116.3975), (39.9088, 116.3976)]


def test_broken_media_ends_unplayable_with_a_reason_and_the_original_still_verifies(settings, archive, recordings):
    dock = settings.station.dock_root
    good = recordings["h264"].read_bytes()
    put(dock, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", good[: len(good) * 2 // 5])
    put(dock, "bay1/DSJ-A001_000123_20261123093100_0002.MP4", os.urandom(200_000))
    put(dock, "bay1/DSJ-A001_000123_20261123093200_0003.MP4", b"")
    t0 = time.monotonic()
    _offload_and_process(settings, archive)
    assert time.monotonic() - t0 < 120  # no hang
    recs = _by_name(archive)
    assert set(recs) == {"DSJ-A001_000123_20261123093000_0001.MP4", "DSJ-A001_000123_20261123093100_0002.MP4",
                         "DSJ-A001_000123_20261123093200_0003.MP4"}
    for name, rec in recs.items():
        assert rec["playback"] == "unplayable", name
        assert rec["playback_note"], name
        assert rec["derived"] == []
        failed = [e for e in rec["custody"] if e["action"] in ("probe_failed", "render_failed")]
        assert failed and failed[0]["outcome"] == "failure"
    with archive.sessions() as db:
        assert {j.state for j in db.execute(select(Job)).scalars()} == {DONE}  # answered, not retried forever
    assert verify_all(archive).ok


def _worker(cfg: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "app.cli", "--config", str(cfg), "worker", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_kill_9_of_a_worker_mid_transcode_leaves_a_job_another_worker_completes(make_settings, tmp_path, media_dir):
    from app.runtime import open_archive

    s = make_settings("\n[workers]\nlease_seconds = 3\npoll_seconds = 0.2\n", folder=tmp_path / "k")
    src = media_dir / "long_hevc.mp4"
    if not src.exists():
        ff(*lavfi_av(40, "1280x720"), "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
           "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(src))
    put(s.station.dock_root, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", src)
    a = open_archive(s)
    try:
        station = Station(s.station, LocalIntake(a))
        station.offload_once(s.station.dock_root)
        station.close()
        first = _worker(s.config_path)
        deadline = time.monotonic() + 120
        render = None
        while time.monotonic() < deadline:
            with a.sessions() as db:
                render = db.execute(select(Job).where(Job.kind == "proxy")).scalar_one_or_none()
            if render is not None and render.state == "running" and render.progress > 0.05:
                break
            time.sleep(0.2)
        assert render is not None and render.state == "running", "the transcode never started"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        with a.sessions() as db:
            assert db.get(Job, render.id).state == "running"  # orphaned, its lease still counting down
        second = _worker(s.config_path, "--until-idle")
        out, err = second.communicate(timeout=300)
        assert second.returncode == 0, err
        with a.sessions() as db:
            job = db.get(Job, render.id)
            assert job.state == DONE and job.attempts == 2 and job.lease_owner != render.lease_owner
        rec = show(a, str(render.evidence_id))
        assert rec["playback"] == "ready"
        assert sorted(x["kind"] for x in rec["derived"]) == ["poster", "proxy", "sprite", "vtt"]  # each once
        info = _ffprobe(_derived_path(a, rec, "proxy"))
        assert abs(float(info["format"]["duration"]) - 40) <= 0.5
    finally:
        a.close()


@pytest.mark.postgres
def test_two_worker_processes_on_postgresql_never_run_one_job_at_once(pg_url, tmp_path, make_clip):
    from app.runtime import open_archive
    from liuhen import config
    from tests.conftest import write_config

    s = config.load(write_config(tmp_path, pg_url, "\n[workers]\nlease_seconds = 5\npoll_seconds = 0.05\n"),
                    environ={})
    for i in range(8):
        put(s.station.dock_root, f"bay1/DSJ-A001_000123_2026112309{i:02d}00_{i:04d}.MP4",
            make_clip(seconds=2.0, tone=200 + 37 * i))
    a = open_archive(s)
    try:
        station = Station(s.station, LocalIntake(a))
        station.offload_once(s.station.dock_root)
        station.close()
        workers = [_worker(s.config_path, "--until-idle") for _ in range(2)]
        logs = [w.communicate(timeout=300)[1] for w in workers]
        assert all(w.returncode == 0 for w in workers), logs
        with a.sessions() as db:
            jobs = db.execute(select(Job)).scalars().all()
    finally:
        a.close()
    assert len(jobs) == 24 and {j.state for j in jobs} == {DONE}
    intervals: dict[int, list[tuple[float, float, str]]] = {}
    for proc, log in enumerate(logs):
        starts: dict[str, float] = {}
        for line in log.splitlines():
            parts = line.split()
            if len(parts) > 4 and parts[3] in ("job-start", "job-end"):
                t, kind, job_id = float(parts[0]), parts[3], parts[4]
                if kind == "job-start":
                    starts[job_id] = t
                else:
                    intervals.setdefault(int(job_id), []).append((starts.pop(job_id), t, f"worker{proc}"))
    assert set(intervals) == {j.id for j in jobs}
    ran_by = {w for spans in intervals.values() for _, _, w in spans}
    assert ran_by == {"worker0", "worker1"}, "both workers should have taken jobs"
    for job_id, spans in intervals.items():
        spans.sort()
        for (_s1, e1, w1), (s2, _e2, w2) in zip(spans, spans[1:]):
            assert s2 >= e1, f"job {job_id} ran on {w1} and {w2} at the same time"


def test_ffprobe_runs_once_per_recording_and_later_jobs_read_its_stored_report(settings, archive, recordings,
                                                                              monkeypatch):
    import media.ffmpeg
    import media.probe

    ran: list[str] = []
    real_run = media.ffmpeg.run

    def counting_run(args, **kw):
        ran.append(Path(str(args[0])).name)
        return real_run(args, **kw)

    monkeypatch.setattr(media.probe, "run", counting_run)  # the probe module's ffprobe runs
    put(settings.station.dock_root, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", recordings["h264"])
    _offload_and_process(settings, archive)
    assert ran == ["ffprobe"]  # the probe job's; proxy and previews (sprite included) started none
    rec = next(iter(_by_name(archive).values()))
    assert rec["playback"] == "ready"
    assert {"proxy", "poster", "sprite", "vtt"} <= {d["kind"] for d in rec["derived"]}
    with archive.sessions() as db:
        ev = db.execute(select(Evidence)).scalars().one()
        stored = json.loads(ev.probe_json)
    again = media.probe.probe(recordings["h264"], name="x.mp4")  # a fresh run reads the same as the report
    rebuilt = media.probe.from_report(stored, name="x.mp4")
    assert rebuilt == again and rebuilt.run is None and again.run is not None
