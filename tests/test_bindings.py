"""State bound to the custody log: every meaningful row carries its hash in an event, and
``liuhen verify`` names any row changed, deleted or added below the application.

One real world per backend (real clips offloaded by the real station, probed and rendered by the
real media workers, a case with parties, steps, links, an ended link, text records and a form, a
recorder assignment), snapshotted once; each test restores the snapshot, tampers as an insider with
direct database access would (triggers dropped on SQLite; ``session_replication_role = replica`` as
the PostgreSQL superuser, which silences triggers and foreign keys), and runs the real CLI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select

from app.runtime import open_archive
from archive.attribution import add_officer, assign_recorder
from archive.intake import LocalIntake
from archive.models import DerivedFile, Evidence, Sighting
from auth.service import add_unit
from cases.models import Party, TextRecordVersion
from cases.records import FORMS, add_form, add_version
from cases.service import PartyIn, add_step, close_case, create_case, link, unlink
from hashing.models import CustodyEvent
from ingest.station import Station
from jobs.worker import run_worker
from liuhen import config
from media.service import HANDLERS
from tests.conftest import PG_ADMIN, write_config
from tests.docks import put
from tests.test_cases import local, tiny_pdf

ACTOR = "test:investigator"
A, B = "000123", "000456"
UNIT = "110101-ZF"
CLIPS = {  # bay, file name, tone
    "a1": ("bay1", f"DSJ-A001_{A}_20261123093000_0001.MP4", 301),
    "a2": ("bay1", f"DSJ-A001_{A}_20261123093003_0002.MP4", 302),
    "b1": ("bay2", f"DSJ-B002_{B}_20261123093000_0001.MP4", 401),
}


@dataclass
class World:
    backend: str
    folder: Path
    cfg: Path
    url: str
    ids: dict[str, object]


def liuhen(w: World, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", "--config", str(w.cfg), *args],
                          capture_output=True, text=True, timeout=300, cwd=w.folder)


def verify(w: World) -> tuple[int, dict]:
    res = liuhen(w, "verify", "--json")
    assert "Traceback" not in res.stderr, res.stderr
    return res.returncode, json.loads(res.stdout)


def _build(settings: config.Settings, make_clip) -> dict[str, object]:
    archive = open_archive(settings)
    try:
        with archive.sessions.begin() as db:
            unit_id = add_unit(db, code=UNIT, name="东城区综合行政执法大队").id
            add_officer(db, archive.custody, officer_no=A, name="张三", unit_id=unit_id, actor=ACTOR)
            add_officer(db, archive.custody, officer_no=B, name="李四", unit_id=unit_id, actor=ACTOR)
        dock = settings.station.dock_root
        for bay, name, tone in CLIPS.values():
            put(dock, f"{bay}/{name}", make_clip(seconds=2.0, tone=tone))
        station = Station(settings.station, LocalIntake(archive))
        try:
            assert sorted(r.status for r in station.offload_once(dock)) == ["archived"] * len(CLIPS)
        finally:
            station.close()
        run_worker(archive, HANDLERS, stop=threading.Event(), poll_s=0.05, until_idle=True)
        ids: dict[str, object] = {}
        with archive.sessions.begin() as db:
            ev = {k: db.scalars(select(Evidence).where(Evidence.file_name == name)).one() for k, (_b, name, _t)
                  in CLIPS.items()}
            assert all(e.playback == "ready" and e.duration_s for e in ev.values())
            assign_recorder(db, archive.custody, device_id="DSJ-C003", officer_no=B, actor=ACTOR)
            case = create_case(db, archive.custody, settings.cases, unit_id=unit_id, unit_code=UNIT,
                               category="行政强制", title="某违建拆除案", actor=ACTOR,
                               parties=[PartyIn(name="王五", id_number="110101199001011234", phone="13800000000")],
                               data_key=archive.data_key)
            step = add_step(db, archive.custody, settings.cases, case=case, kind="强制拆除",
                            started_at=local("20261123093000"), ended_at=local("20261123093004"), actor=ACTOR,
                            officers=(A,))
            kept = link(db, archive.custody, step=step, evidence=ev["a1"], actor=ACTOR)
            ended = link(db, archive.custody, step=step, evidence=ev["a2"], actor=ACTOR, start_s=0, end_s=1)
            unlink(db, archive.custody, link_id=ended.id, actor=ACTOR)
            link(db, archive.custody, step=step, evidence=ev["a2"], actor=ACTOR)
            closed = create_case(db, archive.custody, settings.cases, unit_id=unit_id, unit_code=UNIT,
                                 category="行政检查", title="已结的案", actor=ACTOR)
            close_case(db, archive.custody, case=closed, actor=ACTOR)
            proxy = db.scalars(select(DerivedFile).where(DerivedFile.evidence_id == ev["b1"].id,
                                                         DerivedFile.kind == "proxy")).one()
            ids.update(a1=ev["a1"].id, b1=ev["b1"].id, case=case.id, step=step.id, link=kept.id,
                       party=db.scalars(select(Party.id).where(Party.case_id == case.id)).one(),
                       proxy=proxy.id, proxy_path=str(archive.store.path_of(proxy.store_key)),
                       b1_sightings=list(db.scalars(select(Sighting.id).where(Sighting.evidence_id == ev["b1"].id))),
                       b1_derived=list(db.scalars(select(DerivedFile.id).where(DerivedFile.evidence_id == ev["b1"].id))))
        pdf = settings.config_path.parent / "笔录.pdf"
        pdf.write_bytes(tiny_pdf("first"))
        v1 = add_version(archive, case_id=int(ids["case"]), actor=ACTOR, kind="现场检查笔录", title="现场检查笔录",
                         path=pdf, file_name=pdf.name, step_id=int(ids["step"]))
        pdf.write_bytes(tiny_pdf("second"))
        add_version(archive, case_id=int(ids["case"]), actor=ACTOR, kind="现场检查笔录", title="现场检查笔录",
                    path=pdf, file_name=pdf.name, record_id=v1.record_id)
        add_form(archive, case_id=int(ids["case"]), actor=ACTOR, kind="送达回证", step_id=int(ids["step"]),
                 fields={key: f"{label}：某某" for key, label in FORMS["送达回证"]})
        with archive.sessions() as db:
            ids["version"] = db.scalars(select(TextRecordVersion.id).where(
                TextRecordVersion.record_id == v1.record_id, TextRecordVersion.version == 1)).one()
        with archive.sessions.begin() as db:  # the annual figures of 2025, approved (年度行政执法数据)
            from auth.models import Unit
            from publication import figures

            figures.approve(db, archive.custody, settings, archive.store, unit=db.get_one(Unit, unit_id), year=2025,
                            actor=ACTOR)
        return ids
    finally:
        archive.close()


def _pg(dbname: str = "postgres") -> psycopg.Connection:
    return psycopg.connect(PG_ADMIN.rsplit("/", 1)[0] + "/" + dbname, autocommit=True)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def snapshot(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, make_clip) -> Iterator[World]:
    folder = tmp_path_factory.mktemp(f"bind-{request.param}")
    name = f"liuhen_bind_{uuid.uuid4().hex[:10]}"
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'var' / 'liuhen.db'}"
    else:
        request.getfixturevalue("pg_ready")
        with _pg() as c:
            c.execute(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    try:
        cfg = write_config(folder, url)
        ids = _build(config.load(cfg, environ={}), make_clip)
        if request.param == "sqlite":
            shutil.copyfile(folder / "var" / "liuhen.db", folder / "snapshot.db")
        else:
            with _pg() as c:
                c.execute(f'CREATE DATABASE "{name}_snap" TEMPLATE "{name}"')
        yield World(request.param, folder, cfg, url, ids)
    finally:
        if request.param == "postgresql":
            with _pg() as c:
                for n in (name, f"{name}_snap"):
                    c.execute(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)')


@pytest.fixture
def world(snapshot: World) -> World:
    """The snapshot as it was built: whatever an earlier test tampered with is undone."""
    w = snapshot
    if w.backend == "sqlite":
        var = w.folder / "var"
        for suffix in ("-wal", "-shm"):
            (var / f"liuhen.db{suffix}").unlink(missing_ok=True)
        shutil.copyfile(w.folder / "snapshot.db", var / "liuhen.db")
    else:
        name = w.url.rsplit("/", 1)[1]
        with _pg() as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            c.execute(f'CREATE DATABASE "{name}" TEMPLATE "{name}_snap"')
    return w


def tamper(w: World, *statements: str) -> None:
    """Raw SQL as an insider with the database's own powers: around triggers and foreign keys."""
    if w.backend == "sqlite":
        con = sqlite3.connect(w.folder / "var" / "liuhen.db", isolation_level=None)
        try:
            for (trigger,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
                con.execute(f'DROP TRIGGER "{trigger}"')
            con.execute("PRAGMA foreign_keys = OFF")
            for sql in statements:
                con.execute(sql)
        finally:
            con.close()
    else:
        with _pg(w.url.rsplit("/", 1)[1]) as c:
            c.execute("SET session_replication_role = replica")  # superuser: no triggers, no foreign keys
            for sql in statements:
                c.execute(sql)


def named(report: dict, kind: str) -> list[str]:
    return [f["detail"] for f in report["failures"] if f["kind"] == kind]


# ---------------------------------------------------------------------------- the clean world


def test_an_untouched_world_of_ingest_media_cases_records_and_assignments_verifies_clean(world):
    code, report = verify(world)
    assert code == 0, report["failures"]
    assert report["ok"] and report["failures"] == []
    # 2 officers, 1 assigned recorder (+ 2 docked, unassigned), 3 evidence, 3 sightings, derived files,
    # 2 cases, 1 party, 1 step, 4 links, 2 text records, 3 versions
    assert report["rows_checked"] >= 2 + 3 + 3 + 3 + 2 + 1 + 1 + 4 + 2 + 3 + 3
    assert report["derived_files_checked"] >= 3 * 2  # a proxy and a poster at least per clip


def test_every_row_write_carries_its_hash_in_an_event(world):
    """The binding is in the events themselves: each bound row's ref appears in some event's detail."""
    from integrity.bindings import BINDINGS, expected_hashes

    settings = config.load(world.cfg, environ={})
    archive = open_archive(settings)
    try:
        with archive.sessions() as db:
            expected = expected_hashes(db)
            for b in BINDINGS:
                for key, *values in db.execute(select(*b.select_columns())).all():
                    if b.blank_ok and all(v is None for v in values):
                        continue
                    assert str(key) in expected.get(b.name, {}), b.ref(key)
            actions = set(db.scalars(select(CustodyEvent.action).where(CustodyEvent.detail.like('%"bound":{%'))))
    finally:
        archive.close()
    assert {"officer_added", "recorder_assigned", "received", "stored", "probed", "derived", "case_opened",
            "step_added", "linked", "unlinked", "case_closed", "record_added", "record_revised",
            "figures_approved"} <= actions


# ---------------------------------------------------------------------------- each tampering is named

EVIDENCE_EDITS = {
    "recorded_at": "recorded_at = '2026-01-01T00:00:00.000000+00:00'",
    "duration_s": "duration_s = 600.5",
    "officer_id": f"officer_id = '{B}'",
    # (moved to another unit, or out of its unit: whichever changes the row as the world made it)
    "unit_id": "unit_id = CASE WHEN unit_id IS NULL THEN (SELECT min(id) FROM units) ELSE NULL END",
    "file_name": "file_name = 'DSJ-Z999_999999_20260101000000_0001.MP4'",
    "device_id": "device_id = 'DSJ-Z999'",
}


@pytest.mark.parametrize("column", list(EVIDENCE_EDITS))
def test_an_evidence_metadata_update_names_the_row_and_column(world, column):
    eid = world.ids["a1"]
    tamper(world, f"UPDATE evidence SET {EVIDENCE_EDITS[column]} WHERE id = {eid}")
    code, report = verify(world)
    assert code == 3
    (detail,) = named(report, "row_changed")
    assert detail.startswith(f"evidence {eid}: {column} changed since its last custody event")


def test_all_six_evidence_fields_moved_at_once_are_all_named(world):
    eid = world.ids["a1"]
    tamper(world, f"UPDATE evidence SET {', '.join(EVIDENCE_EDITS.values())} WHERE id = {eid}")
    code, report = verify(world)
    assert code == 3
    (detail,) = named(report, "row_changed")
    for column in EVIDENCE_EDITS:
        assert column in detail.split(":", 1)[1].split(" changed")[0]


def test_deleting_evidence_with_its_sightings_derived_files_and_jobs_names_each_row(world):
    eid = world.ids["b1"]
    tamper(world, f"DELETE FROM search_terms WHERE evidence_id = {eid}",
           f"DELETE FROM jobs WHERE evidence_id = {eid}",
           f"DELETE FROM derived_files WHERE evidence_id = {eid}",
           f"DELETE FROM sightings WHERE evidence_id = {eid}",
           f"DELETE FROM evidence WHERE id = {eid}")
    code, report = verify(world)
    assert code == 3
    deleted = named(report, "row_deleted")
    assert f"evidence {eid}: deleted, but custody event" in " | ".join(deleted)
    for sid in world.ids["b1_sightings"]:
        assert any(d.startswith(f"sightings {sid}: deleted") for d in deleted), deleted
    for did in world.ids["b1_derived"]:
        assert any(d.startswith(f"derived_files {did}: deleted") for d in deleted), deleted


def test_deleting_a_sighting_names_it(world):
    (sid,) = world.ids["b1_sightings"]
    tamper(world, f"DELETE FROM sightings WHERE id = {sid}")
    code, report = verify(world)
    assert code == 3
    assert named(report, "row_deleted") == [named(report, "row_deleted")[0]]
    assert named(report, "row_deleted")[0].startswith(f"sightings {sid}: deleted")


def test_a_browser_proxy_overwritten_with_random_bytes_is_named(world):
    path = Path(str(world.ids["proxy_path"]))
    before = path.read_bytes()
    os.chmod(path, 0o644)
    try:
        path.write_bytes(os.urandom(len(before)))
        code, report = verify(world)
    finally:
        path.write_bytes(before)
        os.chmod(path, 0o444)
    assert code == 3
    (detail,) = named(report, "derived_altered")
    assert detail.startswith(f"derived_files {world.ids['proxy']} (proxy of evidence {world.ids['b1']})")


def test_a_case_step_retimed_names_the_step_and_its_times(world):
    sid = world.ids["step"]
    tamper(world, f"UPDATE case_steps SET started_at = '2026-11-23T01:29:00.000000+00:00', "
                  f"ended_at = '2026-11-23T01:29:01.000000+00:00' WHERE id = {sid}")
    code, report = verify(world)
    assert code == 3
    assert named(report, "row_changed") == [
        f"case_steps {sid}: started_at, ended_at changed since its last custody event "
        f"({_seq(named(report, 'row_changed')[0])})."]


def _seq(detail: str) -> str:
    return detail.rsplit("(", 1)[1].rstrip(").")


def test_a_deleted_case_link_is_named(world):
    lid = world.ids["link"]
    tamper(world, f"DELETE FROM case_links WHERE id = {lid}")
    code, report = verify(world)
    assert code == 3
    (detail,) = named(report, "row_deleted")
    assert detail.startswith(f"case_links {lid}: deleted")


def test_a_deleted_text_record_version_row_is_named(world):
    vid = world.ids["version"]
    tamper(world, f"DELETE FROM text_record_versions WHERE id = {vid}")
    code, report = verify(world)
    assert code == 3
    (detail,) = named(report, "row_deleted")
    assert detail.startswith(f"text_record_versions {vid}: deleted")


def test_an_altered_text_record_version_row_is_named(world):
    vid = world.ids["version"]
    tamper(world, f"UPDATE text_record_versions SET created_by = 'someone:else' WHERE id = {vid}")
    code, report = verify(world)
    assert code == 3
    (detail,) = named(report, "row_changed")
    assert detail.startswith(f"text_record_versions {vid}: created_by changed")


def test_a_party_renamed_with_another_id_number_is_named_without_showing_either(world):
    pid = world.ids["party"]
    tamper(world, f"UPDATE case_parties SET name = '赵六', id_number = '110101198001019999' WHERE id = {pid}")
    code, report = verify(world)
    assert code == 3
    (detail,) = named(report, "row_changed")
    assert detail.startswith(f"case_parties {pid}: name, id_number changed")
    assert "110101" not in json.dumps(report)


def test_a_party_id_number_is_not_readable_or_guessable_from_the_log(world):
    settings = config.load(world.cfg, environ={})
    archive = open_archive(settings)
    try:
        with archive.sessions() as db:
            text = "\n".join(db.scalars(select(CustodyEvent.detail)))
    finally:
        archive.close()
    assert "110101199001011234" not in text and "13800000000" not in text
    assert f'"case_parties:{world.ids["party"]}"' in text


def test_a_case_retitled_is_named(world):
    cid = world.ids["case"]
    tamper(world, f"UPDATE cases SET title = '另一个案' WHERE id = {cid}")
    code, report = verify(world)
    assert code == 3
    (detail,) = named(report, "row_changed")
    assert detail.startswith(f"cases {cid}: title changed")


def test_approved_annual_figures_changed_below_the_application_are_named(world):
    tamper(world, "UPDATE publication_figures SET snapshot = replace(snapshot, '\"decisions\":0', '\"decisions\":9')")
    code, report = verify(world)
    assert code == 3
    (detail,) = named(report, "row_changed")
    assert re.match(r"publication_figures [0-9]+: snapshot changed since its last custody event", detail)


def test_a_recorder_reassigned_and_an_officer_moved_below_the_application_are_named(world):
    tamper(world, f"UPDATE recorders SET officer_no = '{A}' WHERE device_id = 'DSJ-C003'",
           "UPDATE officers SET unit_id = 999 WHERE officer_no = '000456'")
    code, report = verify(world)
    assert code == 3
    changed = named(report, "row_changed")
    assert any(d.startswith("recorders DSJ-C003: officer_no changed") for d in changed), changed
    assert any(d.startswith("officers ") and ": unit_id changed" in d for d in changed), changed


def test_a_row_added_without_its_event_is_named(world):
    tamper(world, "INSERT INTO case_links (id, step_id, evidence_id, linked_at, linked_by) VALUES "
                  f"(900, {world.ids['step']}, {world.ids['b1']}, '2026-11-23T01:00:00.000000+00:00', 'x')")
    code, report = verify(world)
    assert code == 3
    assert named(report, "row_unbound") == [named(report, "row_unbound")[0]]
    assert named(report, "row_unbound")[0].startswith("case_links 900: added without its custody event")


def test_cases_check_names_linked_evidence_deleted_below_the_application_instead_of_crashing(world):
    eid, cid = world.ids["a1"], world.ids["case"]
    tamper(world, f"DELETE FROM search_terms WHERE evidence_id = {eid}",
           f"DELETE FROM jobs WHERE evidence_id = {eid}",
           f"DELETE FROM derived_files WHERE evidence_id = {eid}",
           f"DELETE FROM sightings WHERE evidence_id = {eid}",
           f"DELETE FROM evidence WHERE id = {eid}")
    res = liuhen(world, "cases", "check", str(cid), "--json")
    assert "Traceback" not in res.stderr and "AssertionError" not in res.stderr, res.stderr
    assert res.returncode == 3, res.stdout + res.stderr
    report = json.loads(res.stdout)
    (step,) = report["steps"]
    assert step["flagged"] and step["missing"] == [eid]
    assert f"{eid}" in step["reason"] and "deleted" in step["reason"]
    code, verified = verify(world)
    assert code == 3 and any(d.startswith(f"evidence {eid}: deleted") for d in named(verified, "row_deleted"))


# ---------------------------------------------------------------------------- an archive from before


def test_rows_from_before_binding_are_named_until_a_stated_baseline_binds_them(world):
    """Rows no event vouches for (as in an archive written before bound rows) are named by verify;
    ``verify --baseline`` binds them in ``bound`` events that say so, and after that a change to
    them is named like any other."""
    tamper(world, f"INSERT INTO officers (id, officer_no, name, unit_id, active, created_at) VALUES "
                  f"(77, '000777', '旧档', (SELECT unit_id FROM officers WHERE officer_no = '{A}'), "
                  f"{'1' if world.backend == 'sqlite' else 'true'}, '2025-01-01T00:00:00.000000+00:00')")
    code, report = verify(world)
    assert code == 3
    (detail,) = named(report, "row_unbound")
    assert detail.startswith("officers 77: added without its custody event") and "--baseline" in detail

    res = liuhen(world, "verify", "--baseline", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    out = json.loads(res.stdout)
    assert out["ok"] and out["rows_baselined"] == 1
    settings = config.load(world.cfg, environ={})
    archive = open_archive(settings)
    try:
        with archive.sessions() as db:
            (ev,) = db.scalars(select(CustodyEvent).where(CustodyEvent.action == "bound")).all()
    finally:
        archive.close()
    detail_json = json.loads(ev.detail)
    assert detail_json["baseline"] is True and "not proven" in detail_json["note"]
    assert list(detail_json["bound"]) == ["officers:77"]

    tamper(world, "UPDATE officers SET name = '改过' WHERE id = 77")
    code, report = verify(world)
    assert code == 3 and named(report, "row_changed")[0].startswith("officers 77: name changed")
