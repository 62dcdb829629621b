"""A small archive behind a real ``liuhen serve`` for the search and audit pages in Chromium
(tests/test_console_search.py, tests/test_console_audit.py).

Unit 东城分局 (A) under 市公安局, and 西城分局 (B). Officers 张三 (000123) and 王五 (000789) in A.
Recordings offloaded through the real station (no media jobs wait for them: the pages under test
need none), named in the recorders' ``pattern`` layout with times relative to now in the station's
time zone:

* ``today``: DSJ-A001, 张三, recorded a minute ago (or at midnight, just after it);
* ``days3``: DSJ-A0012, 王五, three days ago (in 近7天, not 今天);
* ``days40``: DSJ-B002, 张三, forty days ago (in neither);
* ``untimed``: DSJ-C003 in the ``dcim`` layout (bay3 bound to 王五): no recording time, found by
  the time it was archived (now).

Users (password ``PASSWORD``): ``investigator``, ``operator``, ``auditor`` in A; ``diaocha`` (张伟,
investigator) in A; ``investigator_b`` in B. One case of A (``case_id``) with a step (``step_id``).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.conftest import write_config
from tests.docks import BAY3_BINDING, put
from tests.test_console_browser import CHROMIUM, PASSWORD, _free_port

TZ = ZoneInfo("Asia/Shanghai")
ROOT = str(Path(__file__).resolve().parents[1])  # the server runs this checkout's code, not an installed copy


@dataclass
class SearchWorld:
    base: str
    folder: Path
    settings: Any
    ids: dict[str, int]
    case_id: int
    step_id: int
    case_number: str

    def db(self) -> Any:
        from liuhen import db

        engine = db.make_engine(self.settings.archive.database_url)
        return engine, db.make_sessionmaker(engine)

    def events(self, **where: Any) -> list[Any]:
        from hashing.models import CustodyEvent

        engine, sessions = self.db()
        try:
            with sessions() as s:
                q = select(CustodyEvent)
                for k, v in where.items():
                    q = q.where(getattr(CustodyEvent, k) == v)
                return list(s.scalars(q.order_by(CustodyEvent.seq)))
        finally:
            engine.dispose()

    def tags(self, evidence_id: int) -> list[str]:
        from archive.models import EvidenceTag

        engine, sessions = self.db()
        try:
            with sessions() as s:
                return sorted(s.scalars(select(EvidenceTag.tag).where(EvidenceTag.evidence_id == evidence_id)))
        finally:
            engine.dispose()

    def linked(self, step_id: int) -> set[int]:
        from cases.models import EvidenceLink

        engine, sessions = self.db()
        try:
            with sessions() as s:
                return set(s.scalars(select(EvidenceLink.evidence_id).where(EvidenceLink.step_id == step_id,
                                                                             EvidenceLink.unlinked_at.is_(None))))
        finally:
            engine.dispose()


def _stamp(t: dt.datetime) -> str:
    return t.astimezone(TZ).strftime("%Y%m%d%H%M%S")


def _seed(archive: Any, settings: Any, make_clip: Any) -> tuple[dict[str, int], int, int, str]:
    from archive.attribution import add_officer
    from archive.intake import LocalIntake
    from archive.models import Evidence
    from archive.service import register_station
    from archive.stations import set_unit
    from auth import service as accounts
    from cases import service as cases
    from hashing.keys import load_or_create
    from ingest.station import Station

    with archive.sessions.begin() as db:
        accounts.add_unit(db, code="110000", name="市公安局")
        a = accounts.add_unit(db, code="110101", name="东城分局", parent_code="110000")
        accounts.add_unit(db, code="110102", name="西城分局", parent_code="110000")
        add_officer(db, archive.custody, officer_no="000123", name="张三", unit_id=a.id, actor="test")
        add_officer(db, archive.custody, officer_no="000789", name="王五", unit_id=a.id, actor="test")
        for name, role, unit, shown in (("investigator", "investigator", "110101", "调查员甲"),
                                        ("operator", "operator", "110101", "采集员"),
                                        ("auditor", "auditor", "110101", "审计员"),
                                        ("diaocha", "investigator", "110101", "张伟"),
                                        ("investigator_b", "investigator", "110102", "西城调查员")):
            accounts.add_user(db, archive.custody, username=name, password=PASSWORD, role=role, unit_code=unit,
                              display_name=shown, actor="test", settings=settings.auth)
    key = load_or_create(settings.station.state_path / "station.ed25519")
    register_station(archive, station_id=settings.station.id, public_pem=key.public_pem)
    set_unit(archive, station_id=settings.station.id, unit_code="110101")

    now = dt.datetime.now(TZ)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    recent = max(now - dt.timedelta(minutes=1), midnight + dt.timedelta(seconds=1))
    dock = settings.station.dock_root
    put(dock, f"bay1/DSJ-A001_000123_{_stamp(recent)}_0001.MP4", make_clip(seconds=1.0, tone=410))
    put(dock, f"bay2/DSJ-A0012_000789_{_stamp(now - dt.timedelta(days=3))}_0001.MP4", make_clip(seconds=2.0, tone=420))
    put(dock, f"bay4/DSJ-B002_000123_{_stamp(now - dt.timedelta(days=40))}_0001.MP4", make_clip(seconds=1.0, tone=430))
    put(dock, "bay3/DCIM/100MEDIA/VID_0001.MP4", make_clip(seconds=1.0, tone=440))
    station = Station(settings.station, LocalIntake(archive))
    try:
        results = station.offload_once(dock)
    finally:
        station.close()
    assert {r.status for r in results} == {"archived"} and len(results) == 4, results
    with archive.sessions() as db:
        rows = {e.device_id: e for e in db.scalars(select(Evidence))}
        assert rows["DSJ-C003"].recorded_at is None
        ids = {"today": rows["DSJ-A001"].id, "days3": rows["DSJ-A0012"].id, "days40": rows["DSJ-B002"].id,
               "untimed": rows["DSJ-C003"].id}
    with archive.sessions.begin() as db:
        c = cases.create_case(db, archive.custody, settings.cases, unit_id=a.id, unit_code="110101",
                              category=settings.cases.categories[0], title="夜市噪声扰民", actor="user:investigator")
        st = cases.add_step(db, archive.custody, settings.cases, case=c, kind=settings.cases.steps[0],
                            started_at=now - dt.timedelta(hours=2), ended_at=now, actor="user:investigator")
        return ids, c.id, st.id, c.number


@pytest.fixture(scope="module")
def search_world(tmp_path_factory: pytest.TempPathFactory, make_clip: Any) -> Iterator[SearchWorld]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make setup` (it installs Debian's chromium) before the tests")
    import httpx

    from app.runtime import open_archive
    from liuhen import config

    folder = tmp_path_factory.mktemp("search")
    cfg = write_config(folder, f"sqlite:///{folder / 'var' / 'liuhen.db'}",
                       extra=BAY3_BINDING + "\n[workers]\npoll_seconds = 0.2\n")
    settings = config.load(cfg, environ={})
    archive = open_archive(settings)
    try:
        ids, case_id, step_id, number = _seed(archive, settings, make_clip)
    finally:
        archive.close()
    port = _free_port()
    log = open(folder / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "--config", str(cfg), "serve", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "LIUHEN_CONFIG": str(cfg), "PYTHONPATH": ROOT},
                            cwd=folder)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180  # (a loaded machine: the workers start transcoding at once)
    while True:
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=10).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("liuhen serve did not start:\n" + (folder / "serve.log").read_text(errors="replace"))
        time.sleep(0.2)
    try:
        yield SearchWorld(base, folder, settings, ids, case_id, step_id, number)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
