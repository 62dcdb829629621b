#!/usr/bin/env python3
"""Fixity throughput: ``liuhen verify``'s re-hash of every original against hashlib on all cores
and against ``cat`` (the disk's read limit), cold and warm cache, in the same run.

Builds an archive (SQLite, local store) under ``--out``: ``--size-gb`` of originals in files of
``--file-mb`` (random bytes, each file different), stored through ``archive.store`` with an
evidence row each, and ``--events`` custody events inserted with plain SQL (SQLAlchemy Core
executemany, no ORM objects), chained correctly (each event's hash over the previous one, as
``hashing.custody`` computes it) and closed with a signed checkpoint, so that ``liuhen verify``
accepts the archive.

Then, for ``--repeat`` rounds, cold (the page cache dropped before each timed run: ``sync; echo 3 >
/proc/sys/vm/drop_caches``, when this process may; otherwise it says "warm only") and warm (the
files read once just before), times over the same files:

* ``cat``: ``cat FILES > /dev/null`` — what the disk (or the page cache) delivers;
* ``hashlib × N``: N processes (one per core), each hashing whole files with ``hashlib.sha256``;
* ``liuhen fixity``: ``archive.verify.verify_originals`` — the originals part of ``liuhen verify``
  (threads on all cores through ``archive.store``, one ``verified`` custody event per original).

Reports medians and the ratio fixity / min(cat, hashlib × N) — the goal is ≥ 0.9 — and, once, the
whole ``liuhen verify`` command (chain check of every event included) for scale.

Usage: .venv/bin/python bench/verify.py [--size-gb 3] [--events 1000000] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select, update

from app.runtime import open_archive
from archive import fixity
from archive.models import Evidence
from archive.verify import Report, verify_originals
from hashing.custody import canonical, event_hash
from hashing.digest import Digest
from hashing.models import CustodyEvent, CustodyHead
from liuhen import config

GOAL = 0.9


def drop_caches() -> bool:
    try:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def make_config(out: Path) -> Path:
    cfg = out / "config.toml"
    cfg.write_text(f"""
[archive]
database_url = "sqlite:///{out / 'liuhen.db'}"
store = "local"
store_path = "{out / 'originals'}"
upload_path = "{out / 'uploads'}"
key_path = "{out / 'keys' / 'archive.ed25519'}"
checkpoint_every_events = 1000000000
""")
    return cfg


def build(out: Path, size_gb: float, file_mb: int, events: int) -> list[Path]:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    settings = config.load(make_config(out), environ={})
    a = open_archive(settings)
    try:
        n_files = max(1, round(size_gb * 1024 / file_mb))
        block = os.urandom(8 * 1024 * 1024)
        tmp = out / "tmp.bin"
        t0 = time.monotonic()
        for i in range(n_files):
            h = hashlib.sha256()
            with open(tmp, "wb") as f:
                left = file_mb * 1024 * 1024
                head = i.to_bytes(8, "big") + os.urandom(56)
                f.write(head)
                h.update(head)
                left -= len(head)
                while left > 0:
                    piece = block[:left]
                    f.write(piece)
                    h.update(piece)
                    left -= len(piece)
            size = file_mb * 1024 * 1024
            obj = a.store.put_file(tmp, Digest(h.hexdigest()), size, consume=True)
            tmp.unlink()
            with a.sessions.begin() as db:
                db.add(Evidence(sha256=obj.digest.hex, size=size, store_key=obj.key, store_version=obj.version,
                                file_name=f"bench_{i:05d}.mp4", media_kind="video", media_state="ok"))
        print(f"  {n_files} originals of {file_mb} MB stored in {time.monotonic() - t0:.1f} s", file=sys.stderr)
        t0 = time.monotonic()
        with a.sessions.begin() as db:
            head = db.execute(select(CustodyHead).where(CustodyHead.id == 1)).scalar_one()
            prev, seq = head.hash, head.seq
            ids = list(db.execute(select(Evidence.id)).scalars())
            at = dt.datetime.now(dt.UTC)
            rows = []
            for k in range(events):
                seq += 1
                detail = canonical({"bench": k}).decode()
                eid = ids[k % len(ids)]
                fields = dict(at=at, actor="bench", action="viewed", evidence_id=eid, object_sha256=None,
                              outcome="success", tool="bench/verify.py", tool_version="1", detail=detail)
                h = event_hash(prev, seq=seq, **fields)
                rows.append({"seq": seq, **fields, "prev_hash": prev, "hash": h})
                prev = h
                if len(rows) == 20000:
                    db.execute(insert(CustodyEvent), rows)
                    rows = []
            if rows:
                db.execute(insert(CustodyEvent), rows)
            db.execute(update(CustodyHead).where(CustodyHead.id == 1).values(seq=seq, hash=prev))
            a.custody.checkpoint(db)
        print(f"  {events} custody events inserted in {time.monotonic() - t0:.1f} s", file=sys.stderr)
        with a.sessions() as db:
            keys = list(db.execute(select(Evidence.store_key).order_by(Evidence.id)).scalars())
        return [a.store.path_of(k) for k in keys]  # type: ignore[attr-defined]
    finally:
        a.close()


def _hash_file(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def run_cat(files: list[Path]) -> None:
    subprocess.run(["cat", *map(str, files)], stdout=subprocess.DEVNULL, check=True)


def run_hashlib(files: list[Path], pool: ProcessPoolExecutor) -> None:
    list(pool.map(_hash_file, map(str, files)))


def run_fixity(a: object) -> None:
    r = Report()
    verify_originals(a, report=r, actor="bench", threads=0)  # type: ignore[arg-type]
    assert r.ok and r.originals, r.to_dict()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size-gb", type=float, default=3.0)
    p.add_argument("--file-mb", type=int, default=64)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "verify")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    cores = fixity.cores()
    print(f"building: {args.size_gb} GB of originals, {args.events} custody events, in {args.out}", file=sys.stderr)
    files = build(args.out, args.size_gb, args.file_mb, args.events)
    total = sum(f.stat().st_size for f in files)
    can_drop = drop_caches()
    if not can_drop:
        print("the page cache cannot be dropped here (not root): warm only", file=sys.stderr)
    settings = config.load(args.out / "config.toml", environ={})
    a = open_archive(settings)
    pool = ProcessPoolExecutor(max_workers=cores)
    list(pool.map(_hash_file, [str(files[0])] * cores))  # start the processes outside the timings
    methods = {"cat": lambda: run_cat(files), f"hashlib x{cores}": lambda: run_hashlib(files, pool),
               "liuhen fixity": lambda: run_fixity(a)}
    rates: dict[str, dict[str, list[float]]] = {c: {m: [] for m in methods} for c in ("cold", "warm")}
    caches = ("cold", "warm") if can_drop else ("warm",)
    try:
        for rnd in range(args.repeat):
            order = list(methods) if rnd % 2 == 0 else list(reversed(methods))
            for cache in caches:
                for m in order:
                    if cache == "cold":
                        drop_caches()
                    else:
                        run_cat(files)
                    t0 = time.perf_counter()
                    methods[m]()
                    s = time.perf_counter() - t0
                    rates[cache][m].append(total / s / 1e6)
                    print(f"  round {rnd + 1} {cache:<4} {m:<14} {total / s / 1e6:8.0f} MB/s", file=sys.stderr)
    finally:
        pool.shutdown()
        a.close()

    # the synthetic evidence rows were inserted with plain SQL, so no custody event vouches for them yet:
    # bind them once, as an archive from before bound rows would be (untimed), then time the whole verify
    subprocess.run([sys.executable, "-m", "app.cli", "--config", str(args.out / "config.toml"), "verify", "--baseline",
                    "--json"], cwd=ROOT, capture_output=True, text=True)
    t0 = time.perf_counter()
    v = subprocess.run([sys.executable, "-m", "app.cli", "--config", str(args.out / "config.toml"), "verify", "--json"],
                       cwd=ROOT, capture_output=True, text=True)
    verify_s = time.perf_counter() - t0
    verify_ok = v.returncode == 0 and json.loads(v.stdout)["ok"]

    result: dict[str, object] = {"bytes": total, "files": len(files), "events": args.events, "cores": cores,
                                 "rounds": args.repeat, "cache_dropped": can_drop,
                                 "liuhen_verify_whole_s": round(verify_s, 2), "liuhen_verify_ok": verify_ok}
    hashlib_key = f"hashlib x{cores}"
    for cache in caches:
        med = {m: statistics.median(v) for m, v in rates[cache].items()}
        limit = min(med["cat"], med[hashlib_key])
        result[cache] = {"median_mb_s": {m: round(x) for m, x in med.items()},
                         "range_mb_s": {m: [round(min(v)), round(max(v))] for m, v in rates[cache].items()},
                         "fixity_vs_cat": round(med["liuhen fixity"] / med["cat"], 2),
                         "fixity_vs_hashlib": round(med["liuhen fixity"] / med[hashlib_key], 2),
                         "fixity_vs_limit": round(med["liuhen fixity"] / limit, 2),
                         "goal_met": med["liuhen fixity"] >= GOAL * limit}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{total / 1e9:.2f} GB in {len(files)} originals, {args.events} custody events, {cores} cores, "
              f"{args.repeat} rounds")
        for cache in caches:
            r = result[cache]
            assert isinstance(r, dict)
            print(f"{cache}: " + ", ".join(f"{m} {x} MB/s" for m, x in r["median_mb_s"].items())
                  + f"; fixity / min(cat, hashlib) = {r['fixity_vs_limit']} (goal {GOAL}: "
                  f"{'met' if r['goal_met'] else 'NOT met'})")
        print(f"whole `liuhen verify` (chain of {args.events} events + originals): {verify_s:.1f} s, "
              f"{'ok' if verify_ok else 'FAILED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
