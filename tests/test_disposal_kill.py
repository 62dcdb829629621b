"""``kill -9`` during a disposal run, at every seeded point it crosses (``liuhen.faults``): each item
is left either whole (original and derived bytes present, still pending) or with its destruction
record (``destroying``/``destroyed`` and a ``destroyed`` custody event) — never bytes missing without
a record — and the next run finishes the job with every bound row still vouched for.

The series runs on SQLite (a real ``liuhen retention run --json`` process, killed with SIGKILL by
itself at the N-th point); one kill point on PostgreSQL too."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from archive.verify import Report
from hashing.models import CustodyEvent
from integrity.bindings import check_rows
from liuhen.db import utcnow
from retention import disposal
from retention.models import Disposal
from tests.retention_world import ACTOR, OTHER, RWorld, _open_world
from tests.test_disposal import add_derived, approve, keys_of

ITEMS = 3


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def kworld(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RWorld]:
    if request.param != "sqlite":
        request.getfixturevalue("pg_ready")
    settings, archive, unit_id, other_id, drop = _open_world(tmp_path, request.param, "[retention]\ngrace_days = 0\n")
    try:
        yield RWorld(settings, archive, unit_id, other_id, tmp_path, request.param)
    finally:
        archive.close()
        if callable(drop):
            drop()


def prepare(w: RWorld) -> dict[int, list[str]]:
    """``ITEMS`` new evidence, each with a derived file, due, scheduled by a person and approved by
    another: evidence id -> its store keys."""
    ids = w.fresh(ITEMS, recorded="20200101093000")
    for eid in ids:
        add_derived(w, eid, os.urandom(512))
    with w.archive.sessions.begin() as db:
        disposal.schedule(db, w.archive.custody, w.settings.retention, now=utcnow(), actor=ACTOR)
    with w.archive.sessions() as db:
        dids = list(db.scalars(select(Disposal.id).where(Disposal.evidence_id.in_(ids))))
    for did in dids:
        approve(w, did, OTHER)
    return {eid: keys_of(w, eid) for eid in ids}


def run_cli(w: RWorld, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", "--config", str(w.folder / "config.toml"), "retention",
                           "run", "--json"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.getcwd(), **env})


def states(w: RWorld, ids: list[int]) -> dict[int, tuple[str, bool]]:
    """evidence id -> (disposal state, whether a ``destroyed`` record of that disposal exists)."""
    out = {}
    with w.archive.sessions() as db:
        for did, eid, st in db.execute(select(Disposal.id, Disposal.evidence_id, Disposal.state)
                                       .where(Disposal.evidence_id.in_(ids))):
            recs = [json.loads(d) for d in db.scalars(select(CustodyEvent.detail).where(
                CustodyEvent.evidence_id == eid, CustodyEvent.action == "destroyed"))]
            assert len(recs) <= 1, f"evidence {eid}: {len(recs)} destruction records"
            out[eid] = (st, any(r["disposal_id"] == did for r in recs))
    return out


def assert_whole_or_recorded(w: RWorld, items: dict[int, list[str]], where: str) -> None:
    for eid, (st, recorded) in states(w, list(items)).items():
        present = [w.archive.store.exists(k) for k in items[eid]]
        if st == "pending":
            assert all(present) and not recorded, f"{where}: evidence {eid} pending but bytes missing {present}"
        else:
            assert st in ("destroying", "destroyed") and recorded, f"{where}: evidence {eid} {st} without its record"
        if st == "destroyed":
            assert not any(present), f"{where}: evidence {eid} destroyed but bytes remain"


def finish_and_check(w: RWorld, items: dict[int, list[str]], where: str) -> None:
    r = run_cli(w)
    assert r.returncode == 0, f"{where}: {r.stdout} {r.stderr}"
    for eid, (st, recorded) in states(w, list(items)).items():
        assert st == "destroyed" and recorded, f"{where}: evidence {eid} is {st} after the second run"
        assert not any(w.archive.store.exists(k) for k in items[eid]), f"{where}: bytes of {eid} remain"
    report = Report()
    check_rows(w.archive, report)
    assert not report.failures, f"{where}: {[f.detail for f in report.failures]}"


def points_of_a_run(w: RWorld) -> list[str]:
    log = w.folder / "kill.log"
    items = prepare(w)
    r = run_cli(w, LIUHEN_KILL_LOG=str(log))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["destroyed"] == ITEMS
    finish_and_check(w, items, "learning run")
    return log.read_text(encoding="utf-8").split()


@pytest.mark.slow
def test_kill_at_every_point_of_a_disposal_run_leaves_items_whole_or_recorded(kworld: RWorld) -> None:
    if kworld.backend != "sqlite":
        pytest.skip("the series runs on SQLite; PostgreSQL has its own kill point below")
    points = points_of_a_run(kworld)
    assert len(points) >= 20 and len(set(points)) >= 10, points
    for n in range(1, len(points) + 1):
        items = prepare(kworld)
        r = run_cli(kworld, LIUHEN_KILL_AT=str(n))
        where = f"killed at point {n} ({points[n - 1]})"
        assert r.returncode == -signal.SIGKILL, f"{where}: exit {r.returncode} {r.stderr}"
        assert_whole_or_recorded(kworld, items, where)
        finish_and_check(kworld, items, where)


@pytest.mark.parametrize("point", ["disposal.key.after:1", "disposal.item.record_before_commit:2"])
def test_kill_mid_destruction_on_each_backend_and_the_next_run_finishes(kworld: RWorld, point: str) -> None:
    items = prepare(kworld)
    r = run_cli(kworld, LIUHEN_KILL_AT=point)
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert_whole_or_recorded(kworld, items, point)
    st = states(kworld, list(items))
    assert any(s == "destroying" for s, _ in st.values()) or any(s == "pending" for s, _ in st.values())
    finish_and_check(kworld, items, point)
