#!/usr/bin/env python3
"""``liuhen verify``'s log and row checks, and ``liuhen log prove``, at N custody events.

    .venv/bin/python bench/verify_log.py --events 1000000 --rows 100000            # SQLite
    .venv/bin/python bench/verify_log.py --events 1000000 --url postgresql://postgres@127.0.0.1/DB

Builds an archive with plain SQL (SQLAlchemy Core executemany, no ORM objects): ``--rows`` evidence
rows, each bound by one ``ingested`` event whose detail carries its ``bound`` hash (as
``hashing.binding`` computes it from the row as read back), then ``viewed`` events up to
``--events``; every event chained as ``hashing.custody`` chains it, its leaf and every completed
subtree in ``custody_tree`` as the log stores them, a signed checkpoint every
``--checkpoint-every`` events (the config default, 100) and the newest anchored in a witness folder.
Then, ``--repeat`` times each, in the same run: ``hashing.custody.verify_log`` (the chain, the tree,
every checkpoint and the anchor), ``integrity.bindings.check_rows`` (every bound row against its
event) and ``CustodyLog.prove`` for 200 random events (p50/p95). Each check must find nothing wrong.
``--profile`` prints cProfile's top functions of one run of each check instead of timing them.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import datetime as dt
import json
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select, update  # noqa: E402

from app.runtime import open_archive  # noqa: E402
from archive.bindings import EVIDENCE  # noqa: E402
from archive.models import Evidence  # noqa: E402
from archive.verify import Report  # noqa: E402
from hashing import merkle, note  # noqa: E402
from hashing.binding import personal_secret  # noqa: E402
from hashing.custody import canonical, event_hash, leaf_bytes, verify_log  # noqa: E402
from hashing.models import CustodyCheckpoint, CustodyEvent, CustodyHead, CustodyNode  # noqa: E402
from integrity.bindings import check_rows  # noqa: E402
from liuhen import config  # noqa: E402

BATCH = 20000


def build(archive: object, events: int, rows: int, every: int) -> None:
    a = archive
    key = a.key  # type: ignore[attr-defined]
    origin = note.origin_of(key)
    secret = personal_secret(key)
    t0 = time.perf_counter()
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with a.sessions.begin() as db:  # type: ignore[attr-defined]
        ev = []
        for i in range(rows):
            ev.append({"sha256": f"{i:064x}", "size": 1000 + i, "store_key": f"ab/cd/{i:064x}", "store_version": None,
                       "file_name": f"DSJ-A{i % 1000:03d}_000123_20260101{i % 240000:06d}_0001.MP4",
                       "media_kind": "video", "media_state": "ok", "device_id": f"DSJ-A{i % 1000:03d}",
                       "officer_id": f"{i % 5000:06d}", "recorded_at": start + dt.timedelta(seconds=i),
                       "created_at": start + dt.timedelta(seconds=i, microseconds=123), "recorded_at_source": "container",
                       "playback": "ready", "duration_s": 300.5, "width": 1920, "height": 1080, "video_codec": "h264",
                       "audio_codec": "aac", "probe_json": '{"format":"mp4"}'})
            if len(ev) == BATCH:
                db.execute(insert(Evidence), ev)
                ev = []
        if ev:
            db.execute(insert(Evidence), ev)
    bound: list[tuple[int, str]] = []
    with a.sessions() as db:  # type: ignore[attr-defined]
        for r in db.execute(select(*EVIDENCE.select_columns()).order_by(Evidence.id)):
            k, values = r[0], list(r[1:])
            bound.append((k, canonical({"bound": {EVIDENCE.ref(k): [EVIDENCE.digest(k, values, secret),
                                                                     EVIDENCE.prints(values, secret)]},
                                        "station": "S1"}).decode()))
    t_rows = time.perf_counter() - t0
    t0 = time.perf_counter()
    with a.sessions.begin() as db:  # type: ignore[attr-defined]
        head = db.execute(select(CustodyHead).where(CustodyHead.id == 1)).scalar_one()
        assert head.seq == 0, "a fresh archive"
        prev, tree = head.hash, merkle.Frontier()
        evs: list[dict[str, object]] = []
        nodes: list[dict[str, object]] = []
        cps: list[dict[str, object]] = []
        at = start
        for seq in range(1, events + 1):
            at = at + dt.timedelta(microseconds=1_000_003)
            if seq <= len(bound):
                eid, detail = bound[seq - 1]
                action, tool = "ingested", "liuhen ingest"
            else:
                eid, detail = (seq % max(rows, 1)) + 1 if rows else None, canonical({"via": "api"}).decode()
                action, tool = "viewed", "liuhen api"
            fields = {"seq": seq, "at": at, "actor": f"user:inv{seq % 97}", "action": action, "evidence_id": eid,
                      "object_sha256": None, "outcome": "success", "tool": tool, "tool_version": "0.1.0",
                      "detail": detail}
            h = event_hash(prev, **fields)  # type: ignore[arg-type]
            evs.append({**fields, "prev_hash": prev, "hash": h})
            for (level, idx), nh in tree.append(merkle.leaf_hash(leaf_bytes(**fields, prev_hash=prev, hash=h))):  # type: ignore[arg-type]
                nodes.append({"level": level, "idx": idx, "hash": nh})
            prev = h
            if seq % every == 0 or seq == events:
                root = tree.root()
                signed = note.sign(key, origin, seq, root)
                cps.append({"seq": seq, "head_hash": h, "at": at, "key_id": key.key_id, "public_key_pem": key.public_pem,
                            "statement": signed.body, "signature": base64.b64encode(signed.signature).decode(),
                            "root_hash": root.hex(), "note": signed.note})
            if len(evs) >= BATCH:
                db.execute(insert(CustodyEvent), evs)
                db.execute(insert(CustodyNode), nodes)
                if cps:
                    db.execute(insert(CustodyCheckpoint), cps)
                evs, nodes, cps = [], [], []
        for table, batch in ((CustodyEvent, evs), (CustodyNode, nodes), (CustodyCheckpoint, cps)):
            if batch:
                db.execute(insert(table), batch)
        db.execute(update(CustodyHead).where(CustodyHead.id == 1).values(
            seq=events, hash=prev, checkpoint_seq=events, checkpoint_at=at, tree_size=tree.size,
            tree_frontier=" ".join(x.hex() for x in tree.hashes)))
    results = a.custody.anchor_pending(a.engine)  # type: ignore[attr-defined]
    assert results and all(r.ok for r in results), results
    print(f"  built: {rows} bound rows in {t_rows:.1f} s, {events} events with tree and checkpoints "
          f"in {time.perf_counter() - t0:.1f} s", file=sys.stderr)


def run_log(a: object) -> int:
    with a.sessions() as db:  # type: ignore[attr-defined]
        rep = verify_log(db, a.key.public_pem, a.custody.anchors)  # type: ignore[attr-defined]
    assert not rep.problems and rep.anchored, [p.to_dict() for p in rep.problems[:5]]
    return rep.events


def run_rows(a: object) -> int:
    r = Report()
    n = check_rows(a, r)  # type: ignore[arg-type]
    assert r.ok, [f.to_dict() for f in r.failures[:5]]
    return n


def run_proofs(a: object, events: int, n: int = 200) -> list[float]:
    times = []
    with a.sessions() as db:  # type: ignore[attr-defined]
        a.custody.prove(db, 1)  # type: ignore[attr-defined]
        for seq in random.Random(1).sample(range(1, events + 1), n):
            t = time.perf_counter()
            p = a.custody.prove(db, seq)  # type: ignore[attr-defined]
            times.append(time.perf_counter() - t)
            assert p["seq"] == seq
    return times


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(len(s) * q))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--checkpoint-every", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--url", default=None, help="a database URL (an empty PostgreSQL database); default SQLite")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="liuhen-bench-log-") as d:
        url = args.url or f"sqlite:///{d}/var/liuhen.db"
        cfg = Path(d) / "config.toml"
        (Path(d) / "witness").mkdir(mode=0o700)
        cfg.write_text(f'[archive]\ndatabase_url = "{url}"\nstore_path = "var/originals"\n'
                       f'key_path = "var/keys/archive.ed25519"\ncheckpoint_every_events = {args.checkpoint_every}\n'
                       f'[anchors]\nwitness_dir = "{d}/witness"\n', encoding="utf-8")
        a = open_archive(config.load(cfg, environ={}))
        try:
            build(a, args.events, args.rows, args.checkpoint_every)
            if args.profile:
                for name, fn in (("log", lambda: run_log(a)), ("rows", lambda: run_rows(a)),
                                 ("prove", lambda: run_proofs(a, args.events))):
                    prof = cProfile.Profile()
                    prof.runcall(fn)
                    print(f"--- {name}", file=sys.stderr)
                    pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(14)
                return 0
            load = [os.getloadavg()[0]]
            log_s, rows_s, p50, p95, log_cpu, rows_cpu = [], [], [], [], [], []
            checked = 0
            for _ in range(args.repeat):
                t, c = time.perf_counter(), time.process_time()
                assert run_log(a) == args.events
                log_s.append(time.perf_counter() - t)
                log_cpu.append(time.process_time() - c)
                t, c = time.perf_counter(), time.process_time()
                checked = run_rows(a)
                rows_s.append(time.perf_counter() - t)
                rows_cpu.append(time.process_time() - c)
                ts = run_proofs(a, args.events)
                p50.append(pct(ts, 0.5) * 1e3)
                p95.append(pct(ts, 0.95) * 1e3)
                print(f"  log {log_s[-1]:.2f} s (cpu {log_cpu[-1]:.2f}), rows {rows_s[-1]:.2f} s (cpu {rows_cpu[-1]:.2f}), proof p50 {p50[-1]:.2f} ms "
                      f"p95 {p95[-1]:.2f} ms", file=sys.stderr)
            load.append(os.getloadavg()[0])
        finally:
            a.close()
    med = statistics.median
    out = {"backend": url.split(":", 1)[0], "events": args.events, "rows_checked": checked,
           "checkpoints": args.events // args.checkpoint_every, "runs": args.repeat, "cpus": os.cpu_count(),
           "load_avg_1min_before_after": [round(x, 2) for x in load],
           "log_check_s": round(med(log_s), 2), "row_check_s": round(med(rows_s), 2),
           "log_plus_rows_s": round(med(log_s) + med(rows_s), 2),
           "log_check_cpu_s": round(med(log_cpu), 2), "row_check_cpu_s": round(med(rows_cpu), 2),
           "proof_p50_ms": round(med(p50), 2), "proof_p95_ms": round(med(p95), 2),
           "log_runs_s": [round(x, 2) for x in log_s], "row_runs_s": [round(x, 2) for x in rows_s]}
    print(json.dumps(out) if args.json else "\n".join(f"{k}: {v}" for k, v in out.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
