#!/usr/bin/env python3
"""The station's copy+hash alone: ``ingest.staging.copy_and_hash`` of one file against ``cp FILE DEST && sync``.

Times, for ``--repeat`` rounds in a rotating order and with the page cache dropped before each
run (when this process may), three sides on the same file and disk: ``cp`` (+ ``sync``), the
kernel path (``copy_file_range`` + hashing the staged file as it lands) and the read/write
fallback path (``preadv`` into a ring of buffers, hash, ``write`` from a writer thread). Every
copy is checked against the source's SHA-256. Reports medians, ratios to ``cp`` and the load.

Usage: .venv/bin/python bench/staging_copy.py [--mb 1024] [--repeat 3] [--workdir bench/out]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ingest import staging  # noqa: E402

MB = 1_000_000


def drop_caches() -> bool:
    subprocess.run(["sync"], check=False)
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=1024, help="file size in MiB (default 1024)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=REPO / "bench" / "out" / "staging_copy")
    args = ap.parse_args(argv)
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    src = work / "source.bin"
    size = args.mb << 20
    if not src.exists() or src.stat().st_size != size:
        with open(src, "wb") as f:
            block = os.urandom(16 << 20)
            for i in range(0, size, len(block)):
                f.write(block[: min(len(block), size - i)] + b"")
                block = block[1:] + block[:1]
    want = hashlib.sha256(src.read_bytes()).hexdigest()
    dropped = drop_caches()
    print(f"staging copy: one {size / MB:.0f} MB file on {work}; page cache "
          f"{'dropped before every run' if dropped else 'NOT dropped (not root): every side reads it cached'}; "
          f"{os.cpu_count()} cores")
    sides = ["cp", "kernel", "readwrite"]
    times: dict[str, list[float]] = {s: [] for s in sides}
    cpus: dict[str, list[float]] = {s: [] for s in sides}
    loads: list[float] = []
    for i in range(args.repeat):
        order = sides[i % 3:] + sides[:i % 3]
        loads.append(os.getloadavg()[0])
        for side in order:
            dest = work / f"dest-{side}"
            dest.unlink(missing_ok=True)
            drop_caches()
            c0, t0 = cpu(), time.perf_counter()
            if side == "cp":
                subprocess.run(["cp", str(src), str(dest)], check=True)
                subprocess.run(["sync"], check=True)
            else:
                saved = staging._copy_file_range
                if side == "readwrite":
                    staging._copy_file_range = None
                try:
                    fd = os.open(src, os.O_RDONLY)
                    try:
                        d = staging.copy_and_hash(fd, dest, size, "source.bin")
                    finally:
                        os.close(fd)
                finally:
                    staging._copy_file_range = saved
                if d.hex != want:
                    sys.exit(f"{side}: wrong digest")
            secs = time.perf_counter() - t0
            times[side].append(secs)
            cpus[side].append(cpu() - c0)
            if side != "cp" and hashlib.sha256(dest.read_bytes()).hexdigest() != want:
                sys.exit(f"{side}: the staged copy differs")
            dest.unlink()
        print(f"round {i + 1} (load {loads[-1]:.1f}): " + " | ".join(
            f"{s} {times[s][-1]:.2f} s = {size / MB / times[s][-1]:.0f} MB/s (cpu {cpus[s][-1]:.1f} s)" for s in sides))
    med = {s: statistics.median(times[s]) for s in sides}
    print(f"median over {args.repeat} rounds, MB = 10^6 bytes: " + ", ".join(
        f"{s} {size / MB / med[s]:.0f} MB/s (cpu {statistics.median(cpus[s]):.1f} s)" for s in sides))
    print(f"ratio to cp (median of times): kernel {med['cp'] / med['kernel']:.2f}, "
          f"read/write {med['cp'] / med['readwrite']:.2f}; load average {statistics.median(loads):.1f} on "
          f"{os.cpu_count()} cores")
    src.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
