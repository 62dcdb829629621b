#!/usr/bin/env python3
"""The console under concurrent users: 1, 10 and 50 clients against a real ``liuhen serve``.

For each backend (SQLite, and PostgreSQL when reachable) it builds the API tests' small archive
(``tests.api_world.build_world``: units, officers, users and tokens, five real ffmpeg clips docked,
the media jobs run, so proxies exist) in a temporary folder, gives one recording (张三's) 3,000
custody events and leaves another (王五's) at its ~30, then starts ``liuhen serve --no-station``
(uvicorn) and, for each scenario and each number of clients, runs the clients (threads, each with
its own keep-alive connection, users spread over three readers) for ``--seconds``:

* ``search-api``: ``GET /api/v1/evidence?q=张三`` (a ``searched`` event each);
* ``search-page``: the console's ``/search?q=张三`` (a ``searched`` event each);
* ``evidence-api``: ``GET /api/v1/evidence/ID`` (a ``viewed`` event each);
* ``custody-api``: ``GET /api/v1/evidence/ID/custody`` of the 3,000-event recording (a page of 50);
* ``evidence-page-30`` / ``evidence-page-3000``: the console's evidence page of the recording with
  ~30 and with 3,000 custody events (a ``viewed`` event each; the page shows the newest 50);
* ``proxy-range``: ``GET .../media/proxy`` with a random 64 KiB ``Range`` (a seek: one ``played``
  event per user and 30 minutes, as the console plays).

It reports per scenario and client count: requests served, throughput (req/s), p50 and p95 (ms),
and the goals (p95 ≤ 50 ms for search-api and evidence-api at 10 clients, ≤ 150 ms for pages;
throughput rising with clients up to the cores). Every answer must be 200/206: any other status
fails the run. With ``--baseline DIR`` (a checkout of older code) the same load runs in
the same session against a server started from that checkout (the code before this change), on the
same database, for the ratio.

The clients share the machine with the server (Python threads: on 2 cores they take a good part
of one), so figures are a floor for what the server alone could do.

    .venv/bin/python bench/console_load.py                         # both backends, 4 s per point
    .venv/bin/python bench/console_load.py --backend sqlite --seconds 2 --no-baseline --json
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

API = "/api/v1"
READERS = ("investigator_a", "legal_reviewer_a", "records_manager_a")
GOALS_MS = {"search-api": 50.0, "evidence-api": 50.0, "search-page": 150.0, "evidence-page-30": 150.0,
            "evidence-page-3000": 150.0}


def _clip_maker(folder: Path) -> Callable[..., Path]:
    from tests.conftest import ffmpeg_bin

    cache: dict[tuple[float, int], Path] = {}

    def make(seconds: float = 1.0, tone: int = 440, **_: Any) -> Path:
        if (seconds, tone) not in cache:
            out = folder / f"clip_{len(cache)}.mp4"
            subprocess.run([ffmpeg_bin(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                            f"testsrc2=size=320x240:rate=25:duration={seconds}", "-f", "lavfi", "-i",
                            f"sine=frequency={tone}:duration={seconds}", "-c:v", "libx264", "-preset", "ultrafast",
                            "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(out)], check=True)
            cache[(seconds, tone)] = out
        return cache[(seconds, tone)]

    return make


def build(folder: Path, url: str, events: int) -> dict[str, Any]:
    """The archive, its users' sessions and tokens, and the ids the scenarios read."""
    import liuhen
    from auth import service as accounts
    from tests.api_world import PASSWORD, build_world

    w = build_world(folder, url, _clip_maker(folder))
    try:
        heavy, light = w.evidence["zhangsan"], w.evidence["wangwu"]
        with w.archive.sessions.begin() as db:
            for i in range(events):
                w.archive.custody.record(db, actor="bench:history", action="viewed", tool="bench",
                                         tool_version=liuhen.__version__, evidence_id=heavy,
                                         detail={"what": "history", "n": i})
        cookies = {}
        for username in READERS:
            user = accounts.authenticate(w.archive.sessions, username=username, password=PASSWORD,
                                         settings=w.settings.auth)
            with w.archive.sessions.begin() as db:
                cookies[username], _ = accounts.start_session(db, user=user, ip="127.0.0.1", user_agent="bench")
        with w.archive.sessions() as db:
            from archive import views
            proxy = views.derived_file(db, evidence_id=heavy, kind="proxy")
            assert proxy is not None
            size = proxy.size
        return {"config": str(w.settings.config_path), "cookie_name": w.settings.auth.session_cookie,
                "tokens": {u: w.tokens[u] for u in READERS}, "cookies": cookies, "heavy": heavy, "light": light,
                "proxy_size": size}
    finally:
        w.archive.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


WEB_PROCESSES: list[str] = []  # `serve --web-processes N` when --web-processes is given (this tree only)


def serve(config: str, tree: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "--config", config, "serve", "--port", str(port),
                             "--no-station", *(WEB_PROCESSES if tree == ROOT else [])], cwd=str(tree), env=env,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"liuhen serve ({tree}) exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", f"{API}/health")
            if c.getresponse().status == 200:
                c.close()
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("liuhen serve did not answer within 60 s")


def scenarios(d: dict[str, Any]) -> dict[str, Callable[[str, random.Random], tuple[str, dict[str, str]]]]:
    q = quote("张三")

    def api(u: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {d['tokens'][u]}"}

    def page(u: str) -> dict[str, str]:
        return {"Cookie": f"{d['cookie_name']}={d['cookies'][u]}"}

    def proxy(u: str, rng: random.Random) -> tuple[str, dict[str, str]]:
        start = rng.randrange(1, max(2, d["proxy_size"] - 65536))
        end = min(d["proxy_size"] - 1, start + 65535)
        return f"{API}/evidence/{d['heavy']}/media/proxy", {**api(u), "Range": f"bytes={start}-{end}"}

    return {
        "search-api": lambda u, _r: (f"{API}/evidence?q={q}", api(u)),
        "search-page": lambda u, _r: (f"/search?q={q}", page(u)),
        "evidence-api": lambda u, _r: (f"{API}/evidence/{d['heavy']}", api(u)),
        "custody-api": lambda u, _r: (f"{API}/evidence/{d['heavy']}/custody", api(u)),
        "evidence-page-30": lambda u, _r: (f"/evidence/{d['light']}", page(u)),
        "evidence-page-3000": lambda u, _r: (f"/evidence/{d['heavy']}", page(u)),
        "proxy-range": proxy,
    }


def load(port: int, make: Callable[[str, random.Random], tuple[str, dict[str, str]]], clients: int,
         seconds: float) -> dict[str, Any]:
    lat: list[float] = []
    bad: dict[int, int] = {}
    lock = threading.Lock()
    start_gate = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client(n: int) -> None:
        rng = random.Random(n)
        user = READERS[n % len(READERS)]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        mine: list[float] = []
        start_gate.wait()
        while time.perf_counter() < deadline[0]:
            path, headers = make(user, rng)
            t0 = time.perf_counter()
            conn.request("GET", path, headers=headers)
            r = conn.getresponse()
            r.read()
            t1 = time.perf_counter()
            if r.status not in (200, 206):
                with lock:
                    bad[r.status] = bad.get(r.status, 0) + 1
            mine.append(t1 - t0)
        conn.close()
        with lock:
            lat.extend(mine)

    # warm up: every user once (sessions touched, first plays recorded, caches filled)
    for u in READERS:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        path, headers = make(u, random.Random(0))
        c.request("GET", path, headers=headers)
        c.getresponse().read()
        c.close()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    deadline[0] = t0 + seconds
    start_gate.wait()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if bad:
        raise SystemExit(f"answers other than 200/206: {bad}")
    lat.sort()
    return {"clients": clients, "requests": len(lat), "rps": len(lat) / wall,
            "p50_ms": 1000 * statistics.median(lat), "p95_ms": 1000 * lat[int(0.95 * (len(lat) - 1))]}


def run_backend(name: str, url: str, args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    print(f"== {name}: building the archive ({args.events} custody events on one recording) ...", flush=True)
    d = build(work / name, url, args.events)
    trees = [("this tree", ROOT)] + ([("baseline", Path(args.baseline))] if args.baseline else [])
    rows: list[dict[str, Any]] = []
    for label, tree in trees:
        proc, port = serve(d["config"], tree)
        try:
            for scen, make in scenarios(d).items():
                for clients in args.clients:
                    r = {"backend": name, "tree": label, "scenario": scen, **load(port, make, clients, args.seconds)}
                    rows.append(r)
                    print(f"{name:10} {label:9} {scen:19} {clients:3} clients: {r['requests']:6} req "
                          f"{r['rps']:7.1f} req/s  p50 {r['p50_ms']:7.1f} ms  p95 {r['p95_ms']:7.1f} ms", flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return rows


def summary(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in rows:
        if r["tree"] != "this tree" or r["clients"] != 10 or r["scenario"] not in GOALS_MS:
            continue
        goal = GOALS_MS[r["scenario"]]
        out.append(f"{r['backend']:10} {r['scenario']:19} p95 at 10 clients {r['p95_ms']:6.1f} ms (goal ≤ {goal:g}): "
                   + ("met" if r["p95_ms"] <= goal else "NOT met"))
    for backend in sorted({r["backend"] for r in rows}):
        for scen in sorted({r["scenario"] for r in rows}):
            pts = {r["clients"]: r["rps"] for r in rows
                   if r["backend"] == backend and r["scenario"] == scen and r["tree"] == "this tree"}
            base = {r["clients"]: r["rps"] for r in rows
                    if r["backend"] == backend and r["scenario"] == scen and r["tree"] == "baseline"}
            line = f"{backend:10} {scen:19} req/s by clients " + ", ".join(f"{c}: {v:.0f}" for c, v in sorted(pts.items()))
            if base:
                line += "  (baseline " + ", ".join(f"{c}: {v:.0f}" for c, v in sorted(base.items())) + ")"
            out.append(line)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 10, 50])
    ap.add_argument("--seconds", type=float, default=4.0, help="per scenario and client count")
    ap.add_argument("--events", type=int, default=3000, help="custody events of the heavy recording")
    ap.add_argument("--baseline", default=None,
                    help="a checkout of older code (e.g. `git worktree add /tmp/before COMMIT`) to run the same load "
                         "against, in the same run, for the ratio")
    ap.add_argument("--no-baseline", dest="baseline", action="store_const", const=None)
    ap.add_argument("--web-processes", type=int, default=None, metavar="N",
                    help="run this tree's server as `liuhen serve --web-processes N` (default: its default, 1)")
    ap.add_argument("--json", action="store_true", help="a JSON summary on the last line")
    args = ap.parse_args()
    if args.web_processes is not None:
        WEB_PROCESSES[:] = ["--web-processes", str(args.web_processes)]
    if args.baseline and Path(args.baseline).resolve() == ROOT:
        args.baseline = None
    work = Path(tempfile.mkdtemp(prefix="liuhen-console-load-"))
    rows: list[dict[str, Any]] = []
    try:
        if args.backend in ("sqlite", "both"):
            rows += run_backend("sqlite", f"sqlite:///{work / 'sqlite' / 'var' / 'liuhen.db'}", args, work)
        if args.backend in ("postgresql", "both"):
            from tests.conftest import _pg_available, create_pg_database

            why = _pg_available()
            if why is not None:
                print(f"== postgresql: skipped ({why})")
            else:
                url, drop = create_pg_database()
                try:
                    rows += run_backend("postgresql", url, args, work)
                finally:
                    drop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join(["", f"== summary (os.cpu_count() = {os.cpu_count() or 0})", *summary(rows)]))
    if args.json:
        print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
