"""A small police archive for the HTTP API tests: units, officers, users, a real dock, real media.

``build_world`` makes, on a real database (SQLite or PostgreSQL):

* units 市公安局 (110000) with two districts below it, 东城分局 (110101, "A") and 西城分局 (110102, "B");
* officers 张三 (000123) and 王五 (000321) in A, 李四 (000456) in B;
* the docking station ``st-test``, run by unit A, and ``st-b0``, run by B, offloading real ffmpeg
  clips through the real ``Station`` + ``LocalIntake``: file names in the ``pattern`` layout carry
  the officers' numbers, so 张三's and 王五's recordings (docked in A) belong to A, 李四's (docked in
  B) to B, and a recording naming an officer the roster does not know belongs to the station's
  unit, A (footage belongs to the unit tree of the station that offloads it, issue #10);
* the media jobs run to the end (probe, proxy, previews), so proxies and posters exist;
* one user of every role in A (``<role>_a``), an investigator in B (``investigator_b``), one in
  the city unit who sees both districts (``investigator_city``), and an API token for each.

``dock_unassigned_recorders`` adds recorders whose files name no officer (``dcim`` layout): a
second station run by B offloads from DSJ-X001 and DSJ-X002, then A's station from DSJ-X001.

Tests that build it once per module share it; tests that change evidence use evidence no other
test of that module asserts on.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from starlette.testclient import TestClient

from app.runtime import open_archive
from app.web import create_app
from archive import attribution
from archive.context import Archive
from archive.intake import LocalIntake
from archive.models import Evidence
from archive.models import Station as StationRow
from auth import policy
from auth import service as accounts
from hashing.models import CustodyEvent
from ingest.station import Station
from jobs.worker import run_worker
from liuhen import config
from liuhen.config import BaySettings
from media.service import HANDLERS
from tests.conftest import create_pg_database, write_config
from tests.docks import DockFile, put

PASSWORD = "正确的马电池订书钉和钥匙"  # 12 characters: enough for an administrator too
CITY, A, B = "110000", "110101", "110102"
STATION = "st-test"

# name -> (path in the dock, clip seconds, tone)
RECORDINGS: dict[str, tuple[str, float, int]] = {
    "zhangsan": ("bay1/DSJ-A001_000123_20261123093000_0001.MP4", 3.0, 300),  # 张三, A
    "zhangsan_2": ("bay1/DSJ-A001_000123_20261123094000_0002.MP4", 1.0, 350),  # 张三, A (changed by tests)
    "wangwu": ("bay2/DSJ-A002_000321_20261123095000_0001.MP4", 1.0, 400),  # 王五, A
    "lisi": ("bay3/DSJ-B001_000456_20261123100000_0001.MP4", 1.0, 500),  # 李四, B
    "stranger": ("bay4/DSJ-C001_999999_20261123110000_0001.MP4", 1.0, 600),  # unknown officer: station's unit A
}
DOCKED_IN_B = ("lisi",)  # offloaded by st-b0 (unit B); the others by st-test (unit A)
OWN = ("zhangsan", "zhangsan_2", "wangwu", "stranger")
FOREIGN = ("lisi",)


@dataclass
class World:
    archive: Archive
    app: FastAPI
    settings: config.Settings
    units: dict[str, int]  # code -> id
    evidence: dict[str, int]  # recording name -> evidence id
    files: dict[str, DockFile]  # recording name -> what was docked
    tokens: dict[str, str] = field(default_factory=dict)  # username -> API token

    def client(self, username: str | None = None) -> TestClient:
        c = TestClient(self.app, raise_server_exceptions=True)
        if username is not None:
            c.headers["Authorization"] = f"Bearer {self.tokens[username]}"
        return c

    def last_seq(self) -> int:
        with self.archive.sessions() as db:
            return db.scalar(select(func.max(CustodyEvent.seq))) or 0

    def events_since(self, seq: int) -> list[CustodyEvent]:
        with self.archive.sessions() as db:
            rows = list(db.scalars(select(CustodyEvent).where(CustodyEvent.seq > seq).order_by(CustodyEvent.seq)))
            db.expunge_all()
            return rows


def user_of(role: str, unit: str = "a") -> str:
    return f"{role}_{unit}"


def offload(station_settings: config.StationSettings, archive: Archive, unit_id: int) -> list[str]:
    """Offload everything docked at a station run by ``unit_id``; the statuses."""
    station = Station(station_settings, LocalIntake(archive))
    try:
        station.register()
        with archive.sessions.begin() as db:
            row = db.get(StationRow, station_settings.id)
            assert row is not None
            row.unit_id = unit_id
        return sorted(r.status for r in station.offload_once(station_settings.dock_root))
    finally:
        station.close()


def dock_unassigned_recorders(world: World, folder: Path, make_clip: Callable[..., Path]) -> None:
    """Recordings whose files name no officer: ``x1_b`` and ``x2_b`` offloaded by station st-b (unit
    B) from DSJ-X001 and DSJ-X002, then ``x1_a`` by st-test (unit A) from DSJ-X001. Each belongs to
    its station's unit; DSJ-X001 was last docked in A, DSJ-X002 in B. (No media jobs are run.)"""
    dcim = "DCIM/100MEDIA/VID_0001.MP4"
    b = dataclasses.replace(world.settings.station, id="st-b", dock_root=folder / "dock-b",
                            state_path=folder / "station-b",
                            bays={"bay1": BaySettings(device="DSJ-X001"), "bay2": BaySettings(device="DSJ-X002")})
    docked = {"x1_b": put(b.dock_root, f"bay1/{dcim}", make_clip(seconds=0.5, tone=700)),
              "x2_b": put(b.dock_root, f"bay2/{dcim}", make_clip(seconds=0.5, tone=750))}
    assert offload(b, world.archive, world.units[B]) == ["archived", "archived"]
    a = dataclasses.replace(world.settings.station, dock_root=folder / "dock-a-x",
                            bays={"bay9": BaySettings(device="DSJ-X001")})
    docked["x1_a"] = put(a.dock_root, f"bay9/{dcim}", make_clip(seconds=0.5, tone=800))
    assert offload(a, world.archive, world.units[A]) == ["archived"]
    with world.archive.sessions() as db:
        for name, f in docked.items():
            world.evidence[name] = db.scalars(select(Evidence.id).where(Evidence.sha256 == f.sha256)).one()
            world.files[name] = f


def build_world(folder: Path, database_url: str, make_clip: Callable[..., Path]) -> World:
    path = write_config(folder, database_url)
    settings = config.load(path, environ={})
    archive = open_archive(settings)

    with archive.sessions.begin() as db:
        units = {
            CITY: accounts.add_unit(db, code=CITY, name="市公安局").id,
            A: accounts.add_unit(db, code=A, name="东城分局", parent_code=CITY).id,
            B: accounts.add_unit(db, code=B, name="西城分局", parent_code=CITY).id,
        }
        attribution.add_officer(db, archive.custody, officer_no="000123", name="张三", unit_id=units[A], actor="test")
        attribution.add_officer(db, archive.custody, officer_no="000321", name="王五", unit_id=units[A], actor="test")
        attribution.add_officer(db, archive.custody, officer_no="000456", name="李四", unit_id=units[B], actor="test")

    in_b = dataclasses.replace(settings.station, id="st-b0", dock_root=folder / "dock-b0",
                               state_path=folder / "station-b0")
    files = {name: put((in_b if name in DOCKED_IN_B else settings.station).dock_root, rel,
                       make_clip(seconds=secs, tone=tone))
             for name, (rel, secs, tone) in RECORDINGS.items()}
    assert offload(settings.station, archive, units[A]) == ["archived"] * (len(RECORDINGS) - len(DOCKED_IN_B))
    assert offload(in_b, archive, units[B]) == ["archived"] * len(DOCKED_IN_B)

    # two real workers (as the embedded default runs them), until no job is left
    workers = [threading.Thread(target=run_worker, args=(archive, HANDLERS),
                                kwargs={"stop": threading.Event(), "until_idle": True, "poll_s": 0.05})
               for _ in range(2)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()

    evidence: dict[str, int] = {}
    with archive.sessions() as db:
        for name, f in files.items():
            ev = db.scalars(select(Evidence).where(Evidence.sha256 == f.sha256)).one()
            assert ev.playback == "ready", (name, ev.playback, ev.playback_note)
            evidence[name] = ev.id

    world = World(archive=archive, app=create_app(archive), settings=settings, units=units, evidence=evidence,
                  files=files)
    with archive.sessions.begin() as db:
        people = [(user_of(role), role, A) for role in policy.ROLES] + [
            (user_of("investigator", "b"), "investigator", B), (user_of("investigator", "city"), "investigator", CITY)]
        for username, role, unit in people:
            u = accounts.add_user(db, archive.custody, username=username, password=PASSWORD, role=role, unit_code=unit,
                                  display_name=f"{policy.ROLE_LABELS[role]} {unit}", actor="test",
                                  settings=settings.auth)
            world.tokens[username] = accounts.issue_api_token(db, archive.custody, user=u, name="API tests",
                                                              actor="test")
    return world


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def world_for(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
              make_clip: Callable[..., Path], *, unassigned: bool = False) -> Iterator[World]:
    """Body of a module-scoped fixture parametrised with ``BACKENDS``: the world on a fresh database."""
    folder = tmp_path_factory.mktemp(f"api-{request.param}")
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'var' / 'liuhen.db'}"
    else:
        request.getfixturevalue("pg_ready")
        url, drop = create_pg_database()
    try:
        w = build_world(folder, url, make_clip)
        try:
            if unassigned:
                dock_unassigned_recorders(w, folder, make_clip)
            yield w
        finally:
            w.archive.close()
    finally:
        if drop is not None:
            drop()
