#!/usr/bin/env python3
"""Redaction end to end: face detection + render, against a bare ffmpeg decode + encode of the same clip.

A 720p 30 fps clip of ``--seconds`` (default 120) with ``--faces`` (default 6) real faces of ~20 px
to ~200 px high moving over a textured, scrolling background (tests/redaction_clips.py) is, in each
of ``--runs`` rounds (the order alternating):

* **detected and rendered**: ``redaction.detect.detect`` (defaults: every 5th frame, the whole frame
  at 640 px, round-robin tiles for small faces) fills a plan, then ``redaction.render.render`` hides
  its tracks (``hold`` = the detector's sampling interval, as the plan's ``detector.hold_s`` says);
* **transcoded bare**: one ffmpeg with exactly the render's encoder settings
  (``redaction.render.bare_transcode_args``, the same ``ENCODE_ARGS``).

Reported (medians over the rounds): × realtime of detection + render (goal ≥ 1.0), its ratio to the
bare transcode (goal ≤ 2.5), detection and render apart (fps, × realtime), face recall for faces at
least 20 px high with at least half of the face in the picture (goal ≥ 0.98) at the sampled frames
(the keys) and at every frame (keys interpolated and held as the render holds them), the same for
every face ≥ 20 px high however little of it is in the picture, the number of tracks, and the peak
memory (goal ≤ 1.5 GB): the sum of the RSS of this process and its children (the ffmpegs), sampled
every 50 ms from /proc. ``--cores N`` pins this process and its children to the first N CPUs
(default 2, where the machine has more); the load average at the start and end is recorded, since
other work on the machine slows every number here.

JSON (every round, medians, goals and whether met) goes to ``bench/out/redaction-<seconds>s.json``
(``--json PATH`` elsewhere). Exit 1 when a goal is missed.

Usage: .venv/bin/python bench/redaction.py [--seconds 120] [--runs 1] [--encoder libx264|h264_nvenc]
       [--faces 6] [--cores 2] [--tiles-per-sample N] [--json PATH]
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from media.ffmpeg import run
from redaction.detect import detect
from redaction.plan import Box, Plan
from redaction.render import bare_transcode_args, render
from tests.redaction_clips import Truth, make_clip

GOAL_X_REALTIME = 1.0
GOAL_RATIO = 2.5
GOAL_RECALL = 0.98
GOAL_PEAK_MB = 1536
MIN_FACE_PX = 20


class PeakRss:
    """The peak of the summed RSS of this process and all its descendants, sampled from /proc."""

    def __init__(self, every_s: float = 0.05) -> None:
        self.every_s = every_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @staticmethod
    def _tree_rss() -> int:
        children: dict[int, list[int]] = {}
        rss: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                fields = stat[stat.rindex(")") + 2:].split()
                children.setdefault(int(fields[1]), []).append(int(entry))
                rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, ValueError, IndexError):
                continue
        total, todo = 0, [os.getpid()]
        while todo:
            pid = todo.pop()
            total += rss.get(pid, 0)
            todo += children.get(pid, [])
        return total

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._tree_rss())
            self._stop.wait(self.every_s)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._tree_rss())


def covered(face: tuple[int, int, int, int], box: tuple[float, float, float, float]) -> bool:
    """IoU ≥ 0.3, or ≥ 80 % of the face's area inside the box."""
    x0, y0, x1, y1 = face
    bx0, by0, bx1, by1 = box
    inter = max(0.0, min(x1, bx1) - max(x0, bx0)) * max(0.0, min(y1, by1) - max(y0, by0))
    area = (x1 - x0) * (y1 - y0)
    return inter / (area + (bx1 - bx0) * (by1 - by0) - inter) >= 0.3 or inter >= 0.8 * area


def recall(plan: Plan, truth: Truth, frames: range, hold: float, *, whole_enough: bool) -> dict[str, Any]:
    def px(b: Box) -> tuple[float, float, float, float]:
        return b.x * truth.width, b.y * truth.height, (b.x + b.w) * truth.width, (b.y + b.h) * truth.height

    total = missed = 0
    by_face: dict[str, int] = {}
    for i in frames:
        boxes = [px(b) for _, b in plan.boxes_at(i / truth.fps, hold)]
        for face in truth.faces:
            clipped, full = truth.rect(face, i), face.rect(i / truth.fps)
            if clipped is None or full is None or clipped[3] - clipped[1] < MIN_FACE_PX:
                continue
            area = (clipped[2] - clipped[0]) * (clipped[3] - clipped[1])
            if whole_enough and area < 0.5 * (full[2] - full[0]) * (full[3] - full[1]):
                continue
            total += 1
            if not any(covered(clipped, b) for b in boxes):
                missed += 1
                by_face[face.id] = by_face.get(face.id, 0) + 1
    return {"recall": round(1 - missed / total, 4) if total else None, "faces": total, "missed": missed,
            "missed_by_face": by_face}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--encoder", default="libx264")
    ap.add_argument("--faces", type=int, default=6)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--tiles-per-sample", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    if a.cores and hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) > a.cores:
            os.sched_setaffinity(0, cpus[:a.cores])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load_start = os.getloadavg()
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="liuhen-bench-redaction-") as tmp:
        root = Path(tmp)
        t0 = time.monotonic()
        truth = make_clip(root / "src" / "clip.mp4", seconds=a.seconds, faces=a.faces)
        made_s = time.monotonic() - t0
        for i in range(a.runs):
            r: dict[str, Any] = {}
            for side in (("redact", "bare") if i % 2 == 0 else ("bare", "redact")):
                out_dir = root / f"{side}{i}"
                out_dir.mkdir()
                with PeakRss() as mem:
                    if side == "redact":
                        t0 = time.monotonic()
                        plan = detect(truth.path, original_sha256=truth.sha256, tiles_per_sample=a.tiles_per_sample)
                        r["detect_s"] = time.monotonic() - t0
                        assert plan.detector is not None
                        t1 = time.monotonic()
                        render(truth.path, plan, out_dir, encoder=a.encoder, hold=plan.detector["hold_s"])
                        r["render_s"] = time.monotonic() - t1
                        r["redact_s"] = time.monotonic() - t0
                    else:
                        t0 = time.monotonic()
                        rr = run(bare_transcode_args(truth.path, out_dir / "bare.mp4", encoder=a.encoder),
                                 timeout_s=max(600.0, 4 * a.seconds), mem_mb=None if a.encoder == "h264_nvenc" else 2048)
                        if not rr.ok:
                            raise SystemExit(f"bare transcode failed: {rr.stderr_tail}")
                        r["bare_s"] = time.monotonic() - t0
                r[f"{side}_peak_mb"] = round(mem.peak / 2**20, 1)
            every = plan.detector["sample_every"]
            hold = plan.detector["hold_s"] + 0.5 / truth.fps
            r["recall_samples"] = recall(plan, truth, range(0, truth.frames, every), 0.5 / truth.fps, whole_enough=True)
            r["recall_frames"] = recall(plan, truth, range(truth.frames), hold, whole_enough=True)
            r["recall_frames_any_part"] = recall(plan, truth, range(truth.frames), hold, whole_enough=False)
            r["tracks"] = len(plan.tracks)
            r["ratio"] = r["redact_s"] / r["bare_s"]
            rounds.append(r)
            print(f"round {i + 1}: detect {r['detect_s']:.1f} s + render {r['render_s']:.1f} s = {r['redact_s']:.1f} s "
                  f"({a.seconds / r['redact_s']:.2f} × realtime); bare {r['bare_s']:.1f} s; ratio {r['ratio']:.2f}; "
                  f"recall {r['recall_frames']['recall']}; peak {r['redact_peak_mb']} MB", file=sys.stderr)
    med = {k: statistics.median(r[k] for r in rounds) for k in ("detect_s", "render_s", "redact_s", "bare_s", "ratio")}
    frames = truth.frames
    rec = min(min(r["recall_samples"]["recall"], r["recall_frames"]["recall"]) for r in rounds)
    peak = max(r["redact_peak_mb"] for r in rounds)
    summary: dict[str, Any] = {
        "clip": {"seconds": a.seconds, "width": truth.width, "height": truth.height, "fps": truth.fps,
                 "frames": frames, "faces": a.faces, "made_s": round(made_s, 1)},
        "encoder": a.encoder, "cores": cores, "runs": a.runs, "load_start": load_start, "load_end": os.getloadavg(),
        "detector": {k: v for k, v in plan.detector.items() if k in ("name", "sha256", "threshold", "sample_every",
                                                                      "detect_width", "tiling", "providers", "threads")},
        "detect_s": round(med["detect_s"], 2), "detect_fps": round(frames / med["detect_s"], 1),
        "detect_x_realtime": round(a.seconds / med["detect_s"], 2),
        "render_s": round(med["render_s"], 2), "render_x_realtime": round(a.seconds / med["render_s"], 2),
        "redact_s": round(med["redact_s"], 2), "redact_x_realtime": round(a.seconds / med["redact_s"], 2),
        "bare_s": round(med["bare_s"], 2), "bare_x_realtime": round(a.seconds / med["bare_s"], 2),
        "ratio_redact_over_bare": round(med["ratio"], 2),
        "recall_min": rec, "peak_mb": peak,
        "goals": {"x_realtime": GOAL_X_REALTIME, "ratio": GOAL_RATIO, "recall": GOAL_RECALL, "peak_mb": GOAL_PEAK_MB},
        "rounds": rounds,
    }
    met = {"x_realtime": summary["redact_x_realtime"] >= GOAL_X_REALTIME,
           "ratio": summary["ratio_redact_over_bare"] <= GOAL_RATIO,
           "recall": rec >= GOAL_RECALL, "peak_mb": peak <= GOAL_PEAK_MB}
    summary["met"] = met
    out = a.json or Path(__file__).resolve().parent / "out" / f"redaction-{a.seconds:g}s.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=1))
    print(f"detect {summary['detect_fps']} fps ({summary['detect_x_realtime']} × realtime) + render "
          f"{summary['render_x_realtime']} × realtime = {summary['redact_x_realtime']} × realtime (goal ≥ {GOAL_X_REALTIME}: "
          f"{'met' if met['x_realtime'] else 'NOT met'}); bare {summary['bare_x_realtime']} × realtime, ratio "
          f"{summary['ratio_redact_over_bare']} (goal ≤ {GOAL_RATIO}: {'met' if met['ratio'] else 'NOT met'}); recall "
          f"{rec} (goal ≥ {GOAL_RECALL}: {'met' if met['recall'] else 'NOT met'}); peak {peak} MB (goal ≤ {GOAL_PEAK_MB}: "
          f"{'met' if met['peak_mb'] else 'NOT met'}); {cores} cores, load {load_start[0]:.1f}→{os.getloadavg()[0]:.1f}; "
          f"JSON {out}")
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
