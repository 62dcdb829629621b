#!/usr/bin/env python3
"""Retention on PostgreSQL at a million evidence: the disposal planner and the recompute after a case closes.

Makes a fresh PostgreSQL database on 127.0.0.1:5432 (trust auth, as ``tests/conftest.py``'s
``create_pg_database``), brings it to the schema with ``app.runtime.open_archive`` on a config
pointing at it (local store, keys and folders under a temporary folder), then loads with
``INSERT … SELECT generate_series`` (server-side, foreign-key triggers off for the load:
``session_replication_role = replica``; the rows are consistent by construction), then
``VACUUM ANALYZE``:

* ``--units`` units (default 4) and ``--rows`` evidence (default 1,000,000) recorded over the two
  years before the run, spread over the units, one in 40 marked important;
* ``--cases`` cases (default 100,000) of one step each; case 1 (the *big case*, open) has
  ``--big-case`` (default 10,000) evidence linked, every (rows / big-case)-th evidence; of the other
  evidence ``--linked`` (default 30 %) is linked to one of the other cases (about 3 each); 30 % of
  those cases are open, the rest closed at dates spread over the six years before the run;
* one ``evidence_retention`` row per evidence, as ``retention.rules.decide`` would keep it: a class
  of ``permanent`` on one in 200 (kept for ever), ``held`` for the items of the 40 of 50 legal holds
  not released (one evidence in 97 is a hold item), ``open_case`` when linked to an open case,
  else ``until`` the latest of recording + 180 days (1,826 when important) and closing + 1,826 days
  — dates over the past and the future, about half of the archive past its date; ``reasons`` is
  left ``[]`` (the planner does not read it, and the recompute writes it);
* pending disposals for one in 113 of the evidence past its date, restored ones for one in 331.

Not loaded: store objects (the planner and the recompute never read bytes) and custody events for
the bulk rows — the bench times SQL, not the log (the close and reopen it times do write their
real events, the ``retention_changed`` one included, through the archive's custody log).

Then, ``--rounds`` times (default 5), median with min and max:

(a) **the planner** — what ``liuhen retention run --dry-run`` runs: ``retention.service.due_summary(db,
    settings, now)`` and a count of ``retention.service.due(now)`` — against ``SELECT count(*)`` over
    the same ``evidence_retention`` rows (all of them; and, for scale, those with ``keep = 'until'``
    and a past date, i.e. without the hold, open-case and disposal tests), in the same round, the
    order alternating. Goal ≤ 10 s. When ``retention.disposal.run`` exists (the disposal helper's
    work, once merged) its ``dry_run=True`` is timed too.
(b) **the recompute** — a session, the big case loaded, ``cases.service.close_case`` and the commit
    (the retention hook recomputes the 10,000 before the commit): the time from close to commit, and
    the part of it inside ``retention.service.recompute``; then ``cases.service.reopen_case`` and its
    commit, timed separately, which puts the state back for the next round. Baseline: ``SELECT
    count(*)`` of the big case's ``evidence_retention`` rows (through its links) in the same round.
    Goal ≤ 1 s.

``EXPLAIN (ANALYZE, BUFFERS)`` of the planner's two statements (run once) is saved in the JSON
output, so a slow plan can be read. The JSON (every round, the medians, the load averages, the
load's times) goes to ``bench/out/retention-<rows>.json`` (``--json PATH`` elsewhere); the database
is dropped at the end unless ``--keep``.

Each close also records the time spent in each kind of statement (the database's share, as this
process waits for it) and this process's CPU time; the rest of a close is the commit and waiting
for a core.

Usage: .venv/bin/python bench/retention.py [--rows 1000000] [--cases 100000] [--big-case 10000]
                                           [--linked 0.3] [--units 4] [--rounds 5] [--keep | --db NAME]
                                           [--json PATH]
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# this file's own folder first on the path would make ``retention`` this script, not the package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402
from sqlalchemy import event, func, select, text  # noqa: E402

import retention.service as rs  # noqa: E402
from app.runtime import open_archive  # noqa: E402
from cases import service as cases_service  # noqa: E402
from cases.models import Case  # noqa: E402
from liuhen import config  # noqa: E402

PG_ADMIN = os.environ.get("LIUHEN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
GOAL_PLANNER_S = 10.0
GOAL_RECOMPUTE_S = 1.0
ACTOR = "cli:bench"


def log(msg: str = "") -> None:
    print(msg, flush=True)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def create_database() -> tuple[str, str, Callable[[], None]]:
    """A fresh database (as tests/conftest.py create_pg_database): its URL, name and a dropper."""
    name = f"liuhen_bench_ret_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}", name, drop


def write_config(folder: Path, url: str) -> Path:
    p = folder / "config.toml"
    p.write_text(f"""
[archive]
database_url = "{url}"
store = "local"
store_path = "var/originals"
upload_path = "var/uploads"
key_path = "var/keys/archive.ed25519"
""", encoding="utf-8")
    return p


# ---------------------------------------------------------------------------- the load

def load_sql(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(what, SQL) in order; %(now)s is the run's time. Everything derives from ids, so a
    --rows 50000 database looks like a 1,000,000 one, scaled."""
    n, c, big, units = args.rows, args.cases, args.big_case, args.units
    stride = max(1, n // big)
    linked_pct = int(round(args.linked * 100))
    return [
        ("units", f"""INSERT INTO units (id, code, name, created_at)
            SELECT u, 'B' || u, '测试单位' || u, %(now)s FROM generate_series(1::bigint, {units}) u"""),
        ("evidence", f"""INSERT INTO evidence (id, sha256, size, store_key, file_name, media_kind, media_state,
                important, created_at, recorded_at, unit_id, playback, device_id)
            SELECT i, lpad(to_hex(i), 64, '0'), 20000000 + (i * 7919) % 300000000, 'bench/' || i,
                   'DSJ-A' || lpad((i % 1000)::text, 3, '0') || '_' || i || '.MP4', 'video', 'ready', i % 40 = 0,
                   t + interval '2 hours', t, 1 + i % {units}, 'ready', 'DSJ-A' || lpad((i % 1000)::text, 3, '0')
            FROM (SELECT i, %(now)s - (((i * 2654435761) % 63072000) * interval '1 second') AS t
                  FROM generate_series(1::bigint, {n}) i) s"""),
        ("cases", f"""INSERT INTO cases (id, number, year, seq, category, title, unit_id, status, created_at,
                created_by, closed_at)
            SELECT k, 'BENCH-' || k, 2026, k, '行政处罚', '基准案件 ' || k, 1 + k % {units},
                   CASE WHEN k = 1 OR k % 10 < 3 THEN 'open' ELSE 'closed' END,
                   %(now)s - interval '7 years', 'cli:bench',
                   CASE WHEN k = 1 OR k % 10 < 3 THEN NULL
                        ELSE %(now)s - (((k * 40503) % 189216000) * interval '1 second') END
            FROM generate_series(1::bigint, {c}) k"""),
        ("case_steps", f"""INSERT INTO case_steps (id, case_id, kind, started_at, ended_at, officers, created_at,
                created_by)
            SELECT k, k, '现场检查', %(now)s - interval '7 years', %(now)s - interval '7 years', '[]', %(now)s,
                   'cli:bench' FROM generate_series(1::bigint, {c}) k"""),
        # the big case: every stride-th evidence; the rest: linked_pct % of the others, over cases 2..c
        ("case_links", f"""INSERT INTO case_links (step_id, evidence_id, linked_at, linked_by)
            SELECT CASE WHEN i % {stride} = 0 AND i / {stride} <= {big} THEN 1
                        ELSE 2 + (i * 2654435761) % {max(1, c - 1)} END, i, %(now)s, 'cli:bench'
            FROM generate_series(1::bigint, {n}) i
            WHERE (i % {stride} = 0 AND i / {stride} <= {big}) OR (i * 7) % 100 < {linked_pct}"""),
        ("legal_holds", """INSERT INTO legal_holds (id, unit_id, scope_kind, scope, reason, placed_by, placed_at,
                released_at, released_by, release_reason)
            SELECT h, 1, 'evidence', '{"evidence": []}', '基准保全 ' || h, 'user:bench', %(now)s - interval '1 year',
                   CASE WHEN h % 5 = 0 THEN %(now)s - interval '30 days' END,
                   CASE WHEN h % 5 = 0 THEN 'user:bench' END, CASE WHEN h % 5 = 0 THEN '基准解除' END
            FROM generate_series(1::bigint, 50) h"""),
        ("hold_items", f"""INSERT INTO hold_items (hold_id, evidence_id, added_at)
            SELECT 1 + i % 50, i, %(now)s - interval '1 year' FROM generate_series(1::bigint, {n}) i WHERE i % 97 = 5"""),
        ("evidence_retention", """INSERT INTO evidence_retention (evidence_id, class_name, keep, retain_until, reasons,
                computed_at, lock_hold)
            SELECT e.id, CASE WHEN e.id % 200 = 3 THEN 'permanent' END,
                   CASE WHEN e.id % 200 = 3 THEN 'permanent' WHEN h.evidence_id IS NOT NULL THEN 'held'
                        WHEN c.status = 'open' THEN 'open_case' ELSE 'until' END,
                   CASE WHEN e.id % 200 = 3 OR h.evidence_id IS NOT NULL OR c.status = 'open' THEN NULL
                        ELSE greatest(e.recorded_at + CASE WHEN e.important THEN interval '1826 days'
                                                           ELSE interval '180 days' END,
                                      c.closed_at + interval '1826 days') END,
                   '[]', %(now)s, false
            FROM evidence e
            LEFT JOIN case_links l ON l.evidence_id = e.id
            LEFT JOIN case_steps s ON s.id = l.step_id
            LEFT JOIN cases c ON c.id = s.case_id
            LEFT JOIN (SELECT DISTINCT i.evidence_id FROM hold_items i JOIN legal_holds g ON g.id = i.hold_id
                       WHERE g.released_at IS NULL) h ON h.evidence_id = e.id"""),
        ("disposals", """INSERT INTO disposals (evidence_id, state, rule, scheduled_at, scheduled_by, due_at,
                restored_at, restored_by, restore_reason)
            SELECT r.evidence_id, CASE WHEN r.evidence_id % 113 = 7 THEN 'pending' ELSE 'restored' END, '{}',
                   %(now)s - interval '10 days', 'system:retention', %(now)s + interval '20 days',
                   CASE WHEN r.evidence_id % 113 = 7 THEN NULL ELSE %(now)s - interval '5 days' END,
                   CASE WHEN r.evidence_id % 113 = 7 THEN NULL ELSE 'user:bench' END,
                   CASE WHEN r.evidence_id % 113 = 7 THEN NULL ELSE '基准恢复' END
            FROM evidence_retention r
            WHERE r.keep = 'until' AND r.retain_until <= %(now)s
              AND (r.evidence_id % 113 = 7 OR r.evidence_id % 331 = 11)"""),
    ]


SEQUENCES = ("units", "evidence", "cases", "case_steps", "case_links", "legal_holds", "hold_items", "disposals")


def load(url: str, args: argparse.Namespace, now: dt.datetime) -> dict[str, Any]:
    out: dict[str, Any] = {"tables_s": {}}
    t_all = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute("SET session_replication_role = replica")  # no FK triggers: consistent by construction
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET work_mem = '256MB'")
        for what, sql in load_sql(args):
            t = time.perf_counter()
            # (SQL built here from numbers, not from input; ``%`` is modulo there, ``%%`` to psycopg)
            conn.execute(sql.replace(" % ", " %% "), {"now": now})  # type: ignore[arg-type]
            conn.commit()
            out["tables_s"][what] = round(time.perf_counter() - t, 2)
            log(f"  {what}: {out['tables_s'][what]:.1f} s")
        for tbl in SEQUENCES:
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{tbl}', 'id'), (SELECT max(id) FROM {tbl}))")
        conn.commit()
        t = time.perf_counter()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        out["vacuum_analyze_s"] = round(time.perf_counter() - t, 2)
        counts = {}
        for tbl in ("evidence", "cases", "case_links", "hold_items", "evidence_retention", "disposals"):
            row = conn.execute(f"SELECT count(*) FROM {tbl}").fetchone()
            assert row is not None
            counts[tbl] = int(row[0])
        keeps = conn.execute("SELECT keep, count(*), count(*) FILTER (WHERE retain_until <= %s) "
                             "FROM evidence_retention GROUP BY keep ORDER BY keep", (now,)).fetchall()
        counts["keep"] = {k: {"rows": int(a), "past": int(b)} for k, a, b in keeps}
        big = conn.execute("SELECT count(*) FROM case_links l JOIN case_steps s ON s.id = l.step_id "
                           "WHERE s.case_id = 1").fetchone()
        assert big is not None
        counts["big_case_links"] = int(big[0])
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        assert size is not None
        out["db_mb"] = round(size[0] / 1e6, 1)
    out["counts"] = counts
    out["load_s"] = round(time.perf_counter() - t_all, 2)
    assert counts["evidence"] == args.rows and counts["evidence_retention"] == args.rows
    return out


# ---------------------------------------------------------------------------- measuring

def stats(xs: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(xs), 4), "min": round(min(xs), 4), "max": round(max(xs), 4)}


@contextlib.contextmanager
def captured(engine: Any) -> Iterator[list[tuple[str, Any]]]:
    """The statements (and parameters) run on ``engine`` meanwhile."""
    got: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        got.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        yield got
    finally:
        event.remove(engine, "before_cursor_execute", grab)


def planner(archive: Any, now: dt.datetime) -> tuple[float, float, int, list[dict[str, Any]]]:
    """What ``liuhen retention run --dry-run`` plans: the summary and the count of ``due``."""
    with archive.sessions() as db:
        t = time.perf_counter()
        summary = rs.due_summary(db, archive.settings.retention, now)
        t_sum = time.perf_counter() - t
        t = time.perf_counter()
        n = db.scalar(select(func.count()).select_from(rs.due(now).subquery()))
        t_count = time.perf_counter() - t
    return t_sum, t_count, int(n or 0), summary


def baseline_planner(archive: Any, now: dt.datetime) -> tuple[float, float]:
    with archive.engine.connect() as conn:
        t = time.perf_counter()
        conn.execute(text("SELECT count(*) FROM evidence_retention")).scalar()
        t_all = time.perf_counter() - t
        t = time.perf_counter()
        conn.execute(text("SELECT count(*) FROM evidence_retention WHERE keep = 'until' AND retain_until <= :now"),
                     {"now": now}).scalar()
        t_past = time.perf_counter() - t
    return t_all, t_past


def explain_planner(archive: Any, now: dt.datetime) -> list[dict[str, Any]]:
    with captured(archive.engine) as got:
        planner(archive, now)
    out = []
    with archive.engine.connect() as conn:
        for statement, params in got:
            if "evidence_retention" not in statement:
                continue
            raw = conn.connection.dbapi_connection
            assert raw is not None
            cur = raw.cursor()
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
            plan = "\n".join(r[0] for r in cur.fetchall())
            cur.close()
            out.append({"statement": statement, "plan": plan})
        conn.rollback()
    return out


def disposal_dry_run(archive: Any) -> Callable[[], Any] | None:
    """``retention.disposal.run(archive, dry_run=True)`` where the disposal helper's code is merged."""
    try:
        from retention import disposal  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return None
    run = getattr(disposal, "run", None)
    if run is None:
        return None
    return lambda: run(archive, dry_run=True, actor="cli:bench")


class RecomputeTimer:
    """Wraps ``retention.service.recompute`` (the hook calls it through the module) to time its part."""

    def __init__(self) -> None:
        self.spent: list[float] = []
        self.changes: list[int] = []
        self._orig = rs.recompute

    def __enter__(self) -> RecomputeTimer:
        orig = self._orig

        def timed(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            res = orig(*a, **k)
            self.spent.append(time.perf_counter() - t)
            self.changes.append(len(res))
            return res

        rs.recompute = timed  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: Any) -> None:
        rs.recompute = self._orig  # type: ignore[assignment]


@contextlib.contextmanager
def sql_sections(engine: Any) -> Iterator[dict[str, float]]:
    """Seconds spent in each kind of statement (its first words and table) meanwhile: the database's
    share of a close, as this process waits for it."""
    spent: dict[str, float] = {}
    started: list[float] = []

    def before(*_: Any) -> None:
        started.append(time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        words = statement.split()
        kind = " ".join(words[:2]) if words[0] != "SELECT" else "SELECT … " + " ".join(
            words[words.index("FROM"):words.index("FROM") + 2] if "FROM" in words else words[1:2])
        kind = " ".join(w for w in kind.split() if not w.startswith("("))[:60]
        spent[kind] = spent.get(kind, 0.0) + time.perf_counter() - started.pop()

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield spent
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def close_and_reopen(archive: Any, big_id: int, timer: RecomputeTimer) -> dict[str, Any]:
    with archive.sessions() as db, sql_sections(archive.engine) as close_sql:
        case = db.get(Case, big_id)
        assert case is not None and case.status == "open"
        n0 = len(timer.spent)
        t, c = time.perf_counter(), time.process_time()
        cases_service.close_case(db, archive.custody, case=case, actor=ACTOR)
        db.commit()
        t_close, c_close = time.perf_counter() - t, time.process_time() - c
        assert len(timer.spent) == n0 + 1, "the retention hook did not recompute on close"
        r_close, n_close = timer.spent[-1], timer.changes[-1]
    with archive.sessions() as db, sql_sections(archive.engine) as reopen_sql:
        case = db.get(Case, big_id)
        assert case is not None
        t, c = time.perf_counter(), time.process_time()
        cases_service.reopen_case(db, archive.custody, case=case, actor=ACTOR, reason="基准测试：恢复状态 / bench: restore")
        db.commit()
        t_reopen, c_reopen = time.perf_counter() - t, time.process_time() - c
        r_reopen, n_reopen = timer.spent[-1], timer.changes[-1]
    return {"close_s": t_close, "close_cpu_s": c_close, "close_recompute_s": r_close, "close_changes": n_close,
            "reopen_s": t_reopen, "reopen_cpu_s": c_reopen, "reopen_recompute_s": r_reopen, "reopen_changes": n_reopen,
            "close_sql_s": {k: round(v, 4) for k, v in sorted(close_sql.items(), key=lambda kv: -kv[1])},
            "reopen_sql_s": {k: round(v, 4) for k, v in sorted(reopen_sql.items(), key=lambda kv: -kv[1])}}


def baseline_case(archive: Any, big_id: int) -> tuple[float, int]:
    with archive.engine.connect() as conn:
        t = time.perf_counter()
        n = conn.execute(text("SELECT count(*) FROM evidence_retention r JOIN case_links l "
                              "ON l.evidence_id = r.evidence_id JOIN case_steps s ON s.id = l.step_id "
                              "WHERE s.case_id = :c"), {"c": big_id}).scalar()
        return time.perf_counter() - t, int(n or 0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    ap.add_argument("--rows", type=int, default=1_000_000, help="evidence rows (default 1,000,000)")
    ap.add_argument("--cases", type=int, default=100_000, help="cases, one step each (default 100,000)")
    ap.add_argument("--big-case", type=int, default=10_000, help="evidence linked to the case closed (default 10,000)")
    ap.add_argument("--linked", type=float, default=0.3, help="share of the other evidence linked to a case (0.3)")
    ap.add_argument("--units", type=int, default=4, help="units (default 4)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds of each measurement (default 5)")
    ap.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    ap.add_argument("--db", default=None, help="measure again on a database kept with --keep (no load; kept)")
    ap.add_argument("--json", type=Path, default=None, help="where the JSON goes (default bench/out/retention-ROWS.json)")
    args = ap.parse_args()
    if args.big_case > args.rows or args.cases < 2:
        ap.error("--big-case must be at most --rows, and --cases at least 2")

    if args.db:
        name, url = args.db, f"{PG_ADMIN.rsplit('/', 1)[0]}/{args.db}"
        args.keep = True

        def drop() -> None:
            pass
    else:
        url, name, drop = create_database()
    tmp = tempfile.TemporaryDirectory(prefix="liuhen-bench-retention-")
    result: dict[str, Any] = {"rows": args.rows, "cases": args.cases, "big_case": args.big_case,
                              "linked": args.linked, "units": args.units, "rounds": args.rounds, "database": name,
                              "cpus": os.cpu_count(), "loadavg_start": loadavg()}
    try:
        settings = config.load(write_config(Path(tmp.name), url), environ={})
        t = time.perf_counter()
        archive = open_archive(settings)
        result["schema_s"] = round(time.perf_counter() - t, 2)
        with archive.engine.connect() as conn:
            result["postgresql"] = conn.execute(text("SHOW server_version")).scalar()
            result["jit"] = conn.execute(text("SHOW jit")).scalar()
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        log(f"database {name}: loading {args.rows:,} evidence, {args.cases:,} cases (big case {args.big_case:,}) "
            f"— load average {result['loadavg_start']}")
        if args.db:
            with psycopg.connect(url) as conn:
                got = conn.execute("SELECT (SELECT count(*) FROM evidence), (SELECT count(*) FROM cases)").fetchone()
                assert got is not None
            args.rows, args.cases = result["rows"], result["cases"] = int(got[0]), int(got[1])
            result["load"] = {"reused": name, "load_s": 0.0, "db_mb": 0.0, "counts": {}}
        else:
            result["load"] = load(url, args, now)
        log(f"loaded in {result['load']['load_s']:.0f} s, {result['load']['db_mb']:.0f} MB: "
            f"{json.dumps(result['load']['counts'], ensure_ascii=False)}")
        big_id = 1

        # (a) the planner
        log("\n(a) planner (due_summary + count of due) vs SELECT count(*)")
        rounds_a: list[dict[str, Any]] = []
        dry = disposal_dry_run(archive)
        for r in range(args.rounds):
            la = loadavg()
            if r % 2 == 0:
                b_all, b_past = baseline_planner(archive, now)
                t_sum, t_count, n_due, summary = planner(archive, now)
            else:
                t_sum, t_count, n_due, summary = planner(archive, now)
                b_all, b_past = baseline_planner(archive, now)
            row: dict[str, Any] = {"summary_s": t_sum, "count_s": t_count, "planner_s": t_sum + t_count,
                                   "due": n_due, "baseline_count_all_s": b_all, "baseline_count_past_s": b_past,
                                   "loadavg": la}
            if dry is not None:
                t = time.perf_counter()
                dry()
                row["disposal_dry_run_s"] = time.perf_counter() - t
            rounds_a.append(row)
            log(f"  round {r + 1}: planner {t_sum + t_count:.3f} s (summary {t_sum:.3f}, count {t_count:.3f}; "
                f"{n_due:,} due) | count(*) all {b_all:.3f} s, past {b_past:.3f} s"
                + (f" | disposal dry run {row['disposal_dry_run_s']:.3f} s" if dry else "") + f" | load {la[0]}")
        assert sum(g["count"] for g in summary) == rounds_a[-1]["due"], "the summary and the count disagree"
        a: dict[str, Any] = {k: stats([x[k] for x in rounds_a]) for k in
                             ("planner_s", "summary_s", "count_s", "baseline_count_all_s", "baseline_count_past_s")}
        if dry is not None:
            a["disposal_dry_run_s"] = stats([x["disposal_dry_run_s"] for x in rounds_a])
        else:
            a["disposal_dry_run"] = "retention.disposal.run not on this branch: not timed"
        a["due"] = rounds_a[-1]["due"]
        a["ratio_planner_to_count_all"] = round(a["planner_s"]["median"] / a["baseline_count_all_s"]["median"], 2)
        a["ratio_planner_to_count_past"] = round(a["planner_s"]["median"] / a["baseline_count_past_s"]["median"], 2)
        a["goal_s"] = GOAL_PLANNER_S
        a["met"] = a["planner_s"]["median"] <= GOAL_PLANNER_S
        a["summary"] = summary
        a["rounds"] = rounds_a
        a["explain"] = explain_planner(archive, now)
        result["planner"] = a

        # (b) the recompute after closing the big case
        log(f"\n(b) close the {args.big_case:,}-evidence case (recompute in the commit), reopen; vs SELECT count(*)")
        rounds_b: list[dict[str, Any]] = []
        with RecomputeTimer() as timer:
            for r in range(args.rounds):
                la = loadavg()
                if r % 2 == 0:
                    b_s, b_n = baseline_case(archive, big_id)
                    row = close_and_reopen(archive, big_id, timer)
                else:
                    row = close_and_reopen(archive, big_id, timer)
                    b_s, b_n = baseline_case(archive, big_id)
                row.update({"baseline_count_s": b_s, "baseline_rows": b_n, "loadavg": la})
                rounds_b.append(row)
                log(f"  round {r + 1}: close→commit {row['close_s']:.3f} s (recompute {row['close_recompute_s']:.3f} s, "
                    f"{row['close_changes']:,} changes; CPU here {row['close_cpu_s']:.3f} s, waiting on SQL "
                    f"{sum(row['close_sql_s'].values()):.3f} s) | reopen→commit {row['reopen_s']:.3f} s "
                    f"(recompute {row['reopen_recompute_s']:.3f} s) | count(*) {b_s:.4f} s ({b_n:,}) | load {la[0]}")
        b: dict[str, Any] = {k: stats([x[k] for x in rounds_b]) for k in
                             ("close_s", "close_cpu_s", "close_recompute_s", "reopen_s", "reopen_cpu_s",
                              "reopen_recompute_s", "baseline_count_s")}
        b["changes"] = rounds_b[-1]["close_changes"]
        b["ratio_close_to_count"] = round(b["close_s"]["median"] / b["baseline_count_s"]["median"], 1)
        b["goal_s"] = GOAL_RECOMPUTE_S
        b["met"] = b["close_s"]["median"] <= GOAL_RECOMPUTE_S
        b["rounds"] = rounds_b
        result["recompute"] = b
        result["loadavg_end"] = loadavg()
        archive.engine.dispose()
    finally:
        if args.keep:
            log(f"kept database {name} ({url})")
        else:
            drop()
        tmp.cleanup()

    path = args.json or REPO / "bench" / "out" / f"retention-{args.rows}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    a, b = result["planner"], result["recompute"]
    log(f"\nplanner: median {a['planner_s']['median']:.3f} s ({a['planner_s']['min']:.3f}–{a['planner_s']['max']:.3f}), "
        f"{a['due']:,} due; SELECT count(*) of all {args.rows:,} rows {a['baseline_count_all_s']['median']:.3f} s "
        f"(ratio {a['ratio_planner_to_count_all']}), of the past 'until' rows "
        f"{a['baseline_count_past_s']['median']:.3f} s (ratio {a['ratio_planner_to_count_past']}); "
        f"goal ≤ {GOAL_PLANNER_S:.0f} s {'✔' if a['met'] else '✘'}")
    log(f"recompute: close→commit median {b['close_s']['median']:.3f} s ({b['close_s']['min']:.3f}–"
        f"{b['close_s']['max']:.3f}), of which recompute {b['close_recompute_s']['median']:.3f} s, {b['changes']:,} "
        f"changes, this process's CPU {b['close_cpu_s']['median']:.3f} s; reopen→commit {b['reopen_s']['median']:.3f} s; SELECT count(*) {b['baseline_count_s']['median']:.4f} s "
        f"(ratio {b['ratio_close_to_count']}); goal ≤ {GOAL_RECOMPUTE_S:.0f} s {'✔' if b['met'] else '✘'}")
    log(f"load average {result['loadavg_start']} → {result['loadavg_end']} ({result['cpus']} CPUs); JSON: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
