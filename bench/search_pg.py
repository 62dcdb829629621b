#!/usr/bin/env python3
"""Console search on PostgreSQL at a million recordings: ``archive.query.search`` timed per query kind.

Makes a fresh PostgreSQL database, migrates it with liuhen's own migrations
(``liuhen.db.make_engine`` + ``app.runtime.upgrade``) and loads a synthetic archive into it:

* a unit tree — one city unit, 20 district units (分局), 5 squads (中队/派出所) under each;
* 5,000 officers with Chinese names drawn from common surnames and given-name characters (so
  names repeat and are substrings of each other: several 张三, a 张三丰, many 王伟…), each in a
  squad or a district; 8,000 recorders (``DSJ-A000`` … ``DSJ-H999``), most assigned to an officer;
  a docking station per unit, plus two not yet placed in any unit;
* ``--rows`` evidence rows (default 1,000,000) recorded over two years with a day/night rhythm,
  ids in recording order as an archive fills up, named as recorders name them
  (``DSJ-A001_000123_20261123093000_0001.MP4``), with device, officer and unit set consistently
  (the officer's unit, else the station's, else none), one sighting each, tags on about a
  quarter and notes on about 8 % (Chinese, with citizens' names and places);
* the ``search_terms`` rows ``archive.terms.reindex`` would write: ``archive.terms.terms()`` of
  the same texts ``archive.terms.searchable_text`` reads (file name, device id, officer id,
  original path, officer name, tags, notes), loaded with ``COPY`` (spot-checked afterwards
  against ``searchable_text`` + ``terms`` on the loaded rows).

The bulk load drops the indexes of the big tables first and rebuilds them afterwards with the
exact definitions the migrations made (checked), loads with ``COPY … FREEZE`` and skips
foreign-key triggers (``session_replication_role = replica``; the rows are consistent by
construction and counted afterwards) — a long-lived archive is vacuumed and frozen, too. Then
``VACUUM ANALYZE``.

It then runs the console's common searches through ``archive.query.search(db, Query(...),
Scope(...))`` — liuhen's own function, with the scope ``api.access.scope_of`` gives a real user —
as a district investigator (their district and its squads) and as a city-level investigator
(every unit, and unattributed evidence):

* ``officer_week`` / ``officer_month``: an officer (number, or name now and then) + a week / a month
* ``device``: one recorder
* ``text_name``: free text, a name — 张三, an officer's full name, surname + first given character
* ``text_tag``: free text, a tag or part of one (现场检查, 扣押, …)
* ``text_device``: free text, part of a device id (``A012``, ``DSJ-A01``, ``B3``)
* ``first_page``: the console's first page, no filter

Each kind runs ``--runs`` times per user kind (default 200) with parameters picked from the data
(a random district user for the district runs), in random order after 150 warm-up searches (warm
cache); first page, 25 per page (the API's default). The time is that of the ``search()`` call:
every statement it runs (term counts, the page, the capped count, the page's records, tags,
previews and officer names). Every result is checked (scope, filters, order, every query term a
substring of the record's searchable text), and every 10th against an independent hand-written
SQL query (the same ids, has_more and capped total); a wrong result stops the run with an
assertion error. Prints p50 / p95 / max per kind (and the median number of hits, capped at 1000),
the load time, and EXPLAIN (ANALYZE, BUFFERS) of the statements of the slowest kind's slowest run.
Goal: p95 ≤ 50 ms.

PROPOSED changes (see ``PROPOSED``, applied to the bench database only):
``ix_evidence_unit_recorded`` on ``(unit_id, recorded_at, id)`` instead of ``(unit_id, recorded_at)``
(migration 0004 has since adopted it, so ``--no-proposed`` puts the old index back to compare), and
``jit = off`` for the database. ``--proposed`` (the default)
measures with them, ``--no-proposed`` without, ``--compare`` both on the same data and queries
(without first); ``--db NAME`` measures again on a database kept with ``--keep``.

Usage: .venv/bin/python bench/search_pg.py [--rows N] [--runs 200] [--compare | --no-proposed]
                                           [--keep | --db NAME] [--json]
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import functools
import hashlib
import json
import multiprocessing
import os
import random
import statistics
import sys
import time
import unicodedata
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402
from sqlalchemy import event, select  # noqa: E402

from app.runtime import upgrade  # noqa: E402
from archive import query as searching  # noqa: E402
from archive import terms as term_index  # noqa: E402
from archive.models import Evidence  # noqa: E402
from hashing.keys import DataKey  # noqa: E402
from liuhen import db as liuhen_db  # noqa: E402

GOAL_MS = 50.0
PER_PAGE = 25
UTC = dt.UTC
LOCAL = dt.timezone(dt.timedelta(hours=8))  # the recorders' clocks (file names)
NEWEST = dt.datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
SPAN = dt.timedelta(days=730)
OLDEST = NEWEST - SPAN
CHUNK = 20_000  # evidence rows per generated chunk
N_OFFICERS, N_RECORDERS, N_SPARE_RECORDERS = 5_000, 8_000, 300

# PROPOSED changes (an index — since adopted by migration 0004 — and a database setting). The benchmark
# applies them to its own database only, after the load; --no-proposed puts the index back as it was
# and leaves jit as the server has it. Each: (what, SQL to apply, SQL to undo — for --db reruns).
# (Migration 0004 also sets a statistics target of 1000 on search_terms.term; measured on its own
# here (A/B, 100 runs per text kind) it made no difference once search() counts terms' records.)
PROPOSED: list[tuple[str, list[str], list[str]]] = [
    # A scope's records by unit in full time order (recorded_at, then id) from the index alone:
    # the ids of a district's 50,000 records for matching with a common term's (the capped count)
    # without reading the table (an index-only scan instead of a bitmap heap scan: ~10 ms, not
    # ~250 ms), and each unit's newest page without a sort. Same name, so it replaces the old one.
    ("ix_evidence_unit_recorded: (unit_id, recorded_at) -> (unit_id, recorded_at, id)",
     ["DROP INDEX ix_evidence_unit_recorded",
      "CREATE INDEX ix_evidence_unit_recorded ON evidence (unit_id, recorded_at, id)", "ANALYZE evidence"],
     ["DROP INDEX ix_evidence_unit_recorded",
      "CREATE INDEX ix_evidence_unit_recorded ON evidence (unit_id, recorded_at)", "ANALYZE evidence"]),
    # Not schema but the database's settings (ALTER DATABASE … SET jit = off, or jit = off in
    # postgresql.conf): JIT compiles a query's expressions when its *estimated* cost passes
    # jit_above_cost (100,000). Checking a long term's records one by one is estimated dear, and JIT
    # then spends 10-30 ms compiling for a query that runs in 10 ms.
    ("database setting: jit = off",
     ["ALTER DATABASE {db} SET jit = off"],
     ["ALTER DATABASE {db} RESET jit"]),
]

# ---------------------------------------------------------------------------- the synthetic world

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉文辉建国红鹏斌波宇浩凯健俊帆帅旭宁龙林欣鑫海峰亮"
         "三四东晨阳云飞志新")
DISTRICTS = ("上城", "下城", "江干", "拱墅", "西湖", "滨江", "萧山", "余杭", "富阳", "临安", "桐庐", "淳安", "建德",
             "钱塘", "临平", "高新", "经开", "港区", "新区", "空港")
SQUADS = ("交警中队", "治安中队", "刑侦中队", "巡特警中队", "城关派出所")
TAGS = ("现场检查", "查封扣押", "交通事故", "纠纷调解", "治安案件", "行政处罚", "当场处罚", "询问笔录", "醉驾",
        "酒驾查处", "违法停车", "消防检查", "食品安全检查", "噪音扰民", "盘查", "证据保全", "投诉", "复议", "待审核",
        "重要")
PLACES = ("文三路", "中山北路", "解放路", "延安路", "人民广场", "火车东站", "滨江大道", "学院路", "湖滨步行街",
          "体育场路", "莫干山路", "秋涛路", "钱江新城", "西溪湿地", "城东菜市场", "凤起路")
NOTES = (
    "当事人{c}对处罚决定无异议，已签字。",
    "{p}路口，{c}驾驶浙A{n}小型汽车，涉嫌酒后驾驶，已送检。",
    "现场检查{p}某餐饮店，发现过期食品三批次。",
    "{c}与{c2}因琐事发生纠纷，经调解双方达成一致。",
    "执法人员出示证件后对{p}商铺进行检查，{c}在场。",
    "扣押物品清单见附件，当事人{c}拒绝签字，已注明。",
    "{c}报警称在{p}被盗电动车一辆，已登记。",
    "违法停车，车牌浙A{n}，已贴单。",
)


def _weights(n: int, s: float = 0.9) -> list[float]:
    return [1.0 / (i + 1) ** s for i in range(n)]


def chinese_name(rng: random.Random) -> str:
    sur = rng.choices(SURNAMES, weights=_SUR_W)[0]
    k = 1 if rng.random() < 0.35 else 2
    return sur + "".join(rng.choices(GIVEN, weights=_GIV_W, k=k))


_SUR_W = _weights(len(SURNAMES))
_GIV_W = _weights(len(GIVEN), 0.5)
_TAG_W = _weights(len(TAGS), 0.8)


@dataclass
class World:
    seed: int
    rows: int
    units: list[tuple[int, str, str, int | None]] = field(default_factory=list)  # id, code, name, parent
    district_of: dict[int, int] = field(default_factory=dict)  # unit id -> its district (city: 0)
    officers: list[tuple[str, str, int]] = field(default_factory=list)  # officer_no, name, unit id
    officer_by_no: dict[str, tuple[str, int]] = field(default_factory=dict)  # no -> (name, unit)
    recorders: list[tuple[str, str | None]] = field(default_factory=list)  # device id, officer_no
    rec_cum: list[float] = field(default_factory=list)  # cumulative weights over recorders
    rec_station: list[str] = field(default_factory=list)  # usual station of each recorder
    stations: list[tuple[str, int | None]] = field(default_factory=list)  # id, unit id
    station_unit: dict[str, int | None] = field(default_factory=dict)
    citizens: list[str] = field(default_factory=list)


def make_world(seed: int, rows: int) -> World:
    rng = random.Random(seed)
    w = World(seed=seed, rows=rows)
    w.units.append((1, "C01", "示范市公安局", None))
    w.district_of[1] = 0
    squads_of: dict[int, list[int]] = {}
    uid = 1
    for d, dname in enumerate(DISTRICTS, 1):
        uid += 1
        did = uid
        w.units.append((did, f"C01-D{d:02d}", f"{dname}分局", 1))
        w.district_of[did] = did
        squads_of[did] = []
        for s, sname in enumerate(SQUADS, 1):
            uid += 1
            w.units.append((uid, f"C01-D{d:02d}-S{s}", f"{dname}{sname}", did))
            w.district_of[uid] = did
            squads_of[did].append(uid)
    districts = sorted(squads_of)
    # officers: 90 % in squads, 10 % directly in a district; a few fixed names that contain each other
    nos = rng.sample(range(10_000, 100_000), N_OFFICERS)
    fixed = ["张三", "张三", "张三", "张三丰", "张三强", "李四", "李四", "王五"]
    for i, n in enumerate(nos):
        d = districts[i % len(districts)]
        unit = d if rng.random() < 0.10 else rng.choice(squads_of[d])
        name = fixed[i] if i < len(fixed) else chinese_name(rng)
        w.officers.append((f"{n:06d}", name, unit))
    w.officer_by_no = {no: (name, unit) for no, name, unit in w.officers}
    # stations: one per unit below the city, plus two not yet placed in a unit
    for u, code, _name, parent in w.units:
        if parent is not None:
            w.stations.append((f"ST-{code}", u))
    w.stations += [("ST-NEW-1", None), ("ST-NEW-2", None)]
    w.station_unit = dict(w.stations)
    station_of_unit = {u: s for s, u in w.stations if u is not None}
    # recorders: every officer has one, 2,700 have a second, 300 spares are assigned to nobody
    devices = [f"DSJ-{chr(65 + i // 1000)}{i % 1000:03d}" for i in range(N_RECORDERS)]
    rng.shuffle(devices)
    owners: list[str | None] = [o[0] for o in w.officers]
    owners += [rng.choice(w.officers)[0] for _ in range(N_RECORDERS - N_OFFICERS - N_SPARE_RECORDERS)]
    owners += [None] * N_SPARE_RECORDERS
    activity = {o[0]: rng.lognormvariate(0, 0.6) for o in w.officers}
    n_rec: dict[str, int] = {}
    for o in owners:
        if o is not None:
            n_rec[o] = n_rec.get(o, 0) + 1
    weights = []
    for dev, o in zip(devices, owners):
        w.recorders.append((dev, o))
        if o is None:
            weights.append(0.015 * N_OFFICERS / N_SPARE_RECORDERS)  # spares: ~1.5 % of recordings
            w.rec_station.append(rng.choice(w.stations[:-2] if rng.random() < 0.8 else w.stations[-2:])[0])
        else:
            weights.append(activity[o] / n_rec[o])
            w.rec_station.append(station_of_unit[w.officer_by_no[o][1]])
    total = 0.0
    for x in weights:
        total += x
        w.rec_cum.append(total)
    w.citizens = [chinese_name(rng) for _ in range(3000)] + ["张三"] * 30 + ["李四"] * 10
    return w


# ---------------------------------------------------------------------------- generating rows (workers)

_W: World | None = None
_HOUR_W = [0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.4, 0.7, 1.0, 1.0, 1.0, 0.9, 0.7, 0.8, 1.0, 1.0, 1.0, 0.9, 0.8, 0.8,
           0.7, 0.6, 0.4, 0.25]


@functools.cache
def _terms(text: str) -> frozenset[str]:
    """``archive.terms.terms`` of a text that recurs (device id, officer number and name, tag)."""
    return frozenset(term_index.terms(text))


def _ts(t: dt.datetime) -> str:
    return t.isoformat(" ")  # 2026-11-23 01:30:00+00:00 (strftime is three times slower)


def _init_worker(w: World) -> None:
    global _W
    _W = w


def gen_chunk(task: tuple[int, int, int, float, float]) -> dict[str, bytes]:
    """COPY text for evidence ``first_id`` .. ``first_id + n - 1``, recorded between t0 and t1."""
    k, first_id, n, t0, t1 = task
    w = _W
    assert w is not None
    rng = random.Random(w.seed * 1_000_003 + k)
    times: list[float] = []
    while len(times) < n:
        t = rng.uniform(t0, t1)
        if rng.random() < _HOUR_W[int(((t / 3600) + 8) % 24)]:
            times.append(t)
    times.sort()
    ev, si, st, tg, no = [], [], [], [], []
    N = "\\N"
    for i, t in enumerate(times):
        eid = first_id + i
        rec_at = dt.datetime.fromtimestamp(t, UTC).replace(microsecond=0)
        r = bisect.bisect_right(w.rec_cum, rng.random() * w.rec_cum[-1])
        r = min(r, len(w.recorders) - 1)
        device, officer = w.recorders[r]
        station = w.rec_station[r]
        if officer is not None:
            oname, unit = w.officer_by_no[officer]
        else:
            oname, unit = None, w.station_unit[station]
        x = rng.random()
        kind, ext = ("video", "MP4") if x < 0.88 else (("photo", "JPG") if x < 0.96 else ("audio", "WAV"))
        local = rec_at.astimezone(LOCAL)
        seq = rng.randint(1, 40)
        stamp = local.strftime("%Y%m%d%H%M%S")
        fname = f"{device}_{officer}_{stamp}_{seq:04d}.{ext}" if officer else f"{device}_{stamp}_{seq:04d}.{ext}"
        path = f"DCIM/{local:%Y%m%d}/{fname}"
        sha = hashlib.sha256(f"{w.seed}:{eid}".encode()).hexdigest()
        if kind == "video":
            dur = rng.uniform(20, 1800)
            size, wd, ht, vc, ac = int(dur * 1_000_000), 1920, 1080, "h264", "aac"
        elif kind == "audio":
            dur = rng.uniform(20, 1800)
            size, wd, ht, vc, ac = int(dur * 32_000), None, None, None, "pcm_s16le"
        else:
            dur, size, wd, ht, vc, ac = None, rng.randint(1_500_000, 6_000_000), 3264, 2448, "mjpeg", None
        created = rec_at + dt.timedelta(seconds=rng.uniform(1800, 30 * 3600))
        playback = "ready"
        if rng.random() < 0.003:
            playback = "unplayable"
        important = rng.random() < 0.015
        ev.append("\t".join((
            str(eid), sha, str(size), f"originals/{sha[:2]}/{sha[2:4]}/{sha}", N, fname, kind, "ok", N, device,
            officer or N, _ts(rec_at), "t" if important else "f", str(unit) if unit is not None else N, _ts(created),
            "file_name", playback, N, f"{dur:.3f}" if dur else N, str(wd) if wd else N, str(ht) if ht else N,
            vc or N, ac or N)))
        mid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        manifest = (f'{{"manifest_id":"{mid}","station_id":"{station}","sha256":"{sha}","size":{size},'
                    f'"original_path":"{path}"}}').encode()
        bay = f"bay{rng.randint(1, 12)}"
        si.append("\t".join((
            str(eid), str(eid), mid, station, bay, device, officer or N, "pattern", path, path.encode().hex(),
            _ts(rec_at), _ts(rec_at + dt.timedelta(seconds=dur or 0)), "\\\\x" + manifest.hex(),
            "\\\\x" + hashlib.sha512(manifest).hexdigest(), "k" + station[-6:], _ts(created),
            _ts(created + dt.timedelta(seconds=2)), "kept")))
        # the texts archive.terms.searchable_text reads, in its order
        terms = set(term_index.terms(fname))
        terms |= _terms(device)
        if officer:
            terms |= _terms(officer)
        terms |= term_index.terms(path)
        if oname:
            terms |= _terms(oname)
        y = rng.random()
        tags: list[str] = []
        if y < 0.27:
            tags = list(dict.fromkeys(rng.choices(TAGS, weights=_TAG_W, k=1 if y < 0.22 else 2)))
        for tag in tags:
            terms |= _terms(tag)
            tg.append(f"{eid}\t{tag}\tuser:inv-{rng.randint(1, 20):02d}\t{_ts(created + dt.timedelta(hours=3))}")
        if rng.random() < 0.08:
            note = rng.choice(NOTES).format(c=rng.choice(w.citizens), c2=rng.choice(w.citizens),
                                            p=rng.choice(PLACES), n=f"{rng.randint(10000, 99999)}")
            terms |= term_index.terms(note)
            no.append(f"{eid}\t{eid}\t{note}\tuser:inv-{rng.randint(1, 20):02d}\t"
                      f"{_ts(created + dt.timedelta(hours=4))}")
        tail = f"\t{eid}\n"
        st.append(tail.join(terms) + tail)
    return {"evidence": ("\n".join(ev) + "\n").encode(), "sightings": ("\n".join(si) + "\n").encode(),
            "search_terms": "".join(st).encode(), "evidence_tags": ("\n".join(tg) + "\n").encode() if tg else b"",
            "evidence_notes": ("\n".join(no) + "\n").encode() if no else b"", "n": n}


COPY_COLS = {
    "evidence": "id, sha256, size, store_key, store_version, file_name, media_kind, media_state, media_note, "
                "device_id, officer_id, recorded_at, important, unit_id, created_at, recorded_at_source, playback, "
                "playback_note, duration_s, width, height, video_codec, audio_codec",
    "sightings": "id, evidence_id, manifest_id, station_id, bay, device_id, officer_id, layout, original_path, "
                 "original_path_hex, recorded_at, file_mtime, manifest, signature, station_key_id, received_at, "
                 "released_at, release_action",
    "search_terms": "term, evidence_id",
    "evidence_tags": "evidence_id, tag, created_by, created_at",
    "evidence_notes": "id, evidence_id, text, author, created_at",
}
BIG_TABLES = tuple(COPY_COLS)


# ---------------------------------------------------------------------------- loading


def log(msg: str = "") -> None:
    print(msg, file=sys.stderr if ARGS_JSON else sys.stdout, flush=True)


ARGS_JSON = False


def index_defs(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Indexes of the big tables: name, definition, and the constraint each backs (if any)."""
    rows = conn.execute("""
        SELECT ic.relname, t.relname, pg_get_indexdef(i.indexrelid), con.conname, pg_get_constraintdef(con.oid),
               EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = i.indexrelid)
        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
        LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u')
        WHERE t.relname = ANY(%s) ORDER BY 1""", (list(BIG_TABLES),)).fetchall()
    return [{"name": r[0], "table": r[1], "indexdef": r[2], "constraint": r[3], "condef": r[4], "referenced": r[5]}
            for r in rows]


def load(args: argparse.Namespace, url: str, w: World) -> dict[str, float]:
    times: dict[str, float] = {}
    t_all = time.perf_counter()
    t = time.perf_counter()
    engine = liuhen_db.make_engine(url)
    upgrade(engine, data_key=DataKey(os.urandom(32)))  # (no parties here to seal)
    engine.dispose()
    times["migrate_s"] = time.perf_counter() - t
    dsn = url
    with psycopg.connect(dsn) as conn:
        before = index_defs(conn)
        conn.execute("SET session_replication_role = replica")  # no FK triggers: rows consistent by construction
        conn.execute("SET synchronous_commit = off")
        now = dt.datetime.now(UTC)
        with conn.cursor() as cur:
            with cur.copy("COPY units (id, code, name, parent_id, created_at) FROM STDIN") as cp:
                for u in w.units:
                    cp.write_row((*u, now))
            with cur.copy("COPY stations (id, public_key_pem, key_id, unit_id, created_at) FROM STDIN") as cp:
                for sid, unit in w.stations:
                    cp.write_row((sid, "-----BEGIN PUBLIC KEY-----\nbench\n-----END PUBLIC KEY-----\n",
                                  "k" + sid[-6:], unit, now))
            with cur.copy("COPY officers (id, officer_no, name, unit_id, active, created_at) FROM STDIN") as cp:
                for i, (no, name, unit) in enumerate(w.officers, 1):
                    cp.write_row((i, no, name, unit, True, now))
            with cur.copy("COPY recorders (device_id, officer_no, assigned_at, assigned_by, created_at) "
                          "FROM STDIN") as cp:
                for dev, o in w.recorders:
                    cp.write_row((dev, o, OLDEST if o else None, "user:admin" if o else None, now))
            # users as the console has them: one investigator per district, one at the city
            with cur.copy("COPY users (id, username, display_name, password_hash, role, unit_id, failed_logins, "
                          "created_at) FROM STDIN") as cp:
                cp.write_row((1, "inv-city", "市局调查员", "$argon2id$bench", "investigator", 1, 0, now))
                for u, code, name, parent in w.units:
                    if parent == 1:
                        cp.write_row((u, f"inv-{code}", f"{name}调查员", "$argon2id$bench", "investigator", u, 0,
                                      now))
            for tbl in ("units", "officers", "users"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{tbl}', 'id'), (SELECT max(id) FROM {tbl}))")
            # drop the big tables' indexes (all but primary keys other tables' foreign keys point at)
            dropped = [ix for ix in before if not ix["referenced"]]
            for ix in dropped:
                if ix["constraint"]:
                    cur.execute(f'ALTER TABLE {ix["table"]} DROP CONSTRAINT "{ix["constraint"]}"')
                else:
                    cur.execute(f'DROP INDEX "{ix["name"]}"')
            # (all empty) truncated in this transaction, so that COPY … FREEZE may freeze the rows
            cur.execute("TRUNCATE " + ", ".join(BIG_TABLES) + " CASCADE")
        t = time.perf_counter()
        n_chunks = (w.rows + CHUNK - 1) // CHUNK
        t0, t1 = OLDEST.timestamp(), NEWEST.timestamp()
        step = (t1 - t0) / n_chunks
        tasks = [(k, k * CHUNK + 1, min(CHUNK, w.rows - k * CHUNK), t0 + k * step, t0 + (k + 1) * step)
                 for k in range(n_chunks)]
        counts = dict.fromkeys(BIG_TABLES, 0)
        ctx = multiprocessing.get_context("fork")
        done = 0
        with ctx.Pool(args.workers, initializer=_init_worker, initargs=(w,)) as pool, conn.cursor() as cur:
            for res in pool.imap(gen_chunk, tasks):
                for tbl in BIG_TABLES:
                    data = res[tbl]
                    if not data:
                        continue
                    counts[tbl] += data.count(b"\n")
                    with cur.copy(f"COPY {tbl} ({COPY_COLS[tbl]}) FROM STDIN WITH (FREEZE)") as cp:
                        cp.write(data)
                done += res["n"]
                if done % 100_000 < CHUNK:
                    log(f"  loaded {done:,} evidence rows ({time.perf_counter() - t:.0f} s)")
        conn.commit()
        times["copy_s"] = time.perf_counter() - t
        t = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET max_parallel_maintenance_workers = 2")
        for ix in dropped:
            t_ix = time.perf_counter()
            if ix["constraint"]:
                conn.execute(f'ALTER TABLE {ix["table"]} ADD CONSTRAINT "{ix["constraint"]}" {ix["condef"]}')
            else:
                conn.execute(ix["indexdef"])
            conn.commit()
            if time.perf_counter() - t_ix > 5:
                log(f"  index {ix['name']}: {time.perf_counter() - t_ix:.0f} s")
        after = index_defs(conn)
        assert [(i["name"], i["indexdef"]) for i in after] == [(i["name"], i["indexdef"]) for i in before], \
            "the rebuilt indexes differ from the migrations'"
        for tbl in ("evidence", "sightings", "evidence_notes"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{tbl}', 'id'), (SELECT max(id) FROM {tbl}))")
        conn.commit()
        times["index_s"] = time.perf_counter() - t
        t = time.perf_counter()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        times["vacuum_analyze_s"] = time.perf_counter() - t
        for tbl in BIG_TABLES:
            n = conn.execute(f"SELECT count(*) FROM {tbl}").fetchone()[0]
            assert n == counts[tbl], f"{tbl}: {n} rows, {counts[tbl]} written"
        times["counts"] = {tbl: counts[tbl] for tbl in BIG_TABLES}  # type: ignore[assignment]
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        times["db_mb"] = size / 1e6
    times["load_s"] = time.perf_counter() - t_all
    return times


def set_proposed(url: str, on: bool, only: set[int] | None = None) -> float:
    """Apply (or undo) the PROPOSED changes (``only`` these, numbered from 1) in the bench database;
    seconds taken. New connections see the database setting."""
    t = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        db = conn.execute("SELECT current_database()").fetchone()[0]
        idx = conn.execute("SELECT pg_get_indexdef('ix_evidence_unit_recorded'::regclass)").fetchone()[0]
        settings = conn.execute("SELECT coalesce(array_to_string(setconfig, ','), '') FROM pg_db_role_setting "
                                "WHERE setrole = 0 AND setdatabase = (SELECT oid FROM pg_database "
                                "WHERE datname = current_database())").fetchone()
        applied = [idx.endswith("(unit_id, recorded_at, id)"), "jit=off" in (settings[0] if settings else "")]
        for i, ((_what, apply, undo), now) in enumerate(zip(PROPOSED, applied), 1):
            want = on and (only is None or i in only)
            if now != want:
                for sql in (apply if want else undo):
                    conn.execute(sql.format(db=f'"{db}"'))
    return time.perf_counter() - t


# ---------------------------------------------------------------------------- checking the loaded index


def check_terms(session_factory: Any, rng: random.Random, rows: int, n: int = 40) -> None:
    """``search_terms`` of sampled evidence == ``terms()`` of ``searchable_text()`` (what reindex would write)."""
    with session_factory() as db:
        for eid in rng.sample(range(1, rows + 1), n):
            ev = db.get(Evidence, eid)
            want: set[str] = set()
            for text in term_index.searchable_text(db, ev):
                want |= term_index.terms(text)
            have = set(db.scalars(select(searching.SearchTerm.term).where(searching.SearchTerm.evidence_id == eid)))
            assert have == want, f"evidence {eid}: search_terms differ from reindex ({sorted(have ^ want)[:10]})"


# ---------------------------------------------------------------------------- the searches


@dataclass
class Run:
    kind: str
    who: str  # district | city
    query: searching.Query
    scope: searching.Scope
    ms: float = 0.0
    n: int = 0
    total: int = 0


KINDS = ("officer_week", "officer_month", "device", "text_name", "text_tag", "text_device", "first_page")


def make_runs(db: Any, w: World, rng: random.Random, runs: int, scopes: dict[str, Any],
              kinds: tuple[str, ...] = KINDS) -> list[Run]:
    """``runs`` queries of every kind for a district user and for the city user, parameters from the data."""
    # a sample of the data to pick parameters from
    ids = rng.sample(range(1, w.rows + 1), min(w.rows, 30_000))
    sample = db.execute(select(Evidence.id, Evidence.unit_id, Evidence.officer_id, Evidence.device_id,
                               Evidence.recorded_at).where(Evidence.id.in_(ids))).all()
    by_district: dict[int, list[Any]] = {}
    for row in sample:
        if row.unit_id is not None:
            by_district.setdefault(w.district_of[row.unit_id], []).append(row)
    out: list[Run] = []
    for who in ("district", "city"):
        for kind in kinds:
            for _ in range(runs):
                if who == "district":
                    d = rng.choice(sorted(by_district))
                    scope, pool = scopes[d], by_district[d]
                else:
                    scope, pool = scopes[1], sample
                row = rng.choice([r for r in rng.sample(pool, 20) if r.officer_id] or pool)
                q: dict[str, Any] = {}
                if kind in ("officer_week", "officer_month"):
                    name = w.officer_by_no[row.officer_id][0]
                    q["officer"] = name if rng.random() < 0.2 else row.officer_id
                    span = dt.timedelta(days=7 if kind == "officer_week" else 30)
                    start = row.recorded_at - span * rng.random()
                    q["start"], q["end"] = start.astimezone(LOCAL), (start + span).astimezone(LOCAL)
                elif kind == "device":
                    q["device"] = row.device_id
                elif kind == "text_name":
                    name = w.officer_by_no[row.officer_id][0]
                    q["q"] = rng.choice(["张三", name, name[:2], rng.choice(w.citizens)])
                elif kind == "text_tag":
                    tag = rng.choices(TAGS, weights=_TAG_W)[0]
                    q["q"] = rng.choice([tag, tag[-2:], "扣押", "检查", "现场检查"])
                elif kind == "text_device":
                    dev = row.device_id  # DSJ-A012
                    q["q"] = rng.choice([dev[4:], dev, dev[:-1], dev[4:6], dev.lower()])
                out.append(Run(kind, who, searching.Query(per_page=PER_PAGE, **q), scope))
    return out


def _norm(s: str) -> str:
    return unicodedata.normalize("NFKC", s).lower()


def check_page(db: Any, run: Run, page: searching.Page, deep: bool) -> None:
    """The page really answers the query: scope, filters, order; deep: terms in the text, and the same
    ids / has_more / total as an independent SQL query."""
    q, scope = run.query, run.scope
    items = page.items
    keys = [(e.recorded_at, e.id) for e in items]
    assert keys == sorted(keys, reverse=True), "not ordered by recorded_at desc, id desc"
    nos = None
    if q.officer:
        nos = set(db.execute(_officer_nos_sql(), {"who": q.officer}).scalars()) | {q.officer}
    for e in items:
        assert scope.allows(e), f"evidence {e.id} (unit {e.unit_id}) outside the scope"
        if nos is not None:
            assert e.officer_id in nos, f"evidence {e.id}: officer {e.officer_id} not {q.officer}"
        if q.device:
            assert e.device_id == q.device
        if q.start:
            assert e.recorded_at >= q.start
        if q.end:
            assert e.recorded_at <= q.end
    if not deep:
        return
    if q.q:
        for e in items:
            texts = [_norm(t) for t in term_index.searchable_text(db, e)]
            for term in term_index.query_terms(q.q):
                assert any(term in t for t in texts), f"evidence {e.id} has no {term!r} in its text"
    ref = reference(db, run)
    assert [e.id for e in items] == ref[:PER_PAGE], f"{run.kind}: ids differ from the reference query"
    assert page.has_more == (len(ref) > PER_PAGE)
    assert page.total == min(len(ref), searching.COUNT_CAP) and page.total_capped == (len(ref) > searching.COUNT_CAP)


def _officer_nos_sql() -> Any:
    from sqlalchemy import text
    return text("SELECT officer_no FROM officers WHERE name = :who OR officer_no = :who")


def reference(db: Any, run: Run) -> list[int]:
    """The same search, written by hand in SQL (term posting lists intersected), up to 1001 ids."""
    from sqlalchemy import text
    q, scope = run.query, run.scope
    where = ["(e.unit_id = ANY(:units) OR (:unattributed AND e.unit_id IS NULL))"]
    p: dict[str, Any] = {"units": sorted(scope.units), "unattributed": scope.unattributed}
    if q.q:
        parts = []
        for i, term in enumerate(term_index.query_terms(q.q)):
            parts.append(f"SELECT evidence_id FROM search_terms WHERE term = :t{i}")
            p[f"t{i}"] = term
        where.append("e.id IN (" + " INTERSECT ".join(parts) + ")")
    if q.officer:
        where.append("(e.officer_id = :who OR e.officer_id IN (SELECT officer_no FROM officers WHERE name = :who))")
        p["who"] = q.officer
    if q.device:
        where.append("e.device_id = :dev")
        p["dev"] = q.device
    if q.start:
        where.append("e.recorded_at >= :start")
        p["start"] = q.start
    if q.end:
        where.append("e.recorded_at <= :end")
        p["end"] = q.end
    sql = (f"SELECT e.id FROM evidence e WHERE {' AND '.join(where)} ORDER BY e.recorded_at DESC, e.id DESC "
           f"LIMIT {searching.COUNT_CAP + 1}")
    return list(db.execute(text(sql), p).scalars())


def measure(engine: Any, session_factory: Any, runs: list[Run], rng: random.Random) -> None:
    warm = rng.sample(runs, min(len(runs), 150))
    for r in warm:
        with session_factory() as db:
            searching.search(db, r.query, r.scope)
    order = list(range(len(runs)))
    rng.shuffle(order)
    seen: dict[tuple[str, str], int] = {}
    for i in order:
        r = runs[i]
        with session_factory() as db:
            t = time.perf_counter()
            page = searching.search(db, r.query, r.scope)
            r.ms = (time.perf_counter() - t) * 1000
            r.n, r.total = len(page.items), page.total
            k = (r.kind, r.who)
            seen[k] = seen.get(k, 0) + 1
            check_page(db, r, page, deep=seen[k] % 10 == 1)


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


def summarise(runs: list[Run]) -> list[dict[str, Any]]:
    out = []
    for kind in dict.fromkeys(r.kind for r in runs):
        for who in ("district", "city", "all"):
            ms = [r.ms for r in runs if r.kind == kind and (who == "all" or r.who == who)]
            hits = [r.total for r in runs if r.kind == kind and (who == "all" or r.who == who)]
            out.append({"kind": kind, "who": who, "runs": len(ms), "p50_ms": round(statistics.median(ms), 2),
                        "p95_ms": round(pct(ms, 95), 2), "max_ms": round(max(ms), 2),
                        "median_hits": statistics.median(hits), "empty": sum(1 for h in hits if h == 0)})
    return out


def explain(engine: Any, session_factory: Any, run: Run) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the statements ``search`` ran for ``run``."""
    captured: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        with session_factory() as db:
            searching.search(db, run.query, run.scope)
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    out = [f"query: {run.query.describe()}  scope: {len(run.scope.units)} units"
           f"{' + unattributed' if run.scope.unattributed else ''}"]
    with engine.connect() as conn:
        for stmt, params in captured:
            if not stmt.lstrip().upper().startswith("SELECT"):
                continue
            plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + stmt, params).scalars().all()
            out.append("-- " + " ".join(stmt.split())[:300] + (" …" if len(" ".join(stmt.split())) > 300 else ""))
            out += ["   " + ln for ln in plan]
    return "\n".join(out)


def one_pass(engine: Any, sf: Any, runs: list[Run], rng: random.Random, proposed: list[str]) -> dict[str, Any]:
    """Time every run (fresh timings), print the table and the EXPLAIN of the slowest kind."""
    t = time.perf_counter()
    load_before = os.getloadavg()[0]
    measure(engine, sf, runs, rng)
    load_after = os.getloadavg()[0]
    log(f"{len(runs)} searches (+150 warm-up), every result checked, every 10th against a reference query: "
        f"{time.perf_counter() - t:.0f} s; load average (1 min) before / after: {load_before:.2f} / "
        f"{load_after:.2f} on {os.cpu_count()} CPUs (other work on the machine skews the figures)")
    table = summarise(runs)
    log("")
    log(f"{'kind':<14} {'user':<9} {'runs':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'hits(med)':>9}"
        f" {'empty':>5}  goal p95 ≤ {GOAL_MS:.0f} ms")
    for row in table:
        mark = "✔" if row["p95_ms"] <= GOAL_MS else "✘"
        log(f"{row['kind']:<14} {row['who']:<9} {row['runs']:>5} {row['p50_ms']:>8.1f} {row['p95_ms']:>8.1f} "
            f"{row['max_ms']:>8.1f} {row['median_hits']:>9} {row['empty']:>5}  {mark}")
    worst_kind = max((r for r in table if r["who"] == "all"), key=lambda r: r["p95_ms"])["kind"]
    slow = max((r for r in runs if r.kind == worst_kind), key=lambda r: r.ms)
    log("")
    log(f"EXPLAIN (ANALYZE, BUFFERS) of the statements of the slowest kind ({worst_kind}), for its slowest "
        f"run ({slow.ms:.1f} ms, {slow.who} user), run again:")
    log(explain(engine, sf, slow))
    return {"proposed": proposed, "results": table,
            "slowest_kind": worst_kind, "loadavg_before_after": [load_before, load_after]}


# ---------------------------------------------------------------------------- main


def main() -> int:
    global ARGS_JSON
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="evidence rows (default 1,000,000)")
    ap.add_argument("--runs", type=int, default=200, help="runs of each query kind per user kind (default 200)")
    ap.add_argument("--pg", default=os.environ.get("LIUHEN_BENCH_PG", "postgresql://postgres@127.0.0.1:5432"),
                    help="PostgreSQL server (trust auth; a database is created and dropped)")
    ap.add_argument("--workers", type=int, default=max(1, min(4, os.cpu_count() or 1)),
                    help="processes generating rows (default: the CPU count, at most 4)")
    ap.add_argument("--seed", type=int, default=20261124)
    ap.add_argument("--kinds", default=",".join(KINDS), help="query kinds to run (default: all)")
    ap.add_argument("--proposed", action=argparse.BooleanOptionalAction, default=True,
                    help="apply the PROPOSED changes to the bench database (default on)")
    ap.add_argument("--proposed-only", metavar="N,M", help="apply only these of the PROPOSED changes (1, 2)")
    ap.add_argument("--compare", action="store_true",
                    help="measure twice on the same data and queries: without, then with the PROPOSED changes")
    ap.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    ap.add_argument("--db", help="measure again on a database kept by an earlier run with the same --rows and "
                                 "--seed (no load; implies --keep)")
    ap.add_argument("--json", action="store_true", help="one JSON summary on stdout (the table goes to stderr)")
    args = ap.parse_args()
    ARGS_JSON = args.json
    rng = random.Random(args.seed)
    name = args.db or f"liuhen_bench_search_{os.getpid()}"
    args.keep = args.keep or bool(args.db)
    base = args.pg.rstrip("/")
    url = f"{base}/{name}"
    if not args.db:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    try:
        w = make_world(args.seed, args.rows)
        lt: dict[str, Any] = {}
        if not args.db:
            log(f"database {name}: loading {args.rows:,} evidence rows with {args.workers} generator processes")
            lt = load(args, url, w)
            log(f"load: {lt['load_s']:.0f} s (migrate {lt['migrate_s']:.1f} s, copy {lt['copy_s']:.0f} s, "
                f"indexes {lt['index_s']:.0f} s, vacuum+analyze {lt['vacuum_analyze_s']:.0f} s); "
                f"{lt['db_mb']:,.0f} MB; rows " + ", ".join(f"{k} {v:,}" for k, v in lt["counts"].items()))
        passes = [False, True] if args.compare else [args.proposed]
        only = {int(x) for x in args.proposed_only.split(",")} if args.proposed_only else None
        from api.access import scope_of
        from auth.models import User
        runs: list[Run] = []
        results: list[dict[str, Any]] = []
        for proposed in passes:
            proposed_s = set_proposed(url, proposed, only)
            log("")
            if proposed:
                log(f"PROPOSED changes applied ({proposed_s:.0f} s): "
                    + "; ".join(what for i, (what, _, _) in enumerate(PROPOSED, 1) if only is None or i in only))
            else:
                log("PROPOSED changes left out: ix_evidence_unit_recorded on (unit_id, recorded_at) as before "
                    "migration 0004 adopted the proposal; jit as the server has it")
            engine = liuhen_db.make_engine(url)
            sf = liuhen_db.make_sessionmaker(engine)
            if not runs:
                check_terms(sf, rng, args.rows)
                log("search_terms spot check: 40 sampled rows hold exactly what archive.terms.reindex would write")
                with sf() as db:
                    scopes = {u.unit_id: scope_of(db, u) for u in db.scalars(select(User))}
                    runs = make_runs(db, w, rng, args.runs, scopes, tuple(args.kinds.split(",")))
                log(f"city scope: {len(scopes[1].units)} units + unattributed; district scope: "
                    f"{len(next(s for k, s in scopes.items() if k != 1).units)} units")
            applied = [what for i, (what, _, _) in enumerate(PROPOSED, 1)
                       if proposed and (only is None or i in only)]
            results.append(one_pass(engine, sf, runs, random.Random(args.seed + 1), applied))
            engine.dispose()
        ok = all(r["p95_ms"] <= GOAL_MS for r in results[-1]["results"])
        if args.compare:
            log("")
            log("p95 ms without -> with the PROPOSED changes:")
            for a, b in zip(results[0]["results"], results[1]["results"]):
                if a["who"] == "all":
                    log(f"  {a['kind']:<14} {a['p95_ms']:>8.1f} -> {b['p95_ms']:>8.1f}")
        log("")
        log(f"goal p95 ≤ {GOAL_MS:.0f} ms: {'met' if ok else 'NOT met'} for every kind"
            + (" (with the PROPOSED changes)" if passes[-1] else ""))
        if args.json:
            print(json.dumps({"date": dt.date.today().isoformat(), "rows": args.rows, "runs": args.runs,
                              "load": lt, "passes": results, "goal_p95_ms": GOAL_MS, "goal_met": ok,
                              "cpus": os.cpu_count()}, ensure_ascii=False))
        return 0
    finally:
        if args.keep:
            log(f"kept database {name} ({url})")
        else:
            with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
