#!/usr/bin/env python3
"""Redaction render: ``redaction.render.render`` against a bare ffmpeg decode + encode.

A 720p 30 fps clip of ``--seconds`` (default 10) with ``--faces`` real faces moving over a
textured, scrolling background (tests/redaction_clips.py) is rendered with its ground-truth plan
(one track per face, keyframes every 0.5 s) — the full path: ffmpeg decode → raw yuv420p pipe →
numpy hides every box → ffmpeg encode — and, in the same rounds, transcoded bare by one ffmpeg
with exactly the render's encoder settings (``redaction.render.bare_transcode_args``, which reads
the same ``ENCODE_ARGS``; the audio is copied on both sides, as the render does with no audio
range). Both run through the project's bounded runner at the same priority. ``--repeat`` rounds,
alternating which side goes first; medians, fps, × realtime and the render/bare ratio, of wall
time and of CPU time (user + system of every process: steadier than wall time on a shared machine).
``--audio-range`` adds a tone range, so the render re-encodes the audio (the bare side still copies).

Goal (issue 15): the render at least realtime (≥ 1.0 ×) at 720p on 2 cores; ``--cores N`` pins
this process and its children to the first N CPUs (default: 2, where the machine has more).

Every output is checked (ffprobe: H.264, the frame count); a failed check fails the run (exit 1).

Usage: .venv/bin/python bench/redaction_render.py [--seconds 10] [--repeat 3] [--encoder libx264|h264_nvenc]
       [--cores 2] [--faces 4] [--audio-range] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from media.ffmpeg import run
from redaction.plan import Range
from redaction.render import bare_transcode_args, render
from tests.redaction_clips import make_clip


def cpu() -> float:
    """CPU seconds (user + system) of this process and of its finished children."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def frames_of(path: Path) -> int:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
                          "stream=codec_name,nb_read_packets", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, check=True).stdout.strip()
    codec, n = out.split(",")
    if codec != "h264":
        raise SystemExit(f"{path}: {codec}, not h264")
    return int(n)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--encoder", default="libx264")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--faces", type=int, default=4)
    ap.add_argument("--audio-range", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.cores and hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) > a.cores:
            os.sched_setaffinity(0, cpus[:a.cores])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    with tempfile.TemporaryDirectory(prefix="liuhen-bench-redaction-") as tmp:
        root = Path(tmp)
        t0 = time.monotonic()
        truth = make_clip(root / "src" / "clip.mp4", seconds=a.seconds, faces=a.faces)
        made_s = time.monotonic() - t0
        plan = truth.plan()
        if a.audio_range:
            plan = plan.with_range(Range(id="tone", kind="audio", start=1.0, end=2.0, effect="tone"))
        rendered: list[float] = []
        bare: list[float] = []
        ratios: list[float] = []
        cpu_ratios: list[float] = []
        for i in range(a.repeat):
            times: dict[str, float] = {}
            cpus: dict[str, float] = {}
            for side in (("render", "bare") if i % 2 == 0 else ("bare", "render")):
                out_dir = root / f"{side}{i}"
                out_dir.mkdir()
                t0, c0 = time.monotonic(), cpu()
                if side == "render":
                    r = render(truth.path, plan, out_dir, encoder=a.encoder)
                    out = r.path
                else:
                    out = out_dir / "bare.mp4"
                    rr = run(bare_transcode_args(truth.path, out, encoder=a.encoder), timeout_s=600,
                             mem_mb=None if a.encoder == "h264_nvenc" else 2048)
                    if not rr.ok:
                        raise SystemExit(f"bare transcode failed: {rr.stderr_tail}")
                times[side] = time.monotonic() - t0
                cpus[side] = cpu() - c0
                n = frames_of(out)
                if n != truth.frames:
                    raise SystemExit(f"{side}: {n} frames, expected {truth.frames}")
            rendered.append(times["render"])
            bare.append(times["bare"])
            ratios.append(times["render"] / times["bare"])
            cpu_ratios.append(cpus["render"] / cpus["bare"])
            print(f"round {i + 1}: render {times['render']:.2f} s ({truth.frames / times['render']:.0f} fps), "
                  f"bare {times['bare']:.2f} s ({truth.frames / times['bare']:.0f} fps); CPU render {cpus['render']:.2f} s, "
                  f"bare {cpus['bare']:.2f} s", file=sys.stderr)

    med_r, med_b = statistics.median(rendered), statistics.median(bare)
    summary = {
        "clip": {"seconds": a.seconds, "width": truth.width, "height": truth.height, "fps": truth.fps,
                 "frames": truth.frames, "faces": a.faces, "made_s": round(made_s, 2)},
        "encoder": a.encoder, "cores": cores, "audio_range": a.audio_range, "repeat": a.repeat,
        "render_s": round(med_r, 3), "render_fps": round(truth.frames / med_r, 1),
        "render_x_realtime": round(a.seconds / med_r, 2),
        "bare_s": round(med_b, 3), "bare_fps": round(truth.frames / med_b, 1),
        "bare_x_realtime": round(a.seconds / med_b, 2),
        "ratio_render_over_bare": round(statistics.median(ratios), 2),
        "cpu_ratio_render_over_bare": round(statistics.median(cpu_ratios), 2),
        "goal_x_realtime": 1.0, "met": a.seconds / med_r >= 1.0,
    }
    print(f"render {summary['render_fps']} fps = {summary['render_x_realtime']} × realtime; "
          f"bare {summary['bare_fps']} fps = {summary['bare_x_realtime']} × realtime; "
          f"render/bare {summary['ratio_render_over_bare']} (CPU time {summary['cpu_ratio_render_over_bare']}) ({cores} cores, {a.encoder}); goal ≥ 1.0 × realtime: "
          f"{'met' if summary['met'] else 'NOT met'}")
    if a.json:
        print(json.dumps(summary))
    return 0 if summary["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
