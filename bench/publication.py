#!/usr/bin/env python3
"""Publication (行政执法公示): personal-data detection over decision text, and the public site's notice
search at a million notices on PostgreSQL.

Part 1, ``pii`` — ``redaction.pii.find`` (what ``publication.service.clean`` runs over every field of a
decision) over ``--mb`` MB of generated 行政处罚决定书 text (``bench/pii.py``'s generator, with its
decoys on: invalid ID numbers beside the 20-digit order numbers and unified social credit codes that
are always there) with items planted at known places (IDs with the GB 11643 check digit, mobiles,
landlines, Luhn-valid cards, plates, addresses, e-mail), against ``re.finditer(r"\\d+")`` over the same
text, ``--repeat`` rounds in a rotated order: median MB/s of each and their ratio (wall clock and CPU
time). Every planted item must be found at its place and nothing else (no decoy): else "FAILED".
Goal ≥ 20 MB/s.

Part 2, ``search`` — a fresh PostgreSQL database (127.0.0.1:5432, trust auth, as ``tests/conftest.py``
makes one) migrated by ``app.runtime.open_archive``; ``--notices`` (1,000,000) published or withdrawn
notices loaded with ``COPY`` (indexes dropped first and rebuilt after with the migrations' own
definitions, then ``VACUUM ANALYZE``): parties such as 杭州市西湖区星光餐饮管理有限公司 (organisations;
15 % natural persons as the name rule shows them, 王某), document numbers such as 杭西市监罚〔2025〕123号,
a few lines of facts, published over three years, 5 % withdrawn. Then it times
``publication.service.public_notices`` — the function the live router calls — in a session as the
router opens one (``archive.reads()``), per query kind, ``--runs`` times each, in a random order:

* ``first_page``: the list, page 1; ``deep_page``: a random page between 100 and the last the live
  list reaches (``publication.service.REACH``: the newest 10,000 notices, 500 pages of 20);
* ``org_full``: a whole party name (one to a few notices); ``org_part``: brand + trade (星光餐饮, tens);
* ``common``: a common word (有限公司, 餐饮, 市监罚, …: up to most of the notices; count capped);
* ``year``: a year of the document numbers (〔2024〕, 〔2025〕: a third of the notices each, all
  published in the same stretch of the list's order);
* ``doc_number``: a whole document number; ``doc_part``: its year and number (〔2025〕123号);
* ``miss``: a name no notice has;

and the same kinds through the HTTP route ``GET /public/notices`` (``fastapi.testclient``, the rate
limit raised for the run). Each result is checked against the code before this bench (``LIKE`` over
all notices with an exact ``count(*)``, kept here as ``before``): same notices in the same order, and the
count the same or, where capped, at most the true one — and ``before`` is timed on a few runs of each
kind for the ratio. p50 / p95 / max per kind; goal p95 ≤ 50 ms.

    .venv/bin/python bench/publication.py                       # both parts: 50 MB; 1,000,000 notices
    .venv/bin/python bench/publication.py --part pii --mb 5 --repeat 1
    .venv/bin/python bench/publication.py --part search --notices 100000 --runs 50
    .venv/bin/python bench/publication.py --part search --keep   # keep the database; its name is printed
    .venv/bin/python bench/publication.py --part search --db NAME # measure again on a kept one (no load)

``--json PATH`` writes every figure. It is a benchmark, not a test: it exits 0 when every check held,
whether or not a goal was met, and 1 when a check failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import math
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import func, or_, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app.runtime import open_archive  # noqa: E402
from bench import pii as pii_bench  # noqa: E402
from liuhen import config  # noqa: E402
from publication import service, site  # noqa: E402
from publication.models import Notice  # noqa: E402
from redaction import pii  # noqa: E402

PG_ADMIN = os.environ.get("LIUHEN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
GOAL_MBPS = 20.0
GOAL_P95_MS = 50.0
SIZE = 20  # [publication] page_size's default
KINDS = ("first_page", "deep_page", "org_full", "org_part", "common", "year", "doc_number", "doc_part", "miss")


def log(msg: str = "") -> None:
    print(msg, file=sys.stderr, flush=True)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ---------------------------------------------------------------------------- part 1: personal data


def bench_pii(mb: float, repeat: int, every: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    text_, planted = pii_bench.generate(mb, every=every, decoys=True)
    size = len(text_.encode()) / 1e6
    log(f"pii: {size:.1f} MB generated in {time.perf_counter() - t0:.0f} s, {len(planted):,} items planted; "
        f"load {loadavg()}")
    digits = re.compile(r"\d+")
    wall: dict[str, list[float]] = {"digits": [], "find": []}
    cpu: dict[str, list[float]] = {"digits": [], "find": []}
    found: list[pii.Finding] = []
    for r in range(repeat):
        for name in (("digits", "find") if r % 2 == 0 else ("find", "digits")):
            t, c = time.perf_counter(), time.process_time()
            if name == "digits":
                sum(1 for _ in digits.finditer(text_))
            else:
                found = pii.find(text_, today=pii_bench.TODAY)
            wall[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
            log(f"  round {r + 1} {name:6} {size / wall[name][-1]:7.1f} MB/s")
    got = {(f.start, f.kind, f.text) for f in found}
    want = set(planted)
    decoys = text_.count("校验位不符")
    med = {k: statistics.median(v) for k, v in wall.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    out: dict[str, Any] = {
        "mb": round(size, 2), "planted": len(planted), "invalid_id_decoys": decoys,
        "order_number_decoys": len(re.findall(r"订单号\d{20}", text_)),
        "credit_code_decoys": text_.count("统一社会信用代码"),
        "digits_mbps": round(size / med["digits"], 1), "find_mbps": round(size / med["find"], 1),
        "ratio": round(med["find"] / med["digits"], 2), "cpu_digits_mbps": round(size / med_cpu["digits"], 1),
        "cpu_find_mbps": round(size / med_cpu["find"], 1), "cpu_ratio": round(med_cpu["find"] / med_cpu["digits"], 2),
        "missed": sorted(want - got)[:5], "extra": sorted(got - want)[:5],
        "n_missed": len(want - got), "n_extra": len(got - want), "goal_mbps": GOAL_MBPS, "load": loadavg()}
    out["checks_ok"] = want == got
    out["goal_met"] = out["find_mbps"] >= GOAL_MBPS
    return out


# ---------------------------------------------------------------------------- part 2: the data

CITIES = (("杭州市", "杭", ("西湖区", "上城区", "拱墅区", "滨江区", "萧山区")),
          ("广州市", "穗", ("天河区", "越秀区", "海珠区", "白云区", "番禺区")),
          ("成都市", "蓉", ("武侯区", "锦江区", "青羊区", "金牛区", "成华区")),
          ("南京市", "宁", ("玄武区", "秦淮区", "鼓楼区", "建邺区", "江宁区")),
          ("武汉市", "汉", ("江汉区", "武昌区", "洪山区", "汉阳区", "江岸区")),
          ("西安市", "西", ("雁塔区", "碑林区", "莲湖区", "未央区", "新城区")))
BRAND = "星光华联鑫源恒泰宏达金海瑞丰嘉禾永盛隆兴宇通博远天成明德佳美康乐福润新锐东方中和汇丰长青"
TRADES = ("餐饮管理", "食品销售", "商贸", "科技", "建材", "物流", "医药连锁", "服装", "汽车维修", "文化传媒",
          "超市", "酒店管理", "电子", "农业开发", "装饰工程")
FORMS = ("有限公司", "有限责任公司", "股份有限公司", "个体工商户", "经营部", "分公司")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
BUREAUS = ("市监罚", "环罚", "交罚", "城管罚", "卫健罚", "应急罚")
FACTS = ("经查，当事人在其经营场所销售不符合食品安全标准的食品，货值金额{n}元。",
         "当事人未取得许可擅自从事经营活动，违法所得{n}元。",
         "当事人未按规定公示相关信息，经责令改正逾期未改正。")


def _party(rng: random.Random) -> tuple[str, str, str]:
    """(party, brand + trade, the agency's abbreviation + bureau)"""
    city, short, districts = rng.choice(CITIES)
    d = rng.randrange(len(districts))
    bureau = rng.choice(BUREAUS)
    agency = f"{short}{districts[d][0]}{bureau}"
    if rng.random() < 0.15:
        return rng.choice(SURNAMES) + "某", "", agency
    brand = rng.choice(BRAND) + rng.choice(BRAND)
    trade = rng.choice(TRADES)
    return f"{city}{districts[d]}{brand}{trade}{rng.choice(FORMS)}", brand + trade, agency


def _copy_rows(n: int, seed: int, start: dt.datetime, span_s: int, cases: int) -> Iterator[str]:
    rng = random.Random(seed)
    esc = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n"})
    for i in range(1, n + 1):
        party, _, agency = _party(rng)
        published = start + dt.timedelta(seconds=span_s * i // n + rng.randrange(3600))
        decided = (published - dt.timedelta(days=rng.randrange(1, 10))).date()
        year = decided.year
        doc = f"{agency}〔{year}〕{rng.randrange(1, 5000)}号"
        withdrawn = rng.random() < 0.05
        facts = rng.choice(FACTS).format(n=rng.randrange(100, 100000))
        row = (i, f"GS{year}-b{i:010d}", 1 + i % cases, 1, 1 + i % cases, 1, "行政处罚", "罚款", doc, party, facts,
               "《中华人民共和国食品安全法》第一百二十四条", f"罚款人民币{rng.randrange(1, 100)}千元",
               f"{agency[:1]}市市场监督管理局", decided.isoformat(), 7, (decided + dt.timedelta(days=9)).isoformat(),
               "{}", "withdrawn" if withdrawn else "published", published.isoformat(), "bench",
               published.isoformat(), "bench", published.date().isoformat(), f"{i:064x}",
               (published + dt.timedelta(days=30)).isoformat() if withdrawn else None,
               "bench" if withdrawn else None, "决定已被依法撤销" if withdrawn else None)
        yield "\t".join("\\N" if v is None else str(v).translate(esc) for v in row) + "\n"


COLUMNS = ("id, public_no, case_id, unit_id, record_id, record_version, category, decision_kind, doc_number, party, "
           "facts, legal_basis, decision, agency, decided_on, days, due_on, masks, state, created_at, created_by, "
           "published_at, published_by, published_on, html_sha256, withdrawn_at, withdrawn_by, withdraw_reason")


def create_database() -> tuple[str, str]:
    name = f"liuhen_bench_pub_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}", name


def drop_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def write_config(folder: Path, url: str) -> Path:
    p = folder / "config.toml"
    p.write_text(f"""
[archive]
database_url = "{url}"
store = "local"
store_path = "var/originals"
upload_path = "var/uploads"
key_path = "var/keys/archive.ed25519"

[publication]
rate_per_minute = 100000000
""", encoding="utf-8")
    return p


def load(url: str, n: int) -> dict[str, Any]:
    """The notices, a unit, and the cases and decision records they name (one per 1,000 notices), so
    that every foreign key holds."""
    t0 = time.perf_counter()
    cases = max(1, n // 1000)
    now = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)
    start = now - dt.timedelta(days=3 * 365)
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        conn.execute("INSERT INTO units (id, code, name, created_at) VALUES (1, 'BENCH', '基准单位', %(now)s)",
                     {"now": now})
        conn.execute(f"""INSERT INTO cases (id, number, year, seq, category, title, unit_id, status, created_at,
                created_by) SELECT k, 'BENCH-' || k, 2026, k, '行政处罚', '基准案件 ' || k, 1, 'closed', %(now)s,
                'cli:bench' FROM generate_series(1::bigint, {cases}) k""", {"now": now})
        conn.execute(f"""INSERT INTO text_records (id, case_id, kind, title, created_at, created_by)
            SELECT k, k, '决定书', '行政处罚决定书', %(now)s, 'cli:bench' FROM generate_series(1::bigint, {cases}) k""",
                     {"now": now})
        defs = [r[0] for r in conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'publication_notices' AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = 'publication_notices'::regclass)")]
        for d in defs:
            conn.execute("DROP INDEX " + d.split(" INDEX ", 1)[1].split(" ON ", 1)[0])
        t1 = time.perf_counter()
        with conn.cursor().copy(f"COPY publication_notices ({COLUMNS}) FROM STDIN") as cp:
            buf = io.StringIO()
            for k, line in enumerate(_copy_rows(n, 16, start, int((now - start).total_seconds()), cases)):
                buf.write(line)
                if k % 20000 == 19999:
                    cp.write(buf.getvalue())
                    buf = io.StringIO()
            cp.write(buf.getvalue())
        conn.execute("SELECT setval(pg_get_serial_sequence('publication_notices', 'id'), %(n)s)", {"n": n})
        copy_s = time.perf_counter() - t1
        t2 = time.perf_counter()
        index_s: dict[str, float] = {}
        for d in defs:
            t = time.perf_counter()
            conn.execute(d)
            index_s[d.split(" INDEX ", 1)[1].split(" ON ", 1)[0]] = round(time.perf_counter() - t, 1)
        conn.commit()
        build_s = time.perf_counter() - t2
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        mb = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        idx_mb = conn.execute("SELECT pg_relation_size('ix_publication_search')").fetchone()
    return {"load_s": round(time.perf_counter() - t0, 1), "copy_s": round(copy_s, 1),
            "indexes_s": round(build_s, 1), "index_s": index_s,
            "db_mb": round((mb[0] if mb else 0) / 1e6), "search_index_mb": round((idx_mb[0] if idx_mb else 0) / 1e6)}


# ---------------------------------------------------------------------------- part 2: the searches


def before(db: Session, *, q: str = "", page: int = 1, size: int = SIZE) -> tuple[list[str], int]:
    """``public_notices`` as it was before this bench (main at d62301e): ``LIKE`` over every public
    notice, an exact ``count(*)``, the page by ``OFFSET``; public numbers only."""
    where: list[Any] = [Notice.state.in_(service.PUBLIC_STATES)]
    if q.strip():
        like = "%" + q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(or_(Notice.party.like(like, escape="\\"), Notice.doc_number.like(like, escape="\\")))
    total = db.scalar(select(func.count()).select_from(Notice).where(*where)) or 0
    rows = db.scalars(select(Notice.public_no).where(*where).order_by(Notice.published_at.desc(), Notice.id.desc())
                      .offset((page - 1) * size).limit(size))
    return list(rows), total


def queries(url: str, n_public: int, runs: int, seed: int) -> list[tuple[str, str, int]]:
    """(kind, q, page) × runs for each kind, drawn from the loaded notices, shuffled."""
    rng = random.Random(seed)
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        sample = conn.execute("SELECT party, doc_number FROM publication_notices TABLESAMPLE SYSTEM (1) "
                              "WHERE party LIKE '%公司' OR party LIKE '%部' OR party LIKE '%户' LIMIT 5000").fetchall()
    last = max(1, min(math.ceil(n_public / SIZE), service.REACH // SIZE))  # the live list's reach
    rx_part = re.compile(r"区(..)(" + "|".join(TRADES) + ")")
    out: list[tuple[str, str, int]] = []
    for _ in range(runs):
        party, doc = rng.choice(sample)
        m = rx_part.search(party)
        out += [("first_page", "", 1), ("deep_page", "", rng.randrange(min(100, last), last + 1)),
                ("org_full", party, 1), ("org_part", m.group(1) + m.group(2) if m else party, 1),
                ("common", rng.choice(("有限公司", "餐饮", "市监罚", "科技", "分公司", "杭州市")), 1),
                ("year", rng.choice(("〔2024〕", "〔2025〕")), 1),
                ("doc_number", doc, 1), ("doc_part", doc[doc.index("〔"):], 1),
                ("miss", rng.choice(("不存在的某某企业", "无此文书〔1999〕1号", "火星贸易")), 1)]
    rng.shuffle(out)
    return out


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]


def summary(times: dict[str, list[float]], hits: dict[str, list[int]] | None = None) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for k, v in times.items():
        if not v:
            continue
        ms = [x * 1000 for x in v]
        out[k] = {"n": len(ms), "p50_ms": round(statistics.median(ms), 1), "p95_ms": round(pct(ms, 95), 1),
                  "max_ms": round(max(ms), 1)}
        if hits and hits.get(k):
            out[k]["hits_p50"] = int(statistics.median(hits[k]))
    return out


def bench_search(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"notices": args.notices, "runs": args.runs, "loadavg_start": loadavg()}
    if args.db:
        name, url = args.db, f"{PG_ADMIN.rsplit('/', 1)[0]}/{args.db}"
    else:
        url, name = create_database()
    result["database"] = name
    keep = args.keep or bool(args.db)
    tmp = tempfile.TemporaryDirectory(prefix="liuhen-bench-publication-")
    try:
        settings = config.load(write_config(Path(tmp.name), url), environ={})
        archive = open_archive(settings)
        with archive.engine.connect() as conn:
            result["postgresql"] = conn.execute(text("SHOW server_version")).scalar()
            n_have = conn.execute(text("SELECT count(*) FROM publication_notices")).scalar() or 0
        if args.db:
            result["load"] = {"reused": name}
            log(f"search: reusing {name}: {n_have:,} notices")
        else:
            log(f"search: loading {args.notices:,} notices into {name} — load {loadavg()}")
            result["load"] = load(url, args.notices)
            log(f"  loaded: {json.dumps(result['load'], ensure_ascii=False)}")
        with archive.reads() as db:
            n_public = db.scalar(select(func.count()).select_from(Notice)
                                 .where(Notice.state.in_(service.PUBLIC_STATES))) or 0
        result["public_notices"] = n_public
        qs = queries(url, n_public, args.runs, args.seed)
        failures: list[str] = []

        def check(kind: str, q: str, page: int, got: tuple[list[site.PublicNotice], int]) -> None:
            with archive.reads() as db:
                want, total = before(db, q=q, page=page)
            nos = [x.public_no for x in got[0]]
            capped = isinstance(got[1], site.AtLeast)
            if nos != want or (got[1] != total if not capped else not (got[1] < total)):
                failures.append(f"{kind} q={q!r} page={page}: {nos[:3]}…/{got[1]} (capped {capped}) "
                                f"!= {want[:3]}…/{total}")

        # warm-up: each kind a few times, untimed
        for _kind, q, page in qs[: 3 * len(KINDS)]:
            with archive.reads() as db:
                service.public_notices(db, q=q, page=page, size=SIZE)
        times: dict[str, list[float]] = {k: [] for k in KINDS}
        hits: dict[str, list[int]] = {k: [] for k in KINDS}
        result["loadavg_service"] = [loadavg()]
        for i, (kind, q, page) in enumerate(qs):
            t = time.perf_counter()
            with archive.reads() as db:
                got = service.public_notices(db, q=q, page=page, size=SIZE)
            times[kind].append(time.perf_counter() - t)
            hits[kind].append(int(got[1]))
            if i % args.check_every == 0:
                check(kind, q, page, got)
        result["loadavg_service"].append(loadavg())
        result["service"] = summary(times, hits)

        # before: a few of each kind, the same queries
        t_before: dict[str, list[float]] = {k: [] for k in KINDS}
        for kind, q, page in qs:
            if len(t_before[kind]) >= args.before_runs:
                continue
            t = time.perf_counter()
            with archive.reads() as db:
                before(db, q=q, page=page)
            t_before[kind].append(time.perf_counter() - t)
        result["before"] = summary(t_before)

        # the HTTP route
        from fastapi.testclient import TestClient

        from app.web import create_app

        client = TestClient(create_app(archive, sweep=False))
        t_http: dict[str, list[float]] = {k: [] for k in KINDS}
        result["loadavg_http"] = [loadavg()]
        for kind, q, page in qs[: len(qs) // 2]:
            params = {k: v for k, v in (("q", q), ("page", str(page) if page > 1 else "")) if v}
            t = time.perf_counter()
            r = client.get("/public/notices", params=params)
            t_http[kind].append(time.perf_counter() - t)
            if r.status_code != 200 or "行政执法决定公示" not in r.text:
                failures.append(f"http {kind} q={q!r} page={page}: {r.status_code}")
        result["loadavg_http"].append(loadavg())
        result["http"] = summary(t_http)
        result["failures"] = failures[:20]
        result["n_failures"] = len(failures)
        result["checks_ok"] = not failures
        result["goal_met"] = all(v["p95_ms"] <= GOAL_P95_MS for v in result["service"].values())
        archive.engine.dispose()
    finally:
        tmp.cleanup()
        if keep:
            log(f"  database kept: {name} (--db {name} measures it again)")
        else:
            drop_database(name)
    return result


def print_search(r: dict[str, Any]) -> None:
    print(f"\nsearch: {r['public_notices']:,} public notices, PostgreSQL {r.get('postgresql')}, "
          f"load average {r['loadavg_start']} → {r['loadavg_service']} (service) {r['loadavg_http']} (http)")
    print(f"{'kind':12} {'hits p50':>9} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'http p50':>9} {'http p95':>9} "
          f"{'before p50':>11} {'ratio':>7}")
    for k, v in r["service"].items():
        h, b = r["http"].get(k, {}), r["before"].get(k, {})
        ratio = f"{b['p50_ms'] / v['p50_ms']:.1f}×" if b and v["p50_ms"] else "–"
        print(f"{k:12} {v.get('hits_p50', 0):>9} {v['p50_ms']:>8} {v['p95_ms']:>8} {v['max_ms']:>8} "
              f"{h.get('p50_ms', '–'):>9} {h.get('p95_ms', '–'):>9} {b.get('p50_ms', '–'):>11} {ratio:>7}")
    print(f"goal p95 ≤ {GOAL_P95_MS:.0f} ms: {'met' if r['goal_met'] else 'NOT met'}; checks: "
          f"{'ok' if r['checks_ok'] else 'FAILED'}")
    for f in r["failures"]:
        print("FAILED", f)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--part", choices=("all", "pii", "search"), default="all")
    ap.add_argument("--mb", type=float, default=50.0, help="MB of decision text (default 50)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of the PII part (default 3)")
    ap.add_argument("--every", type=int, default=8, help="filler sentences between two planted items (8)")
    ap.add_argument("--notices", type=int, default=1_000_000, help="notices loaded (default 1,000,000)")
    ap.add_argument("--runs", type=int, default=200, help="searches of each kind (default 200)")
    ap.add_argument("--before-runs", type=int, default=5, help="runs of each kind of the code before (5)")
    ap.add_argument("--check-every", type=int, default=10, help="check every Nth search against the code before")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    ap.add_argument("--db", default=None, help="measure again on a database kept with --keep (no load; kept)")
    ap.add_argument("--json", type=Path, default=None, help="write every figure here")
    args = ap.parse_args()
    out: dict[str, Any] = {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                           "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    ok = True
    if args.part in ("all", "pii"):
        p = out["pii"] = bench_pii(args.mb, args.repeat, args.every)
        print(f"pii: {p['mb']} MB, {p['planted']:,} planted, decoys {p['invalid_id_decoys']:,} invalid IDs, "
              f"{p['order_number_decoys']:,} order numbers, {p['credit_code_decoys']:,} credit codes; load {p['load']}")
        print(f"  find {p['find_mbps']} MB/s, digit scan {p['digits_mbps']} MB/s, ratio {p['ratio']} "
              f"(CPU: {p['cpu_find_mbps']} / {p['cpu_digits_mbps']} MB/s, {p['cpu_ratio']}); goal ≥ {GOAL_MBPS:.0f} MB/s "
              f"{'met' if p['goal_met'] else 'NOT met'}; checks {'ok' if p['checks_ok'] else 'FAILED'}")
        for m in p["missed"]:
            print("FAILED missed", m)
        for m in p["extra"]:
            print("FAILED found a decoy or something not planted", m)
        ok = ok and p["checks_ok"]
    if args.part in ("all", "search"):
        s = out["search"] = bench_search(args)
        print_search(s)
        ok = ok and s["checks_ok"]
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
