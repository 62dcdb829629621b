#!/usr/bin/env python3
"""A login flood against a real ``liuhen serve``: does a signed-in user still get answers?

For each scenario it makes a fresh archive (SQLite, the embedded default) in a temporary folder,
adds a unit and an investigator with an API token through the ``liuhen`` command line, starts
``liuhen serve --no-station`` (uvicorn) on 127.0.0.1 and then

1. **idle**: sends ``--requests`` authenticated ``GET /api/v1/me`` one after the other (a token
   check that also writes the token's ``last_used_at``: on SQLite a write transaction, the kind of
   request that used to wait behind a login's argon2) and times each;
2. **flood**: starts ``--threads`` anonymous threads, each fetching the sign-in form once and then
   posting wrong passwords to ``POST /login`` as fast as the server answers (user names drawn
   from the real one and made-up ones), and meanwhile sends the same authenticated GETs again —
   at most ``--requests`` of them and for at most ``--seconds``.

It prints p50 and p95 of both, their ratio (the goal: p95 under flood within 5x idle) and how
the server answered the flood (401 wrong/throttled, 503 busy). Scenarios:

* ``default``: ``[auth]`` as shipped — after 20 failures from one address each further login
  must wait (and is refused without argon2), so most of the flood is cheap;
* ``pool-only``: throttling set out of reach (``account_free_attempts`` and
  ``address_free_attempts`` = 10^9), so every attempt asks for argon2 and only the bounded pool
  (``login_workers``, default cores - 1, and ``login_wait_s``) protects the signed-in user.

Bounded in count and time; runs in well under a minute per scenario at the defaults.

    .venv/bin/python bench/login_flood.py                     # both scenarios
    .venv/bin/python bench/login_flood.py --scenario pool-only --json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import multiprocessing.queues
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "基准测试用的长密码-2026"
SCENARIOS = {
    "default": {},
    "pool-only": {"LIUHEN_AUTH__ACCOUNT_FREE_ATTEMPTS": "1000000000", "LIUHEN_AUTH__ADDRESS_FREE_ATTEMPTS": "1000000000"},
}


def _liuhen(cfg: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> str:
    r = subprocess.run([sys.executable, "-m", "app.cli", "--config", str(cfg), *args], input=stdin,
                       capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ, **(env or {})})
    if r.returncode != 0:
        raise SystemExit(f"liuhen {' '.join(args)} failed: {r.stderr}")
    return r.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def _flood(base: str, threads: int, stop: Any, counts: Any) -> None:
    """``threads`` anonymous threads posting wrong passwords until ``stop``; puts the answers' counts."""
    answers: Counter[int] = Counter()
    lock = threading.Lock()

    def one(i: int) -> None:
        rnd = random.Random(i)
        with httpx.Client(base_url=base, timeout=300) as c:
            form = c.get("/login").text
            m = re.search(r'name="login_csrf" value="([^"]+)"', form)
            assert m, "no sign-in form"
            while not stop.is_set():
                name = "bench_user" if rnd.random() < 0.5 else f"guess{rnd.randrange(10_000)}"
                r = c.post("/login", data={"username": name, "password": f"wrong-{rnd.random()}",
                                           "login_csrf": m.group(1), "next": "/"})
                with lock:
                    answers[r.status_code] += 1

    workers = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    counts.put(dict(answers))


def run(scenario: str, requests: int, seconds: float, threads: int) -> dict[str, object]:
    env = {**os.environ, **SCENARIOS[scenario], "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory(prefix="liuhen-flood-") as tmp:
        folder = Path(tmp)
        cfg = folder / "config.toml"
        cfg.write_text(f'[archive]\ndatabase_url = "sqlite:///{folder}/liuhen.db"\nstore = "local"\n'
                       f'store_path = "{folder}/originals"\nupload_path = "{folder}/uploads"\n'
                       f'key_path = "{folder}/keys/archive.ed25519"\n\n[station]\nid = "st-bench"\n'
                       f'dock_root = "{folder}/dock"\nstate_path = "{folder}/station"\n', encoding="utf-8")
        _liuhen(cfg, "units", "add", "BENCH", "基准单位", env=env)
        _liuhen(cfg, "users", "add", "bench_user", "--role", "investigator", "--unit", "BENCH",
                stdin=PASSWORD + "\n", env=env)
        token = json.loads(_liuhen(cfg, "users", "token", "bench_user", "--name", "bench", "--json", env=env))["token"]
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, "-m", "app.cli", "--config", str(cfg), "serve", "--no-station",
                                   "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("liuhen serve did not start")
                time.sleep(0.2)
            user = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=300)

            def timed_get() -> float:
                t0 = time.perf_counter()
                r = user.get("/api/v1/me")
                assert r.status_code == 200, r.text
                return time.perf_counter() - t0

            for _ in range(5):
                timed_get()  # warm up
            idle = [timed_get() for _ in range(requests)]

            # the flood runs in its own process, so that its threads do not take the GIL from the
            # thread that times the signed-in user's requests
            ctx = multiprocessing.get_context("spawn")
            stop = ctx.Event()
            counts: multiprocessing.queues.Queue[dict[int, int]] = ctx.Queue()
            flooder = ctx.Process(target=_flood, args=(base, threads, stop, counts))
            t_flood = time.monotonic()
            flooder.start()
            time.sleep(2.0)  # let the flood build up
            flooded: list[float] = []
            t_end = time.monotonic() + seconds
            while len(flooded) < requests and time.monotonic() < t_end:
                flooded.append(timed_get())
            stop.set()
            flood_s = time.monotonic() - t_flood
            answers = Counter(counts.get(timeout=120))
            flooder.join(timeout=60)
        finally:
            server.terminate()
            server.wait(timeout=30)
    result: dict[str, object] = {
        "scenario": scenario, "threads": threads, "cores": len(os.sched_getaffinity(0)),
        "idle_n": len(idle), "idle_p50_ms": round(1000 * statistics.median(idle), 2),
        "idle_p95_ms": round(1000 * _pct(idle, 0.95), 2),
        "flood_n": len(flooded), "flood_p50_ms": round(1000 * statistics.median(flooded), 2),
        "flood_p95_ms": round(1000 * _pct(flooded, 0.95), 2),
        "login_answers": dict(sorted(answers.items())),
        "logins_per_s": round(sum(answers.values()) / flood_s, 1),
    }
    result["p95_ratio"] = round(float(result["flood_p95_ms"]) / float(result["idle_p95_ms"]), 2)  # type: ignore[arg-type]
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    ap.add_argument("--requests", type=int, default=200, help="authenticated GETs idle, and at most this many under flood")
    ap.add_argument("--seconds", type=float, default=20.0, help="longest flood phase")
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = [run(s, args.requests, args.seconds, args.threads)
               for s in (SCENARIOS if args.scenario == "all" else [args.scenario])]
    for r in results:
        if args.json:
            print(json.dumps(r, ensure_ascii=False))
        else:
            print(f"{r['scenario']:>9}: idle p50 {r['idle_p50_ms']} ms p95 {r['idle_p95_ms']} ms ({r['idle_n']}); "
                  f"under {r['threads']} flooding threads p50 {r['flood_p50_ms']} ms p95 {r['flood_p95_ms']} ms "
                  f"({r['flood_n']}); p95 ratio {r['p95_ratio']}x (goal <= 5x); login answers {r['login_answers']} "
                  f"({r['logins_per_s']}/s) on {r['cores']} cores")
    return 0 if all(float(r["p95_ratio"]) <= 5 for r in results) else 1  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
