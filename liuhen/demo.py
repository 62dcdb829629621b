"""``liuhen demo``: make a dock with three recorders in three layouts, and offload it.

Generates real H.264/AAC recordings with ffmpeg (test pattern + tone) into the configured dock
folder: bay1 uses the common 执法记录仪 naming, bay2 the Axis body-worn layout with its GPS
trail and bookmarks, bay3 a generic DCIM tree (the recorder bound to the bay in config.toml),
with one GBK-named file and one truncated recording, which is archived as-is and marked.
Then offloads everything, verifies the archive and prints what to try next.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

from liuhen.config import Settings
from liuhen.errors import LiuhenError


def _ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise LiuhenError("ffmpeg is not installed, so no sample recordings can be made.",
                          "Run `make setup` (it installs ffmpeg), or install ffmpeg, then run the demo again.")
    return exe


def _clip(out: Path, seconds: float, tone: int) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=25:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency={tone}:duration={seconds}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
                    "-movflags", "+faststart", "-shortest", str(out)], check=True)


def make_dock(dock: Path, *, clips: int, seconds: float, start: dt.datetime) -> list[Path]:
    made: list[Path] = []
    for i in range(clips):
        t = start + dt.timedelta(minutes=5 * i)
        p = dock / "bay1" / f"DSJ-A001_000123_{t:%Y%m%d%H%M%S}_{i + 1:04d}.MP4"
        _clip(p, seconds, 440 + 40 * i)
        made.append(p)
    tz = dt.timezone.utc
    trig = (start + dt.timedelta(hours=1)).astimezone(tz)
    folder = dock / "bay2" / f"zhangsan_AXB1234567_{trig:%Y%m%dT%H%M%SZ}"
    for i in range(clips):
        t = trig + dt.timedelta(seconds=seconds * i)
        p = folder / f"{t:%Y%m%dT%H%M%SZ}_REC{i + 1:04d}.mp4"
        _clip(p, seconds, 660 + 40 * i)
        made.append(p)
    trail = [{"time": (trig + dt.timedelta(seconds=s)).isoformat(), "lat": 39.9087 + s * 1e-5,
              "lon": 116.3975 + s * 1e-5} for s in range(int(seconds * clips))]
    (folder / f"{folder.name}_gpstrail.json").write_text(json.dumps({"positions": trail}), encoding="utf-8")
    (folder / f"{folder.name}_bookmarks.json").write_text(
        json.dumps({"bookmarks": [{"time": trig.isoformat(), "category": "现场检查", "text": "到达现场"}]},
                   ensure_ascii=False), encoding="utf-8")
    made += [folder / f"{folder.name}_gpstrail.json", folder / f"{folder.name}_bookmarks.json"]
    dcim = dock / "bay3" / "DCIM" / "100MEDIA"
    for i in range(clips):
        p = dcim / f"VID_{i + 1:04d}.MP4"
        _clip(p, seconds, 880 + 40 * i)
        made.append(p)
    # a GBK-named recording, as some Chinese recorders write them
    raw = os.fsencode(dcim) + b"/" + "现场检查_张三.MP4".encode("gbk")
    shutil.copyfile(made[0], raw)
    # a recording cut off when the battery died: still evidence, archived and marked
    cut = dcim / "VID_9999.MP4"
    data = made[0].read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    made.append(cut)
    return made


def run_demo(settings: Settings, *, json_out: bool, clips: int, seconds: float) -> int:
    from archive.verify import verify_all
    from ingest.intake import LocalIntake
    from ingest.station import Station
    from liuhen.progress import BayProgress
    from liuhen.runtime import open_archive

    dock = settings.station.dock_root
    if dock.exists() and any(dock.iterdir()):
        print(f"The dock folder {dock} already holds files; offloading what is there.")
    else:
        print(f"Making sample recordings in {dock} (3 bays × {clips} clips of {seconds:g} s) ...")
        make_dock(dock, clips=clips, seconds=seconds,
                  start=dt.datetime.now().astimezone().replace(microsecond=0) - dt.timedelta(hours=3))
    archive = open_archive(settings)
    try:
        station = Station(settings.station, LocalIntake(archive), listener=None if json_out else BayProgress())
        try:
            results = station.offload_once(dock)
        finally:
            station.close()
        for r in results:
            if json_out:
                print(json.dumps(r.to_dict(), ensure_ascii=False))
            else:
                mark = f" [{r.media_state}]" if r.media_state not in (None, "ok", "unknown") else ""
                print(f"  {r.status:<10} evidence {r.evidence_id!s:<4} {r.path}{mark}")
        print("Making playable proxies, posters and thumbnails (media jobs) ...")
        import threading

        from jobs.worker import run_worker
        from media.service import HANDLERS

        run_worker(archive, HANDLERS, stop=threading.Event(), poll_s=0.2, until_idle=True,
                   lease_s=settings.workers.lease_seconds)
        from sqlalchemy import func, select

        from archive.models import Evidence

        with archive.sessions() as db:
            states = dict(db.execute(select(Evidence.playback, func.count()).group_by(Evidence.playback)).all())
        print("  playback: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))
        report = verify_all(archive, actor="cli:demo")
    finally:
        archive.close()
    cfg = f" --config {settings.config_path}" if settings.config_path and str(settings.config_path) != "config.toml" else ""
    print(f"\nVerified {report.originals} originals, {report.signatures} signatures, "
          f"{report.events} custody events: {'all hold' if report.ok else 'FAILURES'}.")
    first = next((r.evidence_id for r in results if r.evidence_id), None)
    if first is not None:
        print("Next:")
        print(f"  liuhen{cfg} show {first}            # the record, its sightings and custody events")
        print(f"  liuhen{cfg} export {first} --out var/export-{first}   # a BagIt bag checkable with sha256sum and openssl")
        print(f"  liuhen{cfg} verify                # re-hash everything, check every signature and the chain")
    return 0 if report.ok else 3
