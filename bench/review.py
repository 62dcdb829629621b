#!/usr/bin/env python3
"""The reviewer's workspace (审核工作台) of a big case against the plain case page, in the same run.

The case: 40 documents (filled forms, ``cases.records.add_form``) and 60 linked recordings, one
hour of footage in all, over 10 steps of 6 minutes (each step covered back to back by 6 one-minute
recordings), submitted for review (``review.service.submit``: materials pinned) and opened by a
qualified reviewer (``open_round``: pre-filled elements).

The recordings go through the archive's real intake (``archive.service.receive``: a registered
station's signed manifest, hashing, the store, the custody event), as small real files: one short
ffmpeg clip (or, without ffmpeg, a few bytes of an MP4 header) with a unique ``free`` box appended
to each copy, named ``DSJ-A001_000123_<start>_0001.MP4`` so the file name gives officer and start.
Encoding 60 one-minute clips would take longer than the rest of the run; instead each evidence row
is then given what the probe would have found for a one-minute recording (``duration_s`` = 60,
``recorded_at_source`` = ``file_name``), written directly, as ``media.service``'s probe does. The
media jobs are not run: nothing here reads the media.

Timed, in-process (``fastapi.testclient``, the reviewer's bearer token; SQLite by default, or
``--database-url`` for PostgreSQL), ``--repeat`` rounds in a rotated order after ``--warmup``
untimed ones, each answer checked (status 200, the round's 60 recordings and 40 documents in it):

* ``case-api``: ``GET /api/v1/cases/{id}`` (a ``case_viewed`` custody event each) — the baseline;
* ``case-page``: the console's case page ``/cases/{id}`` (a ``case_viewed`` event each);
* ``workspace-view``: what the workspace call does for a reader: ``review.views.workspace`` (pinned
  materials, what changed since, plays, coverage, the checklist, earlier rounds) and its JSON;
* ``workspace-open``: what it does for the reviewer: ``open_round`` (separation of duties, liuhen's
  pre-filled findings, a ``review_opened`` event) and the same workspace and JSON, one transaction;
* ``workspace-api`` / ``workspace-page``: ``GET /api/v1/review/rounds/{id}`` and the console's
  ``/review/rounds/{id}``, where this checkout has them (the API and console of the review).

Reports the median and p90 (ms) of each and the ratio of each workspace median to the case page's
(API to API, page to page), against the goals: ≤ 1.5× the case page and ≤ 300 ms. Server time
only (no browser: the pages' first paint adds the same HTML parse to both sides).

    .venv/bin/python bench/review.py                                 # SQLite, 15 rounds
    .venv/bin/python bench/review.py --repeat 30 --json
    .venv/bin/python bench/review.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_review
    .venv/bin/python bench/review.py --profile workspace-open         # pyinstrument of one scenario
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TZ = ZoneInfo("Asia/Shanghai")
UNIT = "110101-ZF"
OFFICER = "000123"
PASSWORD = "正确的马电池订书钉和钥匙"
STEPS = ("立案", "调查", "取证", "现场检查", "询问", "证据保全", "查封扣押", "听证", "审查", "执行")
PER_STEP = 6  # one-minute recordings per step: 10 × 6 = 60, one hour
DOCUMENTS = 40
GOAL_RATIO, GOAL_MS = 1.5, 300.0
START = dt.datetime(2026, 11, 20, 9, 0, tzinfo=TZ)


def _config(folder: Path, url: str) -> Path:
    p = folder / "config.toml"
    p.write_text(f"""
[archive]
database_url = "{url}"
store = "local"
store_path = "var/originals"
upload_path = "var/uploads"
key_path = "var/keys/archive.ed25519"

[station]
id = "st-bench"
dock_root = "dock"
state_path = "var/station"
""", encoding="utf-8")
    return p


def _clip(folder: Path) -> bytes:
    """A short real MP4 (ffmpeg), or an MP4 ``ftyp`` box where there is no ffmpeg."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg:
        out = folder / "clip.mp4"
        subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10", "-t", "0.5",
                        "-c:v", "libx264", "-preset", "ultrafast", str(out)], check=True)
        return out.read_bytes()
    return struct.pack(">I4s4sI", 16, b"ftyp", b"isom", 0)


def build(folder: Path, url: str) -> dict[str, Any]:
    from sqlalchemy import select

    from app.runtime import open_archive
    from archive.attribution import add_officer
    from archive.models import Evidence
    from archive.service import receive, register_station
    from archive.stations import set_unit
    from auth import service as accounts
    from cases import records
    from cases.service import add_step, create_case, get_case, link
    from hashing import keys
    from ingest.wire import Manifest
    from liuhen import config
    from review import service
    from review.catalogue import Proposal

    settings = config.load(_config(folder, url), environ={})
    archive = open_archive(settings)
    with archive.sessions.begin() as db:
        unit_id = accounts.add_unit(db, code=UNIT, name="东城区市场监督管理局").id
        add_officer(db, archive.custody, officer_no=OFFICER, name="张三", unit_id=unit_id, actor="bench")
        tokens = {}
        for name, role in (("handler", "investigator"), ("reviewer", "legal_reviewer")):
            u = accounts.add_user(db, archive.custody, username=name, password=PASSWORD, role=role, unit_code=UNIT,
                                  actor="bench", settings=settings.auth)
            u.legal_qualification = role == "legal_reviewer"
            tokens[name] = accounts.issue_api_token(db, archive.custody, user=u, name="bench", actor="bench")
    # the recordings, through the real intake
    key = keys.load_or_create(folder / "station.ed25519")
    register_station(archive, station_id="st-bench", public_pem=key.public_pem)
    set_unit(archive, station_id="st-bench", unit_code=UNIT)
    clip = _clip(folder)
    ids: list[int] = []
    for i in range(len(STEPS) * PER_STEP):
        data = clip + struct.pack(">I4s", 8 + 16, b"free") + uuid.uuid4().bytes  # unique bytes, still an MP4
        begin = (START + dt.timedelta(minutes=i)).strftime("%Y%m%d%H%M%S")
        name = f"DSJ-A001_{OFFICER}_{begin}_0001.MP4"
        now = dt.datetime.now(dt.UTC).isoformat()
        m = Manifest(manifest_id=str(uuid.uuid4()), station_id="st-bench", station_key_id=key.key_id, bay="b1",
                     layout="pattern", original_path=name, original_path_hex=name.encode().hex(),
                     path_encoding="utf-8", sha256=hashlib.sha256(data).hexdigest(), size=len(data), file_mtime=now,
                     staged_at=now, tool="liuhen-bench", tool_version="0", hash_tool="hashlib",
                     device_id="DSJ-A001", officer_id=OFFICER,  # what the station reads from the file name
                     recorded_at=(START + dt.timedelta(minutes=i)).isoformat())
        staged = folder / f"staged-{i}"
        staged.write_bytes(data)
        mb = m.to_bytes()
        r = receive(archive, manifest_bytes=mb, signature=key.sign(mb), path=staged)
        assert r.status == "archived", r
        ids.append(r.evidence_id)
    with archive.sessions.begin() as db:  # what the probe finds for a one-minute recording
        for ev in db.scalars(select(Evidence).where(Evidence.id.in_(ids))):
            ev.duration_s, ev.recorded_at_source = 60.0, "file_name"
            assert ev.recorded_at is not None and ev.officer_id == OFFICER
    # the case: 10 steps of 6 minutes, each covered by 6 recordings; 40 documents
    with archive.sessions.begin() as db:
        c = create_case(db, archive.custody, settings.cases, unit_id=unit_id, unit_code=UNIT,
                        category="行政处罚", title="某食品公司超范围经营案", actor="user:handler")
        case_id = c.id
        for s, kind in enumerate(STEPS):
            st = add_step(db, archive.custody, settings.cases, case=c, kind=kind,
                          started_at=START + dt.timedelta(minutes=PER_STEP * s),
                          ended_at=START + dt.timedelta(minutes=PER_STEP * (s + 1)), officers=(OFFICER,),
                          actor="user:handler")
            for ev_id in ids[PER_STEP * s:PER_STEP * (s + 1)]:
                link(db, archive.custody, step=st, evidence=db.get_one(Evidence, ev_id), actor="user:handler")
    kinds = [k for k in records.FORMS if k not in settings.review.decision_records]  # no decision before review
    for d in range(DOCUMENTS):
        kind = kinds[d % len(kinds)]
        fields = {k: f"{label}（第 {d + 1} 份）" for k, label in records.FORMS[kind]}
        records.add_form(archive, case_id=case_id, actor="user:handler", kind=kind, fields=fields,
                         title=f"{kind} {d + 1}")
    with archive.sessions.begin() as db:
        rnd = service.submit(db, archive.custody, settings, case=get_case(db, case_id),
                             proposal=Proposal(decision_kind="吊销许可证", content="吊销当事人食品经营许可证",
                                               legal_basis="《食品安全法》第一百二十二条", discretion="情节严重",
                                               amount_fen=None),
                             statement="事实清楚，证据确凿，拟作如上决定。", actor="user:handler")
        round_id = rnd.id
    return {"archive": archive, "settings": settings, "case_id": case_id, "round_id": round_id, "tokens": tokens}


def scenarios(w: dict[str, Any]) -> dict[str, Callable[[], None]]:
    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from api.access import principal_of
    from app.web import create_app
    from auth.models import User
    from review import service, views

    archive, settings = w["archive"], w["settings"]
    app = create_app(archive)
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {w['tokens']['reviewer']}"
    case_id, round_id = w["case_id"], w["round_id"]
    with archive.sessions() as db:
        user = db.scalars(select(User).where(User.username == "reviewer")).one()
        p = principal_of(db, user, via="bench", ip=None, user_agent=None)
        db.expunge(user)

    def check_json(d: dict[str, Any]) -> None:
        assert len(d["recordings"]) == len(STEPS) * PER_STEP and len(d["documents"]) == DOCUMENTS, \
            (len(d["recordings"]), len(d["documents"]))

    def check_case(r: Any) -> None:
        assert len(r.json()["steps"]) == len(STEPS), r.text[:300]

    def get(path: str, check: Callable[[Any], None] | None = None) -> Callable[[], None]:
        def run() -> None:
            r = client.get(path)
            assert r.status_code == 200, (path, r.status_code, r.text[:300])
            if check is not None:
                check(r)
        return run

    def view() -> None:
        with archive.reads.begin() as db:
            rnd = service.get_round(db, round_id)
            d = views.workspace(db, settings, rnd, visible=p.scope.allows, actor=p.actor).to_dict()
            check_json(json.loads(json.dumps(d, ensure_ascii=False)))

    def open_() -> None:
        with archive.sessions.begin() as db:
            rnd = service.get_round(db, round_id)
            u = db.get_one(User, user.id)
            service.open_round(db, archive.custody, settings, rnd=rnd, user=u, actor=p.actor)
            d = views.workspace(db, settings, rnd, visible=p.scope.allows, actor=p.actor).to_dict()
            check_json(json.loads(json.dumps(d, ensure_ascii=False)))

    out: dict[str, Callable[[], None]] = {
        "case-api": get(f"/api/v1/cases/{case_id}", check_case),
        "case-page": get(f"/cases/{case_id}"),
        "workspace-view": view,
        "workspace-open": open_,
    }
    # the workspace's own API route and console page, where this checkout has them (a missing route is a 404)
    for name, path in (("workspace-api", f"/api/v1/review/rounds/{round_id}"),
                       ("workspace-page", f"/review/rounds/{round_id}")):
        status = client.get(path).status_code
        if status == 200:
            out[name] = get(path, (lambda r: check_json(r.json())) if name.endswith("api") else None)
        else:
            print(f"({name}: {path} answers {status}; not timed)", file=sys.stderr)
    return out


def p90(xs: list[float]) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(0.9 * (len(s) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--database-url", help="an empty PostgreSQL database (default: SQLite in the work folder)")
    ap.add_argument("--workdir", type=Path, help="default: a temporary folder, deleted at the end")
    ap.add_argument("--profile", help="profile one scenario with pyinstrument (e.g. workspace-open)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    folder = args.workdir or Path(tempfile.mkdtemp(prefix="liuhen-bench-review-"))
    folder.mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite:///{folder / 'var' / 'liuhen.db'}"
    t0 = time.perf_counter()
    w = build(folder, url)
    built_s = time.perf_counter() - t0
    try:
        runs = scenarios(w)
        if args.profile:
            for _ in range(args.warmup):
                runs[args.profile]()
            try:
                from pyinstrument import Profiler
            except ImportError:  # the standard library's profiler, where pyinstrument is not installed
                import cProfile
                import pstats

                with cProfile.Profile() as cprof:
                    for _ in range(args.repeat):
                        runs[args.profile]()
                pstats.Stats(cprof).sort_stats("cumulative").print_stats(45)
                return 0
            prof = Profiler(interval=0.0005)
            prof.start()
            for _ in range(args.repeat):
                runs[args.profile]()
            prof.stop()
            print(prof.output_text(unicode=True, color=False, show_all=False))
            return 0
        names = list(runs)
        for _ in range(args.warmup):
            for n in names:
                runs[n]()
        times: dict[str, list[float]] = {n: [] for n in names}
        for i in range(args.repeat):
            order = names[i % len(names):] + names[:i % len(names)]
            for n in order:
                t = time.perf_counter()
                runs[n]()
                times[n].append(1000 * (time.perf_counter() - t))
        med = {n: statistics.median(v) for n, v in times.items()}
        base = {"api": med["case-api"], "page": med["case-page"]}
        rows = []
        for n in names:
            against = "page" if n.endswith("page") else "api"
            ratio = med[n] / base[against] if n.startswith("workspace") else None
            ok = None if ratio is None else (ratio <= GOAL_RATIO and med[n] <= GOAL_MS)
            rows.append({"scenario": n, "median_ms": round(med[n], 1), "p90_ms": round(p90(times[n]), 1),
                         "vs": f"case-{against}" if ratio is not None else None,
                         "ratio": round(ratio, 2) if ratio is not None else None, "goal_met": ok})
        backend = "postgresql" if url.startswith("postgresql") else "sqlite"
        print(f"review workspace vs case page — {backend}, {len(STEPS) * PER_STEP} recordings (1 h), {DOCUMENTS} "
              f"documents, {args.repeat} rounds after {args.warmup} warm-up (world built in {built_s:.0f} s)")
        print(f"{'scenario':<16} {'median ms':>10} {'p90 ms':>8} {'ratio':>7}  goal (≤ {GOAL_RATIO}× and ≤ {GOAL_MS:.0f} ms)")
        for r in rows:
            ratio = f"{r['ratio']:.2f}×" if r["ratio"] is not None else "—"
            goal = "" if r["goal_met"] is None else ("met" if r["goal_met"] else "MISSED") + f" (vs {r['vs']})"
            print(f"{r['scenario']:<16} {r['median_ms']:>10.1f} {r['p90_ms']:>8.1f} {ratio:>7}  {goal}")
        if args.json:
            print(json.dumps({"backend": backend, "repeat": args.repeat, "rows": rows}, ensure_ascii=False))
        return 0 if all(r["goal_met"] is not False for r in rows) else 1
    finally:
        w["archive"].close()
        if args.workdir is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
