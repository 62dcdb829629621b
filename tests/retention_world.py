"""A world for retention tests: one unit (and a second, foreign one), officers, a station of the
unit, and fresh evidence on demand — real files offloaded through the real station into the real
archive (SQLite or PostgreSQL), each call with new bytes so that tests never share evidence.

Use: ``from tests.retention_world import rworld  # noqa: F401`` and ask for the ``rworld`` fixture
(module-scoped, once per backend), then ``rworld.fresh(3, recorded="20200101093000")``."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.runtime import open_archive
from archive.attribution import add_officer
from archive.context import Archive
from archive.intake import LocalIntake
from archive.models import Evidence
from archive.stations import set_unit
from auth.service import add_unit
from cases.models import Case, Step
from cases.service import add_step, create_case
from ingest.station import Station
from liuhen import config
from tests.conftest import create_pg_database, write_config
from tests.docks import put, sha256_of

TZ = ZoneInfo("Asia/Shanghai")
UNIT, OTHER_UNIT = "110101-ZF", "110102-ZF"
A, B = "000123", "000456"  # officers of UNIT
ACTOR = "user:rm-zhang"  # a records manager
OTHER = "user:rm-li"  # a second records manager


def local(stamp: str) -> dt.datetime:
    return dt.datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=TZ)


@dataclass
class RWorld:
    settings: config.Settings
    archive: Archive
    unit_id: int
    other_unit_id: int
    folder: Path
    backend: str
    _n: list[int] = field(default_factory=lambda: [0])

    def fresh(self, n: int = 1, *, recorded: str = "20200101093000", officer: str = A, size: int = 4096,
              device: str = "DSJ-A001") -> list[int]:
        """``n`` new evidence ids, recorded at ``recorded`` (Asia/Shanghai, a second apart), of ``officer``:
        random bytes named like a recorder's photo, offloaded by the station of UNIT."""
        dock = self.settings.station.dock_root
        names = []
        start = local(recorded)
        for i in range(n):
            self._n[0] += 1
            stamp = (start + dt.timedelta(seconds=i)).strftime("%Y%m%d%H%M%S")
            name = f"{device}_{officer}_{stamp}_{self._n[0]:04d}.JPG"
            put(dock, f"bay1/{name}", os.urandom(size))
            names.append(name)
        station = Station(self.settings.station, LocalIntake(self.archive))
        try:
            results = station.offload_once(dock)
        finally:
            station.close()
        assert all(r.status == "archived" for r in results), [r.reason for r in results]
        with self.archive.sessions() as db:
            ids = [db.scalars(select(Evidence.id).where(Evidence.file_name == nm)).one() for nm in names]
        for p in dock.rglob("*.JPG"):
            p.unlink()
        return ids

    def case(self, *, category: str = "行政处罚", title: str = "某案", link: list[int] = (),  # type: ignore[assignment]
             actor: str = ACTOR) -> int:
        """A new open case of UNIT with one step linking ``link``; returns its id."""
        from cases.service import link as link_to

        with self.archive.sessions.begin() as db:
            c = create_case(db, self.archive.custody, self.settings.cases, unit_id=self.unit_id, unit_code=UNIT,
                            category=category, title=title, actor=actor)
            step = add_step(db, self.archive.custody, self.settings.cases, case=c, kind="现场检查",
                            started_at=local("20200101090000"), ended_at=local("20200101100000"), actor=actor)
            for eid in link:
                ev = db.get(Evidence, eid)
                assert ev is not None
                link_to(db, self.archive.custody, step=step, evidence=ev, actor=actor)
            return c.id

    def step_of(self, case_id: int) -> int:
        with self.archive.sessions() as db:
            return db.scalars(select(Step.id).where(Step.case_id == case_id)).first() or 0

    def case_row(self, case_id: int) -> Case:
        with self.archive.sessions() as db:
            c = db.get(Case, case_id)
            assert c is not None
            db.expunge(c)
            return c


def _open_world(folder: Path, backend: str, extra: str = "") -> tuple[config.Settings, Archive, int, int, object]:
    drop = None
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'var' / 'liuhen.db'}"
    else:
        url, drop = create_pg_database()
    settings = config.load(write_config(folder, url, extra), environ={})
    archive = open_archive(settings)
    with archive.sessions.begin() as db:
        unit = add_unit(db, code=UNIT, name="东城区综合行政执法大队")
        other = add_unit(db, code=OTHER_UNIT, name="西城区综合行政执法大队")
        add_officer(db, archive.custody, officer_no=A, name="张三", unit_id=unit.id, actor=ACTOR)
        add_officer(db, archive.custody, officer_no=B, name="李四", unit_id=unit.id, actor=ACTOR)
        unit_id, other_id = unit.id, other.id
    station = Station(settings.station, LocalIntake(archive))
    try:
        station.register()
    finally:
        station.close()
    set_unit(archive, station_id=settings.station.id, unit_code=UNIT)
    return settings, archive, unit_id, other_id, drop


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def rworld(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RWorld]:
    folder = tmp_path_factory.mktemp(f"retention-{request.param}")
    if request.param != "sqlite":
        request.getfixturevalue("pg_ready")
    settings, archive, unit_id, other_id, drop = _open_world(folder, request.param)
    try:
        yield RWorld(settings, archive, unit_id, other_id, folder, request.param)
    finally:
        archive.close()
        if callable(drop):
            drop()


__all__ = ["A", "ACTOR", "B", "OTHER", "RWorld", "UNIT", "local", "rworld", "sha256_of"]
