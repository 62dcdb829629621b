#!/usr/bin/env python3
"""Start-up: ``liuhen --help`` and ``liuhen show N --json`` as whole processes, against bare Python
and bare SQLAlchemy, in the same run.

Every command is a fresh process, run the way the ``liuhen`` console script runs it (``from app.cli
import main``), with this checkout first on ``PYTHONPATH``:

* ``python -c pass``: the interpreter and its ``site`` (this virtual environment's path hooks
  included) — what no Python command can go below;
* ``import sqlalchemy.orm``: SQLAlchemy's ORM, imported and nothing done — what any command that
  reads the archive pays before its first line of work;
* ``import sqlalchemy.orm, liuhen.config``: that plus the settings (pydantic, pydantic-settings);
* ``liuhen --help``;
* ``liuhen show N --json``: config loaded, archive opened (database, keys, store), one record read
  and its ``viewed`` custody event written and committed;
* ``liuhen verify --json``: the whole verify of the small archive, for scale (no goal).

The archive is made once under ``--workdir`` by ``liuhen demo --clips 1 --seconds 1`` (real ffmpeg
clips, a few recordings), unless ``--config`` names an existing one. One untimed round first
(bytecode written, files in the page cache, output checked: exit status 0 and ``show``'s JSON names
the evidence asked for), then ``--repeat`` rounds, each running every command once in a rotated
order. Reports the median and the minimum wall time and the median CPU time (user + system, from
``wait4``) of each, the goals (``--help`` ≤ 80 ms, ``show`` ≤ 200 ms, wall) and the load average
before and after: on a shared machine CPU time moves less than wall time. ``--before DIR`` runs
``--help`` and ``show`` from another checkout too (e.g. ``git archive`` of an older commit unpacked
into DIR), in the same rounds, and prints the ratios. ``--importtime`` adds, for
``--help`` and ``show``, the self time of ``-X importtime`` summed by top-level package.

Usage: .venv/bin/python bench/startup.py [--repeat 9] [--config PATH --evidence N] [--before DIR] [--importtime]
       [--json]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIUHEN = "import sys; from app.cli import main; sys.exit(main())"  # what the console script runs
GOALS_MS = {"liuhen --help": 80.0, "liuhen show N --json": 200.0}


def make_archive(workdir: Path, env: dict[str, str]) -> Path:
    """A small archive made by ``liuhen demo``: a few real recordings, offloaded and verified."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    cfg = workdir / "config.toml"
    shutil.copy(ROOT / "config.toml", cfg)
    subprocess.run([sys.executable, "-c", LIUHEN, "--config", str(cfg), "demo", "--clips", "1", "--seconds", "1",
                    "--json"], env=env, check=True, stdout=subprocess.DEVNULL, cwd=workdir)
    return cfg


def commands(cfg: Path, evidence: str) -> dict[str, list[str]]:
    py = sys.executable
    return {
        "python -c pass": [py, "-c", "pass"],
        "import sqlalchemy.orm": [py, "-c", "import sqlalchemy.orm"],
        "import sqlalchemy.orm, liuhen.config": [py, "-c", "import sqlalchemy.orm, liuhen.config"],
        "liuhen --help": [py, "-c", LIUHEN, "--help"],
        "liuhen show N --json": [py, "-c", LIUHEN, "--config", str(cfg), "show", evidence, "--json"],
        "liuhen verify --json": [py, "-c", LIUHEN, "--config", str(cfg), "verify", "--json"],
    }


def checkout_env(checkout: Path) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(checkout), *filter(None, [os.environ.get("PYTHONPATH")])]))


def timed(argv: list[str], checkout: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one process run from ``checkout``; its exit status must be 0."""
    env = checkout_env(checkout)
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=checkout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv} exited {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def check(name: str, argv: list[str], checkout: Path, evidence: str) -> None:
    out = subprocess.run(argv, env=checkout_env(checkout), cwd=checkout, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{name}: exit status {out.returncode}\n{out.stderr}")
    if "show" in name and str(json.loads(out.stdout)["evidence_id"]) != evidence:
        raise SystemExit(f"{name}: the JSON does not name evidence {evidence}: {out.stdout[:200]}")


def importtime(argv: list[str], checkout: Path, top: int = 10) -> list[tuple[str, float]]:
    """Self import time (ms) by top-level package under ``-X importtime``, largest first."""
    out = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], env=checkout_env(checkout), cwd=checkout,
                         capture_output=True, text=True)
    total: collections.Counter[str] = collections.Counter()
    for line in out.stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            self_us, _, name = line.removeprefix("import time:").split("|")
            total[name.strip().split(".")[0]] += int(self_us)
    return [("(all)", sum(total.values()) / 1000)] + [(k, v / 1000) for k, v in total.most_common(top)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=9, help="timed rounds (default 9)")
    ap.add_argument("--config", type=Path, help="an existing archive's config (default: make one with liuhen demo)")
    ap.add_argument("--evidence", default="1", help="the evidence `show` reads (default 1)")
    ap.add_argument("--workdir", type=Path, default=ROOT / "bench" / "out" / "startup")
    ap.add_argument("--before", type=Path, help="another checkout (e.g. `git archive` of an older commit): its "
                    "--help and show run in the same rounds, as 'before'")
    ap.add_argument("--importtime", action="store_true", help="also break --help's and show's imports down")
    ap.add_argument("--json", action="store_true", help="a one-line JSON summary on stdout")
    args = ap.parse_args()

    cfg = args.config.resolve() if args.config else make_archive(args.workdir, checkout_env(ROOT))
    cmds = commands(cfg, args.evidence)
    where = {n: ROOT for n in cmds}  # each runs from (cwd and PYTHONPATH) this checkout
    if args.before:
        for n in ("liuhen --help", "liuhen show N --json"):
            cmds[f"{n} (before)"] = cmds[n]
            where[f"{n} (before)"] = args.before.resolve()
    load_before = os.getloadavg()
    for name, argv in cmds.items():  # untimed: bytecode written, page cache warm, output checked
        check(name, argv, where[name], args.evidence)

    wall: dict[str, list[float]] = {n: [] for n in cmds}
    cpu: dict[str, list[float]] = {n: [] for n in cmds}
    names = list(cmds)
    for r in range(args.repeat):
        for name in names[r % len(names):] + names[:r % len(names)]:
            w, c = timed(cmds[name], where[name])
            wall[name].append(w * 1000)
            cpu[name].append(c * 1000)
    load_after = os.getloadavg()

    rows = {n: {"wall_ms": statistics.median(wall[n]), "wall_min_ms": min(wall[n]),
                "cpu_ms": statistics.median(cpu[n]), "goal_ms": GOALS_MS.get(n)} for n in cmds}
    print(f"{os.cpu_count()} cores, load average {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
          f"{args.repeat} rounds, medians (ms)")
    print(f"{'command':<38} {'wall':>7} {'min':>7} {'cpu':>7}  goal")
    for n, row in rows.items():
        goal = row["goal_ms"]
        verdict = "" if goal is None else f"≤ {goal:.0f}: {'met' if row['wall_ms'] <= goal else 'NOT met'}"
        print(f"{n:<38} {row['wall_ms']:7.1f} {row['wall_min_ms']:7.1f} {row['cpu_ms']:7.1f}  {verdict}")
    base = rows["python -c pass"]["wall_ms"]
    orm = rows["import sqlalchemy.orm"]["wall_ms"]
    floor = rows["import sqlalchemy.orm, liuhen.config"]["wall_ms"]
    show = rows["liuhen show N --json"]["wall_ms"]
    print(f"show: {show - base:.0f} ms above bare Python; import sqlalchemy.orm alone {orm - base:.0f} ms, "
          f"with liuhen.config {floor - base:.0f} ms ({floor / show:.0%} of show)")
    for n in ("liuhen --help", "liuhen show N --json"):
        if f"{n} (before)" in rows:
            b = rows[f"{n} (before)"]
            print(f"{n}: before/now wall {b['wall_ms'] / rows[n]['wall_ms']:.2f}x, "
                  f"CPU {b['cpu_ms'] / rows[n]['cpu_ms']:.2f}x")

    breakdown = {}
    if args.importtime:
        for n in ("liuhen --help", "liuhen show N --json"):
            breakdown[n] = importtime(cmds[n], ROOT)
            print(f"-X importtime, {n}: " + ", ".join(f"{k} {v:.0f}" for k, v in breakdown[n]) + " (ms, self)")
    if args.json:
        print(json.dumps({"rows": rows, "rounds": args.repeat, "load": [load_before[0], load_after[0]],
                          "cores": os.cpu_count(), "importtime": breakdown}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
