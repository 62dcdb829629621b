#!/usr/bin/env python3
"""Ingest throughput: ``liuhen ingest DOCK --once`` and ``liuhen station watch DOCK`` against ``cp -r DOCK DEST && sync``.

Generates a corpus of real H.264/AAC MP4 clips (ffmpeg lavfi ``testsrc2`` + ``sine``,
libx264 ultrafast) in a dock folder with three bays, then for ``--repeat`` rounds times both
commands on the same files and the same disk, rotating which goes first. Before every
timed run the page cache is dropped (``sync; echo 3 > /proc/sys/vm/drop_caches``) when this
process may do so; otherwise it says so and both sides read from the cache alike.

Only a few distinct clips are encoded; every other file is a copy with a small ``free`` box of
random bytes appended (still a valid MP4, and every file's content is different, so the
archive's de-duplication never kicks in).

The liuhen time is the whole command (Python start-up, opening the archive, the stability wait
of ``stable_seconds`` where a file is younger than it, copy+hash into staging, the archive's
intake, SQLite commits) plus a ``sync`` after it, as the ``cp`` side ends with one. Each round
starts from an untimed copy of an archive set up once (schema and keys made, as on a station in
service); ``--fresh`` times a new archive's set-up as well (schema creation, key generation).
It is checked: every file must come back ``archived`` with the corpus's SHA-256 and be in the store with its size.

``station watch`` (``--modes once,watch``) is started on the docked files and timed until it has
answered the last of them (one JSON line per file), then stopped with SIGINT; it runs the
embedded media workers as the real command does.

Usage: .venv/bin/python bench/ingest_throughput.py [--gb 2.0] [--repeat 3] [--modes once,watch] [--json]
Goal: liuhen/cp ≥ 0.75 at 2 GB, ≥ 0.9 at 8 GB and above (median of the rounds' ratios).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import shutil
import statistics
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

GOAL_SMALL, GOAL_LARGE = 0.75, 0.9  # the goals: below 8 GB, and from 8 GB


def goal_for(gb: float) -> float:
    return GOAL_LARGE if gb >= 8 else GOAL_SMALL
BAYS = (("bay1", "DSJ-A001", "000123"), ("bay2", "DSJ-B002", "000456"), ("bay3", "DSJ-C003", "000789"))
CLIP_TARGETS_MB = (20, 45, 90, 200)  # distinct clips encoded; files are copies of these
MB = 1_000_000
REPO = Path(__file__).resolve().parent.parent


def log(msg: str = "") -> None:
    print(msg, file=LOG, flush=True)


LOG = sys.stdout


# ---------------------------------------------------------------------- corpus


@dataclass(frozen=True)
class CorpusFile:
    rel: str  # "<bay>/<name>"
    size: int
    sha256: str


def ffmpeg() -> str:
    b = shutil.which("ffmpeg")
    if b is None:
        sys.exit("ffmpeg is not installed; run `make setup` (it installs ffmpeg) first.")
    return b


def encode(out: Path, seconds: float, tone: int) -> None:
    subprocess.run(
        [ffmpeg(), "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=25:duration={seconds:.2f}",
         "-f", "lavfi", "-i", f"sine=frequency={tone}:duration={seconds:.2f}",
         "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-shortest", str(out)],
        check=True)


def sha256_file(path: Path) -> hashlib._Hash:
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return h


def build_corpus(root: Path, gb: float, seed: int) -> list[CorpusFile]:
    """Encode a few clips, then fill three bays with distinct copies up to ``gb`` GB."""
    want = int(gb * 1000 * MB)
    meta = root / "corpus.json"
    if meta.exists():
        m = json.loads(meta.read_text())
        files = [CorpusFile(**f) for f in m["files"]]
        if m.get("gb") == gb and m.get("seed") == seed and all(
                (root / "dock" / f.rel).is_file() and (root / "dock" / f.rel).stat().st_size == f.size for f in files):
            log(f"corpus: reusing {root / 'dock'}")
            return files
    if root.exists():
        shutil.rmtree(root)
    clips, dock = root / "clips", root / "dock"
    clips.mkdir(parents=True)
    t0 = time.monotonic()
    probe = clips / "probe.mp4"
    encode(probe, 2.0, 440)
    rate = probe.stat().st_size / 2.0  # bytes per second of this encoding
    probe.unlink()
    cap = max(CLIP_TARGETS_MB[0], want / MB / 4)  # keep several files even for a small corpus
    base: list[tuple[Path, hashlib._Hash, int, float]] = []
    for i, target in enumerate(t for t in CLIP_TARGETS_MB if t <= cap):
        seconds = max(1.0, target * MB / rate)
        p = clips / f"clip{i}.mp4"
        encode(p, seconds, 300 + 110 * i)
        base.append((p, sha256_file(p), p.stat().st_size, seconds))
    log(f"corpus: encoded {len(base)} distinct clips ({', '.join(f'{s / MB:.0f} MB' for _, _, s, _ in base)}) "
        f"in {time.monotonic() - t0:.0f} s")

    rng = random.Random(seed)
    files: list[CorpusFile] = []
    total, n = 0, 0
    start = dt.datetime(2026, 11, 23, 9, 30, 0)
    for bay, _, _ in BAYS:
        (dock / bay).mkdir(parents=True)
    while total < want:
        bay, device, officer = BAYS[n % len(BAYS)]
        src, h0, size0, seconds = base[rng.randrange(len(base))]
        seq = n // len(BAYS) + 1
        when = start + dt.timedelta(minutes=10 * seq)
        name = f"{device}_{officer}_{when:%Y%m%d%H%M%S}_{seq:04d}.MP4"
        dst = dock / bay / name
        shutil.copyfile(src, dst)
        # a top-level 'free' box with random payload: the file stays a valid MP4, its bytes unique
        suffix = struct.pack(">I4s", 8 + 16, b"free") + rng.randbytes(16)
        with open(dst, "ab") as f:
            f.write(suffix)
        h = h0.copy()
        h.update(suffix)
        files.append(CorpusFile(f"{bay}/{name}", size0 + len(suffix), h.hexdigest()))
        total += size0 + len(suffix)
        n += 1
    shutil.rmtree(clips)
    assert len({f.sha256 for f in files}) == len(files), "corpus files must all differ"
    meta.write_text(json.dumps({"gb": gb, "seed": seed, "files": [f.__dict__ for f in files]}, indent=1))
    subprocess.run(["sync"], check=True)
    log(f"corpus: {len(files)} files, {total / MB:.0f} MB in {dock} ({time.monotonic() - t0:.0f} s in all)")
    return files


# ---------------------------------------------------------------------- helpers


def drop_caches() -> str | None:
    """Flush and drop the page cache; return why not, or None when it was dropped."""
    subprocess.run(["sync"], check=True)
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return None
    except OSError as e:
        return f"{e.strerror} (needs root, and a writable /proc/sys)"


def rmtree_synced(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
    subprocess.run(["sync"], check=True)


def sha256_mb_s() -> float:
    """One core's SHA-256 speed (from memory): a ceiling for anything that hashes every byte."""
    buf = os.urandom(1 << 20) * 256
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        hashlib.sha256(buf).digest()
        best = min(best, time.perf_counter() - t)
    return len(buf) / MB / best


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


def write_config(folder: Path, stable: float, poll: float) -> Path:
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
poll_seconds = {poll}
""", encoding="utf-8")
    return p


def run_liuhen(cfg: Path, dock: Path) -> tuple[float, float, list[dict], int, str]:
    """Run one offload; return (command seconds, trailing-sync seconds, results, rc, stderr)."""
    t0 = time.perf_counter()
    p = subprocess.run([*liuhen_cmd(), "--config", str(cfg), "ingest", str(dock), "--once", "--json"],
                       capture_output=True, text=True, env=child_env(), cwd=cfg.parent, check=False)
    t1 = time.perf_counter()
    subprocess.run(["sync"], check=True)
    t2 = time.perf_counter()
    results = []
    for line in p.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            results.append(json.loads(line))
    return t1 - t0, t2 - t1, results, p.returncode, p.stderr


def run_watch(cfg: Path, dock: Path, n: int) -> tuple[float, float, list[dict], int, str]:
    """Start ``liuhen station watch DOCK --json``; time it until it answered ``n`` files, then stop it
    (SIGINT, as Ctrl-C) and ``sync``. Returns the same as ``run_liuhen``."""
    import signal
    import tempfile

    errf = tempfile.TemporaryFile(mode="w+")  # its progress bars go to stderr: never let a pipe fill up
    t0 = time.perf_counter()
    p = subprocess.Popen([*liuhen_cmd(), "--config", str(cfg), "station", "watch", str(dock), "--json"],
                         stdout=subprocess.PIPE, stderr=errf, text=True, env=child_env(), cwd=cfg.parent)
    results: list[dict] = []
    assert p.stdout is not None
    for line in p.stdout:
        line = line.strip()
        if line.startswith("{"):
            results.append(json.loads(line))
            if len(results) >= n:
                break
    t1 = time.perf_counter()
    p.send_signal(signal.SIGINT)
    try:
        p.communicate(timeout=20)  # it finishes the media job in hand first; not timed
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
    errf.seek(0)
    err = errf.read()[-4000:]
    errf.close()
    rc = 0 if len(results) >= n else (p.returncode or 1)
    t2 = time.perf_counter()
    subprocess.run(["sync"], check=True)
    t3 = time.perf_counter()
    return t1 - t0, t3 - t2, results, rc, err


def check_liuhen(results: list[dict], rc: int, stderr: str, files: list[CorpusFile], var: Path) -> list[str]:
    problems = []
    if rc != 0:
        problems.append(f"liuhen exited {rc}: {stderr.strip()[-500:]}")
    want = {f.rel: f for f in files}
    got = {r.get("path"): r for r in results}
    archived = [r for r in results if r.get("status") == "archived"]
    if len(archived) != len(files):
        problems.append(f"{len(archived)} of {len(files)} files archived "
                        f"(statuses: {sorted({r.get('status') for r in results})})")
    for rel, f in want.items():
        r = got.get(rel)
        if r is None:
            problems.append(f"{rel}: no result line")
            continue
        if r.get("sha256") != f.sha256 or r.get("size") != f.size:
            problems.append(f"{rel}: archived as {r.get('sha256')} ({r.get('size')} bytes), "
                            f"the corpus has {f.sha256} ({f.size} bytes)")
            continue
        stored = var / "originals" / "originals" / "sha256" / f.sha256[:2] / f.sha256[2:4] / f.sha256
        try:
            if stored.stat().st_size != f.size:
                problems.append(f"{rel}: stored with {stored.stat().st_size} bytes, not {f.size}")
        except FileNotFoundError:
            problems.append(f"{rel}: not in the store at {stored}")
    return problems[:10]


def children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes so far: what a command cost the
    cores, beside its wall time (a command that needs more CPU than the machine spares it is slowed
    by the other work on the machine, a copy in the kernel much less)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_cp(dock: Path, dest: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(["sh", "-c", 'cp -r "$1" "$2" && sync', "sh", str(dock), str(dest)], check=True)
    return time.perf_counter() - t0


def check_cp(dest: Path, files: list[CorpusFile]) -> list[str]:
    problems = []
    for f in files:
        p = dest / f.rel
        if not p.is_file() or p.stat().st_size != f.size:
            problems.append(f"cp: {p} missing or of the wrong size")
    return problems[:10]


# ---------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    global LOG
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gb", type=float, default=2.0, help="corpus size in GB (10^9 bytes; default 2.0)")
    ap.add_argument("--repeat", type=int, default=3, help="timed rounds of each command (default 3)")
    ap.add_argument("--workdir", type=Path, default=REPO / "bench" / "out",
                    help="corpus and per-round outputs, on the disk under test (default bench/out, git-ignored)")
    ap.add_argument("--stable-seconds", type=float, default=0.2,
                    help="station.stable_seconds for the liuhen runs (default 0.2; the wait is included)")
    ap.add_argument("--poll-seconds", type=float, default=0.1, help="station.poll_seconds (default 0.1)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the corpus for the next run (default: delete it)")
    ap.add_argument("--json", action="store_true",
                    help="print one JSON summary line on stdout (the report goes to stderr)")
    ap.add_argument("--fresh", action="store_true",
                    help="time each round on a new archive (schema creation and key generation in the timed "
                         "command); by default every round starts from a copy, made untimed, of an archive set "
                         "up once by the fixed-cost run, as a docking station's archive is")
    ap.add_argument("--modes", default="once,watch",
                    help="which liuhen commands to time: once (`ingest --once`), watch (`station watch`)")
    args = ap.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    if not modes or any(m not in ("once", "watch") for m in modes):
        ap.error("--modes takes once, watch or once,watch")
    if args.json:
        LOG = sys.stderr
    work = args.workdir.resolve()
    corpus_root = work / "corpus"
    rounds_root = work / "rounds"

    log("liuhen ingest throughput: `liuhen ingest DOCK --once --json` / `liuhen station watch DOCK --json` vs "
        "`cp -r DOCK DEST && sync`")
    files = build_corpus(corpus_root, args.gb, args.seed)
    dock = corpus_root / "dock"
    total = sum(f.size for f in files)
    rmtree_synced(rounds_root)
    rounds_root.mkdir(parents=True)
    same_disk = os.stat(dock).st_dev == os.stat(rounds_root).st_dev
    log(f"corpus: {len(files)} files in {len(BAYS)} bays, {total / MB:.0f} MB "
        f"({min(f.size for f in files) / MB:.0f}–{max(f.size for f in files) / MB:.0f} MB each)")
    log(f"disk: dock, archive, station staging and cp destination on {'the same' if same_disk else 'DIFFERENT'} "
        f"filesystem ({work})")

    why = drop_caches()
    cache_note = ("page cache: dropped before every timed run (sync; echo 3 > /proc/sys/vm/drop_caches)"
                  if why is None else
                  f"page cache: could NOT be dropped ({why}); both sides read the corpus from the page cache alike")
    log(cache_note)
    log(f"stability: stable_seconds={args.stable_seconds}, poll_seconds={args.poll_seconds}; the liuhen time "
        f"INCLUDES any such wait and a `sync` after the command")

    # fixed cost of one command: start-up, schema creation, key generation (an empty dock)
    empty = rounds_root / "empty"
    (empty / "dock").mkdir(parents=True)
    cfg = write_config(empty, args.stable_seconds, args.poll_seconds)
    drop_caches()
    fixed, _, _, rc, err = run_liuhen(cfg, empty / "dock")
    if rc != 0:
        log(f"liuhen failed on an empty dock (exit {rc}): {err.strip()[-800:]}")
        return 1
    template = None if args.fresh else empty / "var"
    if template is None:
        rmtree_synced(empty)
    log(f"fixed cost: `liuhen ingest` on an empty dock (start-up, schema, keys; cold cache) takes {fixed:.2f} s; "
        + ("it is included in the liuhen times" if args.fresh else
           "each round then starts from an untimed copy of that archive (schema and keys made, as on a station "
           "in service): the timed command includes Python start-up and opening the archive, not setting it up"))
    sha = sha256_mb_s()
    log(f"cpu: one SHA-256 pass runs at {sha:.0f} MB/s on one core here (liuhen hashes every byte once in the "
        "station; cp hashes nothing)")
    log()

    rows = []
    problems: list[str] = []
    sides = [*modes, "cp"]
    for i in range(args.repeat):
        order = sides[i % len(sides):] + sides[:i % len(sides)]
        row: dict = {"round": i + 1, "order": list(order), "load1": os.getloadavg()[0]}
        for which in order:
            drop_caches()
            cpu0 = children_cpu()
            if which in ("once", "watch"):
                folder = rounds_root / f"liuhen-{which}-{i + 1}"
                cfg = write_config(folder, args.stable_seconds, args.poll_seconds)
                if template is not None:
                    shutil.copytree(template, folder / "var", symlinks=True)
                    subprocess.run(["sync"], check=True)
                    drop_caches()
                run = run_liuhen if which == "once" else (lambda c, d: run_watch(c, d, len(files)))
                secs, sync_s, results, rc, err = run(cfg, dock)
                bad = check_liuhen(results, rc, err, files, folder / "var")
                problems += [f"round {i + 1} ({which}): {b}" for b in bad]
                row[f"{which}_s"] = secs + sync_s
                row[f"{which}_sync_s"] = sync_s
                row[f"{which}_archived"] = sum(r.get("status") == "archived" for r in results)
                row[f"{which}_cpu_s"] = children_cpu() - cpu0
                rmtree_synced(folder)
            else:
                dest = rounds_root / f"cp-{i + 1}"
                row["cp_s"] = run_cp(dock, dest)
                row["cp_cpu_s"] = children_cpu() - cpu0
                problems += [f"round {i + 1}: {b}" for b in check_cp(dest, files)]
                rmtree_synced(dest)
        row["cp_mb_s"] = total / MB / row["cp_s"]
        line = (f"round {i + 1} ({order[0]} first, load {row['load1']:.1f}): cp -r + sync {row['cp_s']:6.2f} s = "
                f"{row['cp_mb_s']:6.1f} MB/s (cpu {row['cp_cpu_s']:.1f} s)")
        for m in modes:
            row[f"{m}_mb_s"] = total / MB / row[f"{m}_s"]
            row[f"{m}_ratio"] = row[f"{m}_mb_s"] / row["cp_mb_s"]
            line += (f" | {m} {row[f'{m}_s']:6.2f} s = {row[f'{m}_mb_s']:6.1f} MB/s (sync after "
                     f"{row[f'{m}_sync_s']:.2f} s; cpu {row[f'{m}_cpu_s']:.1f} s; {row[f'{m}_archived']}/{len(files)} "
                     f"archived) ratio "
                     f"{row[f'{m}_ratio']:.2f}")
        rows.append(row)
        log(line)
    rmtree_synced(rounds_root)  # (the template archive lies under it)

    keys = ["cp_mb_s", "cp_cpu_s", "load1"] + [f"{m}_{k}" for m in modes for k in ("mb_s", "ratio", "cpu_s")]
    med = {k: statistics.median(r[k] for r in rows) for k in keys}
    goal = goal_for(args.gb)
    met = all(med[f"{m}_ratio"] >= goal for m in modes)
    log()
    log(f"median over {len(rows)} round(s), MB = 10^6 bytes: cp -r + sync {med['cp_mb_s']:.1f} MB/s; " +
        "; ".join(f"liuhen {m} {med[f'{m}_mb_s']:.1f} MB/s, ratio {med[f'{m}_ratio']:.2f}" for m in modes))
    log(f"cpu seconds (user + system, median): cp {med['cp_cpu_s']:.1f}; " +
        "; ".join(f"{m} {med[f'{m}_cpu_s']:.1f}" for m in modes) +
        f" (watch includes its media workers' jobs); load average at round start {med['load1']:.1f} "
        f"on {os.cpu_count()} cores")
    log(f"goal: ratio ≥ {goal} at {args.gb:g} GB (the issue's goal: ≥ {GOAL_SMALL} below 8 GB, ≥ {GOAL_LARGE} "
        f"from 8 GB) → {'MET' if met else 'NOT MET'}")
    if problems:
        log("CORRECTNESS FAILED — these figures mean nothing:")
        for p in problems:
            log(f"  {p}")
    else:
        log(f"correctness: every liuhen round archived all {len(files)} files, each with the corpus's SHA-256 "
            "and in the store with its size; every cp round copied them all")

    if not args.keep:
        shutil.rmtree(corpus_root, ignore_errors=True)
        try:
            work.rmdir()
        except OSError:
            pass
    if args.json:
        print(json.dumps({
            "files": len(files), "bytes": total, "repeat": len(rows), "page_cache_dropped": why is None,
            "page_cache_note": why, "same_filesystem": same_disk, "stable_seconds": args.stable_seconds,
            "poll_seconds": args.poll_seconds, "stability_wait_included": True, "fresh_archive": args.fresh, "fixed_cost_s": round(fixed, 3),
            "sha256_mb_s": round(sha, 1), "modes": modes, "gb": args.gb,
            **{k: round(v, 3) for k, v in med.items()}, "goal": goal, "goal_met": met,
            "correct": not problems, "problems": problems,
            "rounds": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in rows],
        }), flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
