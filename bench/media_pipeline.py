#!/usr/bin/env python3
"""Media pipeline: liuhen's proxy step against bare ffmpeg, and dock-to-playable time.

(a) Proxy overhead. For each source, ``media.render.proxy`` is called directly and timed; then
    the exact argument list it ran (``RunResult.args``) is run again as a bare ``ffmpeg``
    command line with ``subprocess``, only the output path replaced. ``--repeat`` rounds,
    alternating which side goes first; per-source medians and the liuhen/bare ratio (the
    median of the rounds' ratios). Goal: ≤ 1.05.
(b) Dock to playable. A 5-minute 1080p H.264/AAC clip in a dock bay under a recorder's file
    name; timed from the start of ``liuhen ingest DOCK --once`` (fresh config, SQLite and
    store; stable_seconds 0.2) through ``liuhen worker --until-idle``, after which
    ``liuhen show 1 --json`` must say playback "ready" with a derived "proxy" made by the remux
    path. Split: ingest, worker start-up, probe job, render job (proxy, poster, thumbnail
    sprite, storing). Goal: ≤ 10 s.
(b2) Dock to playable with a worker already waiting: ``liuhen station watch`` (the station and
    the media workers in one process, as in ``liuhen serve``) runs idle; the clip appears in
    its bay by a rename, its file time ten minutes old (a docked recorder's files are old);
    timed from the rename to the proxy job's commit (``jobs.finished_at``), split by the jobs'
    created/started/finished times. Goal (issue 11): ≤ 2 s.
(c) x-realtime (media seconds / wall seconds) of the transcode path at the default settings
    (720p, libx264 veryfast), from (a)'s liuhen medians.
(d) Thumbnail sprite of the 5-minute clip (a keyframe every 10 s) and of the same clip with a
    keyframe every second (as body cameras record): ``media.render.thumbnails`` timed, its own
    command run bare, and the bare command that decodes the whole clip (liuhen's sprite before
    keyframes); the sprites must match the whole-clip one (PSNR ≥ 40: the keyframes fall on the
    10 s marks). Goal (issue 11): ≤ 1.5 s.

liuhen remuxes a browser-safe source up to ``workers.remux_max_height`` (default 2160) and
transcodes anything else to at most ``proxy_max_height`` (720). (a) times the 1080p H.264 clip
both ways: remuxed, and forced through the 720p transcode, so the cost of each path is visible.
In (b) the recording counts as playable when its proxy job commits (posters and thumbnails
follow in their own job).

Sources are real media from ffmpeg (``testsrc2`` + ``sine``): 1080p H.264/AAC MP4, 1080p
H.265/AAC MP4, 720p MJPEG/PCM AVI. Every output is checked with ffprobe (MP4, H.264, AAC,
duration, height); a failed check fails the run (exit status 1) instead of looking fast.

Usage: .venv/bin/python bench/media_pipeline.py [--repeat 3] [--quick] [--remux-only] [--keep] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the project's packages, also when not installed editable

import media.probe
import media.render
from media.ffmpeg import file_url, tool_version
from media.render import proxy

GOAL_RATIO = 1.05
GOAL_DOCK_S = 10.0
GOAL_PLAYABLE_S = 2.0  # issue 11: dock to playable with a worker already waiting
GOAL_SPRITE_S = 1.5  # issue 11: a 5-minute clip's thumbnail sprite
DEFAULT_MAX_HEIGHT = 720  # workers.proxy_max_height's default
BAY_FILE = "DSJ-A001_000123_20261123093000_0001.MP4"


def log(msg: str = "") -> None:
    print(msg, file=LOG, flush=True)


LOG = sys.stdout


def ffmpeg_bin() -> str:
    b = shutil.which("ffmpeg")
    if b is None or shutil.which("ffprobe") is None:
        sys.exit("ffmpeg/ffprobe are not installed; run `make setup` (it installs ffmpeg) first.")
    return b


# ---------------------------------------------------------------------- sources


@dataclass(frozen=True)
class Source:
    key: str
    file: str
    size: str
    codec_args: tuple[str, ...]
    audio_args: tuple[str, ...]
    describe: str


SOURCES = (
    Source("h264", "h264_1080p.mp4", "1920x1080",
           ("-c:v", "libx264", "-preset", "ultrafast", "-b:v", "6M", "-maxrate", "6M", "-bufsize", "12M",
            "-pix_fmt", "yuv420p"),
           ("-c:a", "aac", "-b:a", "128k"), "1080p25 H.264/AAC MP4, 6 Mb/s"),
    Source("h265", "h265_1080p.mp4", "1920x1080",
           ("-c:v", "libx265", "-preset", "ultrafast", "-b:v", "4M", "-x265-params", "log-level=error",
            "-pix_fmt", "yuv420p", "-tag:v", "hvc1"),
           ("-c:a", "aac", "-b:a", "128k"), "1080p25 H.265/AAC MP4, 4 Mb/s"),
    Source("mjpeg", "mjpeg_720p.avi", "1280x720",
           ("-c:v", "mjpeg", "-q:v", "4", "-pix_fmt", "yuvj420p"),
           ("-c:a", "pcm_s16le", "-ar", "16000", "-ac", "1"), "720p25 MJPEG/PCM AVI"),
)


def encode(src: Source, out: Path, seconds: float, tone: int, extra: tuple[str, ...] = ()) -> None:
    subprocess.run(
        [ffmpeg_bin(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size={src.size}:rate=25:duration={seconds:.2f}",
         "-f", "lavfi", "-i", f"sine=frequency={tone}:sample_rate=48000:duration={seconds:.2f}",
         *src.codec_args, *extra, *src.audio_args, "-shortest", str(out)],
        check=True)


def build_sources(root: Path, seconds: float, dock_seconds: float, keys: tuple[str, ...]) -> dict[str, Path]:
    """Encode the sources (reused when ``--keep`` left them with the same lengths)."""
    meta = root / "sources.json"
    sources = [s for s in SOURCES if s.key in keys]
    want = {"seconds": seconds, "dock_seconds": dock_seconds, "dock_gops": [250, 25],
            "sources": {s.key: [s.file, s.size, list(s.codec_args), list(s.audio_args)] for s in sources}}
    paths = {s.key: root / s.file for s in sources}
    paths["dock"] = root / "dock_h264_1080p.mp4"
    paths["dock_g25"] = root / "dock_h264_1080p_g25.mp4"
    if meta.exists() and json.loads(meta.read_text()) == want and all(p.is_file() for p in paths.values()):
        log(f"sources: reusing {root}")
        return paths
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for i, s in enumerate(sources):
        t0 = time.monotonic()
        encode(s, paths[s.key], seconds, 330 + 110 * i)
        log(f"sources: {s.file} ({s.describe}, {seconds:.0f} s, {paths[s.key].stat().st_size / 1e6:.1f} MB) "
            f"encoded in {time.monotonic() - t0:.1f} s")
    t0 = time.monotonic()
    encode(SOURCES[0], paths["dock"], dock_seconds, 700)
    log(f"sources: dock clip ({SOURCES[0].describe}, {dock_seconds:.0f} s, "
        f"{paths['dock'].stat().st_size / 1e6:.0f} MB) encoded in {time.monotonic() - t0:.1f} s")
    t0 = time.monotonic()
    encode(SOURCES[0], paths["dock_g25"], dock_seconds, 700, extra=("-g", "25"))
    log(f"sources: the same with a keyframe every second (-g 25, as body cameras do) encoded in "
        f"{time.monotonic() - t0:.1f} s")
    meta.write_text(json.dumps(want))
    return paths


# ---------------------------------------------------------------------- checks


def ffprobe(path: Path) -> dict:
    p = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                        str(path)], capture_output=True, text=True, check=False)
    if p.returncode != 0:
        return {"error": p.stderr.strip()[-300:] or f"ffprobe exited {p.returncode}"}
    return json.loads(p.stdout)


def check_mp4(path: Path, what: str, *, duration: float, height: int | None) -> list[str]:
    """The file exists and ffprobe reads it as MP4 with H.264 video and AAC audio of the right length."""
    if not path.is_file() or path.stat().st_size == 0:
        return [f"{what}: {path} missing or empty"]
    info = ffprobe(path)
    if "error" in info:
        return [f"{what}: ffprobe cannot read {path}: {info['error']}"]
    problems = []
    fmt = info.get("format", {})
    if "mp4" not in fmt.get("format_name", "").split(","):
        problems.append(f"{what}: container {fmt.get('format_name')!r}, not mp4")
    v = [s for s in info.get("streams", []) if s.get("codec_type") == "video"]
    a = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
    if len(v) != 1 or v[0].get("codec_name") != "h264":
        problems.append(f"{what}: video streams {[s.get('codec_name') for s in v]}, not one h264")
    elif height is not None and v[0].get("height") != height:
        problems.append(f"{what}: video {v[0].get('width')}x{v[0].get('height')}, not {height} tall")
    if len(a) != 1 or a[0].get("codec_name") != "aac":
        problems.append(f"{what}: audio streams {[s.get('codec_name') for s in a]}, not one aac")
    try:
        got = float(fmt.get("duration"))
        if abs(got - duration) > 0.5:
            problems.append(f"{what}: {got:.2f} s long, the source {duration:.2f} s")
    except (TypeError, ValueError):
        problems.append(f"{what}: no duration")
    return problems


# ---------------------------------------------------------------------- (a) proxy overhead


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    source: str  # Source.key
    max_height: int
    expect_path: str  # "remux" | "transcode"
    out_height: int


def cases(remux_max_height: int) -> list[Case]:
    return [
        Case("h264-remux", f"h264-1080p remux (max_height {remux_max_height})", "h264", remux_max_height,
             "remux", 1080),
        Case("h264-720", f"h264-1080p at default {DEFAULT_MAX_HEIGHT}p (transcode)", "h264", DEFAULT_MAX_HEIGHT,
             "transcode", DEFAULT_MAX_HEIGHT),
        Case("h265", f"h265-1080p → {DEFAULT_MAX_HEIGHT}p (transcode)", "h265", DEFAULT_MAX_HEIGHT, "transcode",
             DEFAULT_MAX_HEIGHT),
        Case("mjpeg", f"mjpeg-720p → {DEFAULT_MAX_HEIGHT}p (transcode)", "mjpeg", DEFAULT_MAX_HEIGHT, "transcode",
             DEFAULT_MAX_HEIGHT),
    ]


def bare_args(args: list[str], liuhen_out: str, bare_out: Path) -> list[str]:
    """liuhen's argument list with only the output replaced (progress args kept as they are)."""
    if args.count(liuhen_out) != 1:
        raise RuntimeError(f"liuhen's output {liuhen_out} is not once in its command: {args}")
    return [file_url(bare_out) if a == liuhen_out else a for a in args]


def run_liuhen_proxy(src: Path, out_dir: Path, probe: media.probe.Probe, case: Case,
                     with_progress: bool) -> tuple[float, media.render.Rendered]:
    (out_dir / "proxy.mp4").unlink(missing_ok=True)
    kw = {"progress": (lambda f: None)} if with_progress else {}
    t0 = time.perf_counter()
    r = proxy(src, out_dir, probe, max_height=case.max_height, **kw)
    return time.perf_counter() - t0, r


def run_bare(args: list[str], out: Path) -> tuple[float, int, str]:
    out.unlink(missing_ok=True)
    t0 = time.perf_counter()
    p = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       check=False)
    return time.perf_counter() - t0, p.returncode, p.stderr.decode("utf-8", "replace")[-500:]


def bench_proxy(work: Path, paths: dict[str, Path], repeat: int, remux_max_height: int,
                with_progress: bool, remux_only: bool = False) -> tuple[list[dict], list[str]]:
    problems: list[str] = []
    results = []
    probes = {k: media.probe.probe(paths[k], name=paths[k].name) for k in ("h264", "h265", "mjpeg") if k in paths}
    for k, p in probes.items():
        if p.duration_s is None:
            problems.append(f"{k}: the source has no duration")
    if problems:
        return [], problems
    all_cases = [c for c in cases(remux_max_height) if c.source in paths and (c.expect_path == "remux" or not remux_only)]
    rows: dict[str, list[dict]] = {c.label: [] for c in all_cases}
    commands: dict[str, list[str]] = {}
    for i in range(repeat):
        order = ("liuhen", "bare") if i % 2 == 0 else ("bare", "liuhen")
        for n, c in enumerate(all_cases):
            src, probe = paths[c.source], probes[c.source]
            lh_dir = work / "a" / f"case{n}" / "liuhen"
            bare_out = work / "a" / f"case{n}" / "bare" / "proxy.mp4"
            bare_out.parent.mkdir(parents=True, exist_ok=True)
            row: dict = {"round": i + 1, "order": list(order)}
            for side in order:
                if side == "liuhen":
                    secs, r = run_liuhen_proxy(src, lh_dir, probe, c, with_progress)
                    row["liuhen_s"] = secs
                    row["ffmpeg_s"] = r.run.seconds  # liuhen's own clock around the child process
                    args = list(r.run.args)
                    if c.label in commands and commands[c.label] != args:
                        problems.append(f"{c.label}: round {i + 1}'s command differs from round 1's")
                    commands[c.label] = args
                    if r.extra.get("path") != c.expect_path:
                        problems.append(f"{c.label}: liuhen took the {r.extra.get('path')} path, "
                                        f"expected {c.expect_path}")
                    problems += check_mp4(r.path, f"{c.label} liuhen round {i + 1}",
                                          duration=probe.duration_s or 0, height=c.out_height)
                else:
                    args = bare_args(commands[c.label], file_url(lh_dir / "proxy.mp4.part"), bare_out)
                    secs, rc, err = run_bare(args, bare_out)
                    row["bare_s"] = secs
                    if rc != 0:
                        problems.append(f"{c.label}: bare ffmpeg exited {rc}: {err.strip()}")
                    problems += check_mp4(bare_out, f"{c.label} bare round {i + 1}",
                                          duration=probe.duration_s or 0, height=c.out_height)
            row["ratio"] = row["liuhen_s"] / row["bare_s"]
            row["same_size"] = (lh_dir / "proxy.mp4").stat().st_size == bare_out.stat().st_size \
                if (lh_dir / "proxy.mp4").is_file() and bare_out.is_file() else False
            rows[c.label].append(row)
            log(f"  round {i + 1} ({order[0]} first) {c.label:<40} liuhen {row['liuhen_s']:7.3f} s  "
                f"bare {row['bare_s']:7.3f} s  ratio {row['ratio']:.3f}")
    for c in all_cases:
        rs = rows[c.label]
        media_s = probes[c.source].duration_s or 0.0
        med_l = statistics.median(r["liuhen_s"] for r in rs)
        med_b = statistics.median(r["bare_s"] for r in rs)
        results.append({
            "case": c.label, "key": c.key, "source": c.source, "path": c.expect_path, "max_height": c.max_height,
            "media_s": round(media_s, 3), "liuhen_s": round(med_l, 4), "bare_s": round(med_b, 4),
            "ffmpeg_child_s": round(statistics.median(r["ffmpeg_s"] for r in rs), 4),
            "ratio": round(statistics.median(r["ratio"] for r in rs), 4),
            "ratio_of_medians": round(med_l / med_b, 4),
            "overhead_ms": round((med_l - med_b) * 1000, 1),
            "x_realtime_liuhen": round(media_s / med_l, 2), "x_realtime_bare": round(media_s / med_b, 2),
            "outputs_same_size": all(r["same_size"] for r in rs),
            "command": commands.get(c.label),
            "rounds": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in rs],
        })
    return results, problems


# ---------------------------------------------------------------------- (a2) the fixed cost


def bench_fixed(work: Path, rounds: int) -> tuple[list[dict], list[str]]:
    """liuhen's fixed cost per ffmpeg run: the remux of a 1 s clip (a few ms of ffmpeg work),
    ``rounds`` times each side, alternating; without and with a progress callback (the worker
    always passes one). The difference of the medians is the fixed cost."""
    folder = work / "a2"
    folder.mkdir(parents=True, exist_ok=True)
    src = folder / "one_second.mp4"
    encode(SOURCES[0], src, 1.0, 500)
    probe = media.probe.probe(src, name=src.name)
    problems: list[str] = []
    out_rows = []
    for with_progress in (False, True):
        case = Case("fixed", "1 s H.264 remux", "h264", 1080, "remux", 1080)
        lh_dir, bare_out = folder / "liuhen", folder / "bare" / "proxy.mp4"
        bare_out.parent.mkdir(parents=True, exist_ok=True)
        _, first = run_liuhen_proxy(src, lh_dir, probe, case, with_progress)  # untimed: warm
        args = bare_args(list(first.run.args), file_url(lh_dir / "proxy.mp4.part"), bare_out)
        lh, bare = [], []
        for i in range(rounds):
            for side in (("liuhen", "bare") if i % 2 == 0 else ("bare", "liuhen")):
                if side == "liuhen":
                    secs, r = run_liuhen_proxy(src, lh_dir, probe, case, with_progress)
                    lh.append(secs)
                    if not r.run.ok:
                        problems.append(f"fixed cost: liuhen's remux failed: {r.run.reason()}")
                else:
                    secs, rc, err = run_bare(args, bare_out)
                    bare.append(secs)
                    if rc != 0:
                        problems.append(f"fixed cost: bare ffmpeg exited {rc}: {err.strip()}")
        problems += check_mp4(lh_dir / "proxy.mp4", "fixed-cost remux", duration=probe.duration_s or 0, height=1080)
        ml, mb = statistics.median(lh), statistics.median(bare)
        out_rows.append({"progress_callback": with_progress, "rounds": rounds, "liuhen_ms": round(ml * 1000, 1),
                         "bare_ms": round(mb * 1000, 1), "overhead_ms": round((ml - mb) * 1000, 1),
                         "ratio": round(ml / mb, 3), "command": list(first.run.args)})
    return out_rows, problems


# ---------------------------------------------------------------------- (b) dock to playable


def liuhen_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "liuhen"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("liuhen")
    if found:
        return [found]
    return [sys.executable, "-m", "app.cli"]


def child_env() -> dict[str, str]:
    # no LIUHEN_* overrides leak in from the caller's shell: the config file says it all
    return {k: v for k, v in os.environ.items() if not k.startswith("LIUHEN_")}


def write_config(folder: Path, stable: float, max_height: int) -> Path:
    """Like tests/conftest.py's write_config: SQLite, local store, station state, all in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "config.toml"
    p.write_text(f"""
[archive]
database_url = "sqlite:///var/liuhen.db"
store = "local"
store_path = "var/originals"
upload_path = "var/uploads"
key_path = "var/keys/archive.ed25519"

[station]
id = "st-bench"
dock_root = "dock"
state_path = "var/station"
stable_seconds = {stable}
poll_seconds = 0.1

[workers]
proxy_max_height = {max_height}
""", encoding="utf-8")
    return p


def drop_caches(path: Path) -> str | None:
    """Write ``path`` out and evict its pages from the page cache (only its own: other work on a
    shared machine keeps its cache); return why not, or None when it was evicted."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        return None
    except (OSError, AttributeError) as e:
        return f"{getattr(e, 'strerror', None) or e} (posix_fadvise)"


_JOB_LOG = re.compile(r"^(\d+\.\d+) INFO liuhen\.worker (job-start|job-end) (\d+) (\w+)")


def bench_dock(work: Path, clip: Path, stable: float, max_height: int) -> tuple[dict, list[str]]:
    folder = work / "b"
    if folder.exists():
        shutil.rmtree(folder)
    bay = folder / "dock" / "bay1"
    bay.mkdir(parents=True)
    shutil.copyfile(clip, bay / BAY_FILE)
    cfg = write_config(folder, stable, max_height)
    why = drop_caches(bay / BAY_FILE)
    lh = [*liuhen_cmd(), "--config", str(cfg)]

    def liuhen(*a: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*lh, *a], capture_output=True, text=True, env=child_env(), cwd=folder, check=False)

    t0 = time.perf_counter()
    wall0 = time.time()
    ing = liuhen("ingest", str(folder / "dock"), "--once", "--json")
    t1 = time.perf_counter()
    wall1 = time.time()
    wrk = liuhen("worker", "--until-idle")
    t2 = time.perf_counter()
    wall2 = time.time()
    shw = liuhen("show", "1", "--json")
    t3 = time.perf_counter()

    problems: list[str] = []
    res = [json.loads(ln) for ln in ing.stdout.splitlines() if ln.strip().startswith("{")]
    if ing.returncode != 0 or len(res) != 1 or res[0].get("status") != "archived":
        problems.append(f"ingest: exit {ing.returncode}, results {[r.get('status') for r in res]}: "
                        f"{ing.stderr.strip()[-400:]}")
    elif res[0].get("evidence_id") != 1:
        problems.append(f"ingest: the clip became evidence {res[0].get('evidence_id')}, not 1")
    if wrk.returncode != 0:
        problems.append(f"worker: exit {wrk.returncode}: {wrk.stderr.strip()[-400:]}")
    record: dict = {}
    if shw.returncode != 0:
        problems.append(f"show: exit {shw.returncode}: {shw.stderr.strip()[-400:]}")
    else:
        record = json.loads(shw.stdout)
    if record and record.get("playback") != "ready":
        problems.append(f"show: playback {record.get('playback')!r} ({record.get('playback_note')}), not 'ready'")
    proxies = [d for d in record.get("derived", []) if d.get("kind") == "proxy"]
    if record and (len(proxies) != 1 or proxies[0].get("detail", {}).get("path") != "remux"):
        problems.append(f"show: derived proxies {[d.get('detail') for d in proxies]}, not one made by remux")
    duration = (record.get("media") or {}).get("duration_s") or 0.0
    if proxies:
        stored = folder / "var" / "originals" / proxies[0]["store_key"]
        problems += check_mp4(stored, "dock-to-playable proxy", duration=duration, height=1080)
    jobs = liuhen("jobs", "--json")
    states = [json.loads(ln).get("state") for ln in jobs.stdout.splitlines() if ln.strip().startswith("{")]
    if states != ["done", "done", "done"]:
        problems.append(f"jobs: states {states}, not a probe, a proxy and a previews job all done")

    # the split: worker log lines (time.time() stamps) and the custody events' ffmpeg seconds
    spans: dict[str, list[float]] = {}
    for ln in wrk.stderr.splitlines():
        m = _JOB_LOG.match(ln)
        if m:
            spans.setdefault(m.group(4), []).append(float(m.group(1)))
    probe_s = proxy_s = previews_s = playable = None
    if all(len(spans.get(k, [])) == 2 for k in ("probe", "proxy", "previews")):
        probe_s = spans["probe"][1] - spans["probe"][0]
        proxy_s = spans["proxy"][1] - spans["proxy"][0]
        previews_s = spans["previews"][1] - spans["previews"][0]
        startup_s = spans["probe"][0] - wall1
        exit_s = wall2 - spans["previews"][1]
        playable = spans["proxy"][1] - wall0  # the proxy job's commit makes the recording playable
    else:
        problems.append("worker: no job-start/job-end log lines for one probe, one proxy and one previews job")
        startup_s = exit_s = None
    ff: dict[str, float] = {}
    for e in record.get("custody", []):
        d = e.get("detail") or {}
        if e.get("action") == "probed":
            ff["ffprobe"] = d.get("seconds", 0.0)
        elif e.get("action") == "derived" and d.get("kind") in ("proxy", "poster", "sprite"):
            ff[d["kind"]] = d.get("seconds", 0.0)
    total = playable if playable is not None else t2 - t0
    out = {
        "clip_s": round(duration, 2), "bytes": (bay / BAY_FILE).stat().st_size if (bay / BAY_FILE).exists() else None,
        "page_cache_dropped": why is None, "page_cache_note": why, "stable_seconds": stable,
        "proxy_max_height": max_height, "total_s": round(total, 3), "ingest_s": round(t1 - t0, 3),
        "worker_s": round(t2 - t1, 3),
        "worker_startup_s": round(startup_s, 3) if startup_s is not None else None,
        "probe_job_s": round(probe_s, 3) if probe_s is not None else None,
        "proxy_job_s": round(proxy_s, 3) if proxy_s is not None else None,
        "previews_job_s": round(previews_s, 3) if previews_s is not None else None,
        "all_jobs_done_s": round(t2 - t0, 3),
        "worker_exit_s": round(exit_s, 3) if exit_s is not None else None,
        "ffmpeg_s": {k: round(v, 3) for k, v in ff.items()},
        "show_s": round(t3 - t2, 3), "goal_s": GOAL_DOCK_S, "goal_met": total <= GOAL_DOCK_S and not problems,
        "wall_clock_start": wall0,
    }
    return out, problems


# ---------------------------------------------------------------------- (b2) a worker already waiting


def _sqlite_rows(db: Path, sql: str) -> list[tuple]:
    import sqlite3

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _ts(text: str | None) -> float | None:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp() if text else None


def bench_dock_waiting(work: Path, clip: Path, stable: float, max_height: int) -> tuple[dict, list[str]]:
    """`liuhen station watch` (station and media workers in one process) already running and idle;
    the recorder's file appears in its bay (a rename, its time ten minutes old, as a docked
    recorder's files are); timed from that moment to the proxy job's commit."""
    folder = work / "b2"
    if folder.exists():
        shutil.rmtree(folder)
    bay = folder / "dock" / "bay1"
    bay.mkdir(parents=True)
    staged = folder / "incoming" / BAY_FILE
    staged.parent.mkdir()
    shutil.copyfile(clip, staged)
    old = time.time() - 600
    os.utime(staged, (old, old))
    cfg = write_config(folder, stable, max_height)
    db = folder / "var" / "liuhen.db"
    lh = [*liuhen_cmd(), "--config", str(cfg)]
    problems: list[str] = []
    with open(folder / "watch.out", "wb") as out, open(folder / "watch.err", "wb") as err:
        proc = subprocess.Popen([*lh, "station", "watch", str(folder / "dock"), "--json"], stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, env=child_env(), cwd=folder)
        try:
            t_end = time.monotonic() + 60
            while not db.exists() and time.monotonic() < t_end and proc.poll() is None:
                time.sleep(0.05)
            time.sleep(3.0)  # started, scanned the empty dock, workers idle
            why = drop_caches(staged)
            t_dock = time.time()
            os.rename(staged, bay / BAY_FILE)
            jobs: list[tuple] = []
            t_end = time.monotonic() + 600
            while time.monotonic() < t_end and proc.poll() is None:
                time.sleep(0.05)
                try:
                    jobs = _sqlite_rows(db, "SELECT kind, state, created_at, started_at, finished_at FROM jobs "
                                            "ORDER BY id")
                except Exception:  # noqa: BLE001 - the database is busy for a moment: look again
                    continue
                if len(jobs) == 3 and all(j[1] in ("done", "failed") for j in jobs):
                    break
        finally:
            proc.send_signal(2)  # SIGINT: the watch stops like at Ctrl-C
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    by_kind = {j[0]: j for j in jobs}
    if sorted(by_kind) != ["previews", "probe", "proxy"] or any(j[1] != "done" for j in jobs):
        problems.append(f"waiting worker: jobs {[(j[0], j[1]) for j in jobs]}, not a probe, a proxy and a previews "
                        f"job all done; stderr: {(folder / 'watch.err').read_text()[-400:]}")
        return {"problems": True}, problems
    t = {k: [_ts(v) for v in by_kind[k][2:]] for k in by_kind}  # created, started, finished
    shw = subprocess.run([*lh, "show", "1", "--json"], capture_output=True, text=True, env=child_env(), cwd=folder,
                         check=False)
    record = json.loads(shw.stdout) if shw.returncode == 0 else {}
    if record.get("playback") != "ready":
        problems.append(f"waiting worker: playback {record.get('playback')!r}, not 'ready'")
    proxies = [d for d in record.get("derived", []) if d.get("kind") == "proxy"]
    if len(proxies) != 1 or proxies[0].get("detail", {}).get("path") != "remux":
        problems.append(f"waiting worker: derived proxies {[d.get('detail') for d in proxies]}, not one remux")
    else:
        problems += check_mp4(folder / "var" / "originals" / proxies[0]["store_key"], "waiting-worker proxy",
                              duration=(record.get("media") or {}).get("duration_s") or 0.0, height=1080)
    sprites = [d for d in record.get("derived", []) if d.get("kind") == "sprite"]
    ff: dict[str, float] = {}
    for e in record.get("custody", []):
        d = e.get("detail") or {}
        if e.get("action") == "probed":
            ff["ffprobe"] = d.get("seconds", 0.0)
        elif e.get("action") == "derived" and d.get("kind") in ("proxy", "poster", "sprite"):
            ff[d["kind"]] = d.get("seconds", 0.0)
    playable = t["proxy"][2] - t_dock
    return {
        "page_cache_dropped": why is None, "page_cache_note": why, "stable_seconds": stable,
        "total_s": round(playable, 3),
        "ingest_s": round(t["probe"][0] - t_dock, 3),  # the probe job commits with the evidence
        "wake_s": round(t["probe"][1] - t["probe"][0], 3),
        "probe_job_s": round(t["probe"][2] - t["probe"][1], 3),
        "to_proxy_s": round(t["proxy"][1] - t["probe"][2], 3),
        "proxy_job_s": round(t["proxy"][2] - t["proxy"][1], 3),
        "previews_job_s": round(t["previews"][2] - t["previews"][1], 3),
        "all_jobs_done_s": round(t["previews"][2] - t_dock, 3),
        "ffmpeg_s": {k: round(v, 3) for k, v in ff.items()},
        "sprite_method": (sprites[0].get("detail") or {}).get("method", "decode (before keyframes)")
        if sprites else None,
        "goal_s": GOAL_PLAYABLE_S, "goal_met": playable <= GOAL_PLAYABLE_S and not problems,
    }, problems


# ---------------------------------------------------------------------- (d) thumbnail sprite


def full_decode_sprite_args(src: Path, out: Path, n: int, rows: int, every_s: int = 10) -> list[str]:
    """The sprite as liuhen made it before keyframes: every frame of the clip decoded."""
    graph = (f"[0:0]fps=fps=1/{every_s}:round=up[s0];[s0]trim=end_frame={n}[s1];[s1]scale=-2:90[s2];"
             f"[s2]tile=10x{rows}[s3]")
    return [ffmpeg_bin(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-i", file_url(src),
            "-filter_complex", graph, "-map", "[s3]", "-f", "image2", "-frames:v", "1", "-q:v", "4", "-update", "1",
            "-vcodec", "mjpeg", file_url(out)]


def psnr(a: Path, b: Path) -> float | None:
    p = subprocess.run([ffmpeg_bin(), "-hide_banner", "-i", str(a), "-i", str(b), "-filter_complex", "[0][1]psnr",
                        "-f", "null", "-"], capture_output=True, text=True, check=False)
    m = re.search(r"PSNR .*average:(\S+)", p.stderr)
    if not m:
        return None
    return float("inf") if m.group(1) == "inf" else float(m.group(1))


def bench_sprite(work: Path, paths: dict[str, Path], repeat: int) -> tuple[list[dict], list[str]]:
    from media.render import thumbnails

    problems: list[str] = []
    rows_out = []
    for key, gop in (("dock", "a keyframe every 10 s"), ("dock_g25", "a keyframe every second")):
        src = paths[key]
        p = media.probe.probe(src, name=src.name)
        label = f"{(p.duration_s or 0) / 60:.3g}-min 1080p, {gop}"
        folder = work / "d" / key
        folder.mkdir(parents=True, exist_ok=True)
        old_out, bare_out = folder / "full_decode.jpg", folder / "bare.jpg"
        # one untimed call: liuhen's command for the bare side, and the clip in the page cache
        # (in the pipeline the sprite follows the proxy, which has just read the whole clip)
        first = thumbnails(src, folder / "liuhen", p)
        run0 = first.run[0] if isinstance(first.run, list) else first.run  # (a list before keyframes)
        method, n, nrows, args = first.extra.get("method", "decode"), len(first.extra["times"]), \
            first.extra["rows"], list(run0.args)
        liuhen_part = file_url(folder / "liuhen" / "sprite.jpg.part")
        rounds = []
        for i in range(repeat):
            order = ("liuhen", "bare", "full") if i % 2 == 0 else ("full", "bare", "liuhen")
            row: dict = {}
            for side in order:
                if side == "liuhen":
                    t0 = time.perf_counter()
                    r = thumbnails(src, folder / "liuhen", p)
                    row["liuhen_s"] = time.perf_counter() - t0
                    if list((r.run[0] if isinstance(r.run, list) else r.run).args) != args:
                        problems.append(f"sprite {key}: round {i + 1}'s command differs from the first")
                elif side == "bare":
                    secs, rc, err = run_bare(bare_args(args, liuhen_part, bare_out), bare_out)
                    row["bare_s"] = secs
                    if rc != 0:
                        problems.append(f"sprite {key}: bare ffmpeg exited {rc}: {err.strip()}")
                else:
                    secs, rc, err = run_bare(full_decode_sprite_args(src, old_out, n, nrows), old_out)
                    row["full_decode_s"] = secs
                    if rc != 0:
                        problems.append(f"sprite {key}: the full-decode command exited {rc}: {err.strip()}")
            rounds.append(row)
            log(f"  round {i + 1} {label:<40} liuhen {row['liuhen_s']:6.3f} s  bare {row['bare_s']:6.3f} s  "
                f"full decode {row['full_decode_s']:6.3f} s")
        sprite = folder / "liuhen" / "sprite.jpg"
        info = ffprobe(sprite)
        v = [s for s in info.get("streams", []) if s.get("codec_type") == "video"]
        if not v or (v[0].get("width"), v[0].get("height")) != (10 * 160, nrows * 90):
            problems.append(f"sprite {key}: {[(x.get('width'), x.get('height')) for x in v]}, not {10 * 160}x"
                            f"{nrows * 90}")
        same = psnr(sprite, old_out)
        # the clips' keyframes fall on every 10 s mark, so the keyframe sprite must equal the decoded one
        if same is None or same < 40:
            problems.append(f"sprite {key}: differs from the full-decode sprite (PSNR {same})")
        med = {k: statistics.median(r[k] for r in rounds) for k in ("liuhen_s", "bare_s", "full_decode_s")}
        rows_out.append({"clip": key, "label": label, "method": method, "tiles": n,
                         "liuhen_s": round(med["liuhen_s"], 3), "bare_s": round(med["bare_s"], 3),
                         "full_decode_s": round(med["full_decode_s"], 3),
                         "ratio_to_bare": round(statistics.median(r["liuhen_s"] / r["bare_s"] for r in rounds), 3),
                         "speedup_over_full_decode": round(med["full_decode_s"] / med["liuhen_s"], 1),
                         "psnr_vs_full_decode": same, "goal_s": GOAL_SPRITE_S,
                         "goal_met": med["liuhen_s"] <= GOAL_SPRITE_S, "command": args})
    return rows_out, problems


# ---------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    global LOG
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="timed rounds of each proxy, each side (default 3)")
    ap.add_argument("--quick", action="store_true",
                    help="a fast check: 6 s sources and a 30 s dock clip (unless given otherwise)")
    ap.add_argument("--seconds", type=float, help="length of the (a) sources (default 25; 6 with --quick)")
    ap.add_argument("--dock-seconds", type=float, help="length of the (b) clip (default 300; 30 with --quick)")
    ap.add_argument("--remux-max-height", type=int, default=1080,
                    help="max_height for the remux cases, (a)'s H.264 case and (b)'s workers.proxy_max_height "
                         "(default 1080: at the default 720 a 1080p clip is transcoded, never remuxed)")
    ap.add_argument("--stable-seconds", type=float, default=0.2, help="station.stable_seconds for (b) (default 0.2)")
    ap.add_argument("--progress", action="store_true",
                    help="call proxy() with a progress callback as the worker does (adds -progress pipe:1 "
                         "-nostats; the bare run keeps them, its stdout going to /dev/null)")
    ap.add_argument("--remux-only", action="store_true",
                    help="(a) times the remux case only, and (c) is left out: no H.265/MJPEG sources to encode "
                         "(on a loaded 2-core machine their transcodes take most of the run)")
    ap.add_argument("--fixed-rounds", type=int, default=30,
                    help="rounds of (a2), the fixed cost per run on a 1 s remux (default 30)")
    ap.add_argument("--fixed-only", action="store_true", help="run (a2) alone")
    ap.add_argument("--sprite-only", action="store_true", help="run (d) alone")
    ap.add_argument("--waiting-only", type=int, metavar="ROUNDS",
                    help="run (b2) alone, ROUNDS times, and report each and the medians")
    ap.add_argument("--workdir", type=Path, default=REPO / "bench" / "out" / "media_pipeline",
                    help="sources and outputs (default bench/out/media_pipeline, git-ignored)")
    ap.add_argument("--keep", action="store_true", help="keep sources and outputs (default: delete them)")
    ap.add_argument("--json", action="store_true",
                    help="print one JSON summary line on stdout (the report goes to stderr)")
    args = ap.parse_args(argv)
    if args.json:
        LOG = sys.stderr
    seconds = args.seconds or (6.0 if args.quick else 25.0)
    dock_seconds = args.dock_seconds or (30.0 if args.quick else 300.0)
    work = args.workdir.resolve()
    t_start = time.monotonic()

    log("liuhen media pipeline: proxy() vs the same bare ffmpeg command; dock to playable; x-realtime")
    log(f"machine: {os.cpu_count()} CPU(s); {tool_version('ffmpeg')}")
    paths = build_sources(work / "sources", seconds, dock_seconds,
                          ("h264",) if args.remux_only else tuple(s.key for s in SOURCES))
    t0 = time.perf_counter()
    tool_version.cache_clear()
    tool_version("ffmpeg")
    version_s = time.perf_counter() - t0
    log(f"note: liuhen runs `ffmpeg -version` once per process ({version_s * 1000:.0f} ms here, cached "
        "afterwards); it is paid before the timed runs, as in a worker after its first job")
    log("note: liuhen's child gets MALLOC_ARENA_MAX=4, RLIMIT_AS 2 GiB, RLIMIT_CORE 0 and its own session; "
        "the bare command runs with none of that")
    log()

    if args.waiting_only:
        runs, problems = [], []
        for i in range(args.waiting_only):
            b2, pr = bench_dock_waiting(work, paths["dock"], args.stable_seconds, args.remux_max_height)
            problems += pr
            if "total_s" in b2:
                runs.append(b2)
                log(f"  round {i + 1}: playable {b2['total_s']:.2f} s = ingest {b2['ingest_s']:.2f} + wake "
                    f"{b2['wake_s']:.3f} + probe job {b2['probe_job_s']:.3f} + {b2['to_proxy_s']:.3f} + proxy job "
                    f"{b2['proxy_job_s']:.3f} (remux {b2['ffmpeg_s'].get('proxy', 0):.3f}); sprite "
                    f"{b2['ffmpeg_s'].get('sprite', 0):.3f} s; all jobs {b2['all_jobs_done_s']:.2f} s; load "
                    f"{os.getloadavg()[0]:.1f}")
        keys = ("total_s", "ingest_s", "wake_s", "probe_job_s", "to_proxy_s", "proxy_job_s", "all_jobs_done_s")
        med = {k: round(statistics.median(r[k] for r in runs), 3) for k in keys} if runs else {}
        log(f"  medians: {med}")
        for p in problems:
            log(f"  PROBLEM {p}")
        if args.json:
            print(json.dumps({"waiting": runs, "medians": med, "problems": problems}), flush=True)
        return 1 if problems else 0
    if args.sprite_only:
        d_rows, problems = bench_sprite(work, paths, args.repeat)
        for r in d_rows:
            log(f"  {r['label']:<40} liuhen {r['liuhen_s']:6.3f} s ({r['method']}, {r['tiles']} tiles)  bare "
                f"{r['bare_s']:6.3f} s  full decode {r['full_decode_s']:6.3f} s  PSNR {r['psnr_vs_full_decode']}")
        for p in problems:
            log(f"  PROBLEM {p}")
        if args.json:
            print(json.dumps({"sprite": d_rows, "problems": problems}), flush=True)
        return 1 if problems else 0
    log(f"(a2) fixed cost per run: the remux of a 1 s 1080p clip through liuhen vs bare, {args.fixed_rounds} "
        "rounds each, alternating")
    a2_rows, problems = bench_fixed(work, args.fixed_rounds)
    for r in a2_rows:
        log(f"  {'with' if r['progress_callback'] else 'without'} a progress callback: liuhen {r['liuhen_ms']:6.1f} ms  "
            f"bare {r['bare_ms']:6.1f} ms  overhead {r['overhead_ms']:+6.1f} ms  ratio {r['ratio']:.3f}")
    log()
    if args.fixed_only:
        if args.json:
            print(json.dumps({"fixed": a2_rows, "problems": problems}), flush=True)
        return 1 if problems else 0

    log(f"(a) proxy creation: liuhen media.render.proxy vs bare ffmpeg with identical args, "
        f"{args.repeat} round(s), alternating order{' (with a progress callback)' if args.progress else ''}")
    a_rows, a_problems = bench_proxy(work, paths, args.repeat, args.remux_max_height, args.progress, args.remux_only)
    problems += a_problems
    if a_rows:
        log()
        log(f"  {'case':<40} {'media':>6} {'liuhen':>9} {'bare':>9} {'overhead':>9} {'ratio':>6} {'r.o.m.':>6}  "
            f"goal ≤ {GOAL_RATIO}")
        for r in a_rows:
            log(f"  {r['case']:<40} {r['media_s']:5.1f}s {r['liuhen_s']:8.3f}s {r['bare_s']:8.3f}s "
                f"{r['overhead_ms']:+7.0f}ms {r['ratio']:6.3f} {r['ratio_of_medians']:6.3f}  {'MET' if r['ratio'] <= GOAL_RATIO else 'NOT MET'}")
        log("  (medians over rounds; ratio = median of the rounds' liuhen/bare ratios, judged against the goal; "
            "r.o.m. = ratio of the medians)")
        log(f"  outputs of both sides the same size in every round: "
            f"{', '.join(r['key'] + (' yes' if r['outputs_same_size'] else ' no') for r in a_rows)}")
    log()

    log(f"(b) dock to playable: {dock_seconds:.0f} s 1080p H.264/AAC as dock/bay1/{BAY_FILE}; "
        f"`liuhen ingest DOCK --once` then `liuhen worker --until-idle` "
        f"(workers.proxy_max_height = {args.remux_max_height})")
    b, b_problems = bench_dock(work, paths["dock"], args.stable_seconds, args.remux_max_height)
    problems += b_problems
    if b["page_cache_dropped"]:
        log("  the clip's pages evicted from the page cache before the ingest (the recorder's file is read cold)")
    else:
        log(f"  the clip's pages could NOT be evicted ({b['page_cache_note']}); it is read from the cache")
    ff = b["ffmpeg_s"]
    log(f"  dock to playable {b['total_s']:.2f} s  (ingest start → proxy job committed; goal ≤ {GOAL_DOCK_S:.0f} s → "
        f"{'MET' if b['goal_met'] else 'NOT MET'}); {b['bytes'] / 1e6:.0f} MB, {b['clip_s']:.0f} s of media")
    log(f"    ingest --once        {b['ingest_s']:7.2f} s  (incl. stable_seconds {args.stable_seconds} s, "
        "copy+hash, archive re-hash, commit)")
    log(f"    worker --until-idle  {b['worker_s']:7.2f} s  (all jobs done {b['all_jobs_done_s']:.2f} s after the start)")
    if b["probe_job_s"] is not None:
        log(f"      start-up           {b['worker_startup_s']:7.2f} s  (Python, imports, open archive)")
        log(f"      probe job          {b['probe_job_s']:7.2f} s  (ffprobe {ff.get('ffprobe', 0):.2f} s)")
        log(f"      proxy job          {b['proxy_job_s']:7.2f} s  (remux {ff.get('proxy', 0):.2f} s) → playable")
        log(f"      previews job       {b['previews_job_s']:7.2f} s  (poster {ff.get('poster', 0):.2f} s, "
            f"thumbnail sprite {ff.get('sprite', 0):.2f} s)")
        log(f"      exit               {b['worker_exit_s']:7.2f} s")
    log(f"    (`liuhen show 1 --json` afterwards: {b['show_s']:.2f} s, not counted)")
    log()

    log(f"(b2) dock to playable with a worker already waiting: `liuhen station watch` (station and media "
        f"workers in one process) running idle; the {dock_seconds:.0f} s clip appears in dock/bay1 "
        "(a rename, file time 10 minutes old); timed from then to the proxy job's commit")
    b2, b2_problems = bench_dock_waiting(work, paths["dock"], args.stable_seconds, args.remux_max_height)
    problems += b2_problems
    if "total_s" in b2:
        ff2 = b2["ffmpeg_s"]
        log(f"  dock to playable {b2['total_s']:.2f} s  (goal ≤ {GOAL_PLAYABLE_S:.1f} s → "
            f"{'MET' if b2['goal_met'] else 'NOT MET'}); page cache of the clip "
            f"{'evicted' if b2['page_cache_dropped'] else 'NOT evicted: ' + str(b2['page_cache_note'])}")
        log(f"    ingest             {b2['ingest_s']:7.2f} s  (seen, stable_seconds {args.stable_seconds} s, copy+hash, "
            "archive re-hash, commit with the probe job)")
        log(f"    worker woken       {b2['wake_s']:7.3f} s")
        log(f"    probe job          {b2['probe_job_s']:7.3f} s  (ffprobe {ff2.get('ffprobe', 0):.3f} s)")
        log(f"    → proxy job        {b2['to_proxy_s']:7.3f} s")
        log(f"    proxy job          {b2['proxy_job_s']:7.3f} s  (remux {ff2.get('proxy', 0):.3f} s, then hash and "
            "store the proxy, commit) → playable")
        log(f"    previews job       {b2['previews_job_s']:7.3f} s  (poster {ff2.get('poster', 0):.3f} s, sprite "
            f"{ff2.get('sprite', 0):.3f} s by {b2['sprite_method']}); all jobs done {b2['all_jobs_done_s']:.2f} s "
            "after docking")
    log()

    log(f"(d) thumbnail sprite of the {dock_seconds:.0f} s clips: liuhen's media.render.thumbnails vs its own command "
        f"run bare, and the bare command that decodes the whole clip (liuhen's before), {args.repeat} round(s), "
        "clip in the page cache")
    d_rows, d_problems = bench_sprite(work, paths, args.repeat)
    problems += d_problems
    for r in d_rows:
        log(f"  {r['label']:<40} liuhen {r['liuhen_s']:6.3f} s ({r['method']}, {r['tiles']} tiles; goal ≤ "
            f"{GOAL_SPRITE_S} s → {'MET' if r['goal_met'] else 'NOT MET'})  bare {r['bare_s']:6.3f} s "
            f"(ratio {r['ratio_to_bare']:.3f})  full decode {r['full_decode_s']:6.3f} s (×{r['speedup_over_full_decode']})"
            f"  PSNR vs full decode {r['psnr_vs_full_decode']}")
    log()

    c_rows = [r for r in a_rows if r["source"] in ("h265", "mjpeg")]
    log(f"(c) x-realtime of the transcode path at the default settings ({DEFAULT_MAX_HEIGHT}p, libx264 veryfast, "
        "crf 23), from (a)'s liuhen medians")
    for r in c_rows:
        log(f"  {r['case']:<40} {r['x_realtime_liuhen']:6.2f}× realtime  "
            f"(bare {r['x_realtime_bare']:.2f}×; {r['media_s']:.0f} s of media in {r['liuhen_s']:.2f} s)")
    log()

    if problems:
        log("CORRECTNESS FAILED — these figures mean nothing:")
        for p in problems[:20]:
            log(f"  {p}")
    else:
        log("correctness: every proxy (liuhen and bare, every round) is an MP4 ffprobe reads as H.264 + AAC of the "
            "source's length and the expected height, liuhen took the expected remux/transcode path, the bare "
            "command was liuhen's own with only the output replaced; the docked clip came back playback 'ready' "
            "with a remuxed proxy in the store, both jobs done")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
        try:
            work.parent.rmdir()  # bench/out, if nothing else is in it
        except OSError:
            pass
    elapsed = time.monotonic() - t_start
    log(f"run took {elapsed:.0f} s")
    if args.json:
        print(json.dumps({
            "cpus": os.cpu_count(), "ffmpeg": tool_version("ffmpeg"), "repeat": args.repeat, "quick": args.quick,
            "source_seconds": seconds, "dock_seconds": dock_seconds, "progress_callback": args.progress,
            "ffmpeg_version_probe_ms": round(version_s * 1000, 1),
            "proxy": a_rows, "fixed": a2_rows, "goal_ratio": GOAL_RATIO,
            "proxy_goal_met": bool(a_rows) and all(r["ratio"] <= GOAL_RATIO for r in a_rows),
            "dock_to_playable": b, "dock_to_playable_waiting": b2, "sprite": d_rows,
            "x_realtime": {r["source"]: r["x_realtime_liuhen"] for r in c_rows},
            "correct": not problems, "problems": problems, "elapsed_s": round(elapsed, 1),
        }, ensure_ascii=False), flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
