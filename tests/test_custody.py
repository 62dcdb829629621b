"""The custody log and ``verify``: every action is an event; tampering anywhere is named."""

from __future__ import annotations

import base64
import os
import uuid

import pytest
from sqlalchemy import create_engine, func, select, text

from archive.intake import LocalIntake
from archive.models import Evidence
from hashing import keys
from hashing.models import CustodyCheckpoint, CustodyEvent
from ingest.station import Station
from integrity.service import verify_all
from tests.docks import BAY3_BINDING, build_multi_bay_dock


@pytest.fixture
def settings(make_settings):
    return make_settings(BAY3_BINDING)


@pytest.fixture
def filled(settings, archive, make_clip):
    build_multi_bay_dock(settings.station.dock_root, make_clip)
    station = Station(settings.station, LocalIntake(archive))
    try:
        station.offload_once(settings.station.dock_root)
    finally:
        station.close()
    return archive


def _raw_sql(archive, sql: str, **params) -> None:
    """Tamper as someone with direct database access would: around the append-only triggers."""
    url = archive.settings.archive.database_url
    if url.startswith("sqlite"):
        import sqlite3

        con = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
        for t in ("custody_events_no_update", "custody_events_no_delete"):
            con.execute(f"DROP TRIGGER IF EXISTS {t}")
        con.execute(sql.replace(":seq", str(params.get("seq", 0))))
        con.close()
    else:
        eng = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with eng.begin() as c:
            c.execute(text("ALTER TABLE custody_events DISABLE TRIGGER USER"))
            c.execute(text(sql), params)
            c.execute(text("ALTER TABLE custody_events ENABLE TRIGGER USER"))
        eng.dispose()


def test_every_archived_file_has_offloaded_received_stored_events_in_order(filled):
    with filled.sessions() as db:
        evidence = db.execute(select(Evidence)).scalars().all()
        assert len(evidence) == 8  # build_multi_bay_dock: nine files, one of them docked twice
        for ev in evidence:
            actions = [e.action for e in db.execute(
                select(CustodyEvent).where(CustodyEvent.evidence_id == ev.id).order_by(CustodyEvent.seq)).scalars()]
            assert actions[:3] == ["offloaded", "received", "stored"]
            events = db.execute(select(CustodyEvent).where(CustodyEvent.evidence_id == ev.id)).scalars().all()
            for e in events:
                assert e.actor and e.tool and e.tool_version and e.at.tzinfo is not None


def test_clean_archive_verifies_and_verify_is_itself_recorded(filled):
    report = verify_all(filled)
    assert report.ok, report.to_dict()
    with filled.sessions() as db:
        n = db.scalar(select(func.count()).select_from(Evidence))
        assert report.originals == n
        verified = db.scalar(select(func.count()).select_from(CustodyEvent).where(CustodyEvent.action == "verified"))
        assert verified == n


def test_one_flipped_bit_in_a_stored_original_is_named(filled):
    with filled.sessions() as db:
        ev = db.execute(select(Evidence).order_by(Evidence.id)).scalars().first()
    path = filled.store.path_of(ev.store_key)
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.seek(ev.size // 2)
        b = f.read(1)
        f.seek(ev.size // 2)
        f.write(bytes([b[0] ^ 0x01]))
    report = verify_all(filled)
    assert not report.ok
    (fail,) = report.failures
    assert fail.kind == "original_altered" and fail.evidence_id == ev.id
    assert ev.sha256 in fail.detail and "restore" in fail.action


def test_an_edited_custody_row_is_named(filled):
    _raw_sql(filled, "UPDATE custody_events SET actor = 'user:mallory' WHERE seq = :seq", seq=5)
    report = verify_all(filled)
    kinds = {(f.kind, f.seq) for f in report.failures}
    assert ("custody_altered_event", 5) in kinds


def test_a_deleted_custody_row_is_named(filled):
    _raw_sql(filled, "DELETE FROM custody_events WHERE seq = :seq", seq=7)
    report = verify_all(filled)
    kinds = {f.kind for f in report.failures}
    assert "custody_missing_events" in kinds or "custody_broken_link" in kinds


def test_custody_rows_refuse_update_and_delete(filled):
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError, match="append-only"):
        with filled.engine.begin() as c:
            c.execute(text("UPDATE custody_events SET outcome = 'x' WHERE seq = 1"))
    with pytest.raises(DBAPIError, match="append-only"):
        with filled.engine.begin() as c:
            c.execute(text("DELETE FROM custody_events WHERE seq = 1"))


def test_checkpoints_are_signed_by_the_archive_key_every_n_events(filled):
    with filled.sessions() as db:
        n_events = db.scalar(select(func.count()).select_from(CustodyEvent))
        cps = db.execute(select(CustodyCheckpoint).order_by(CustodyCheckpoint.seq)).scalars().all()
    assert n_events >= 8 * 3  # eight evidence, each offloaded, received, stored
    assert len(cps) >= n_events // 10  # config: checkpoint_every_events = 10
    gaps = [b.seq - a.seq for a, b in zip(cps, cps[1:])]
    assert all(g <= 10 for g in gaps)
    for cp in cps:
        keys.verify(filled.key.public_pem, cp.statement.encode(), base64.b64decode(cp.signature))


def test_a_checkpoint_signed_by_another_key_is_named(filled, tmp_path):
    other = keys.load_or_create(tmp_path / "mallory.key")
    with filled.sessions() as db:
        cp = db.execute(select(CustodyCheckpoint).order_by(CustodyCheckpoint.seq)).scalars().first()
        forged = cp.statement.replace(filled.key.key_id, other.key_id)
        sig = base64.b64encode(other.sign(forged.encode())).decode()
    url = filled.settings.archive.database_url
    sql = ("UPDATE custody_checkpoints SET statement = :st, signature = :sig, key_id = :kid, "
           "public_key_pem = :pem WHERE seq = :seq")
    params = {"st": forged, "sig": sig, "kid": other.key_id, "pem": other.public_pem, "seq": cp.seq}
    if url.startswith("sqlite"):
        import sqlite3

        con = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
        con.execute("DROP TRIGGER custody_checkpoints_no_update")
        con.execute(sql, params)
        con.close()
    else:
        eng = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with eng.begin() as c:
            c.execute(text("ALTER TABLE custody_checkpoints DISABLE TRIGGER USER"))
            c.execute(text(sql), params)
        eng.dispose()
    report = verify_all(filled)
    assert ("custody_untrusted_checkpoint_key", cp.seq) in {(f.kind, f.seq) for f in report.failures}


@pytest.mark.postgres
def test_the_app_role_needs_no_update_or_delete_on_the_custody_log(pg_url, tmp_path, make_clip):
    """Run a whole offload as a PostgreSQL role that may only SELECT and INSERT custody rows."""
    import dataclasses

    from app.runtime import open_archive
    from liuhen import config
    from tests.conftest import write_config

    owner = config.load(write_config(tmp_path / "owner", pg_url), environ={})
    open_archive(owner).close()  # migrate as the owner
    role = f"liuhen_app_{uuid.uuid4().hex[:8]}"
    eng = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"))
    with eng.begin() as c:
        c.execute(text(f"CREATE ROLE {role} LOGIN"))
        c.execute(text(f"GRANT SELECT, INSERT ON custody_events, custody_checkpoints, custody_tree, custody_anchorings TO {role}"))
        c.execute(text(f"GRANT SELECT, INSERT, UPDATE ON evidence, sightings, stations, custody_head, "
                       f"jobs, derived_files, alembic_version, recorders, fixity_state TO {role}"))
        c.execute(text(f"GRANT SELECT, INSERT, DELETE ON search_terms TO {role}"))  # the term index is rebuilt
        # reading is not what this test is about: the role reads every table (verify reads them all)
        c.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"))
        # an offload computes each new recording's retention and lets an officer hold take it
        c.execute(text(f"GRANT SELECT, INSERT, UPDATE ON evidence_retention TO {role}"))
        c.execute(text(f"GRANT SELECT, INSERT ON retention_changes, hold_items TO {role}"))
        c.execute(text(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}"))
    app_url = pg_url.replace("postgres@", f"{role}@")
    s = config.load(write_config(tmp_path / "app", app_url), environ={})
    s = dataclasses.replace(s, archive=dataclasses.replace(s.archive, key_path=owner.archive.key_path))
    a = open_archive(s)
    try:
        build_multi_bay_dock(s.station.dock_root, make_clip)
        station = Station(s.station, LocalIntake(a))
        try:
            results = station.offload_once(s.station.dock_root)
        finally:
            station.close()
        assert {r.status for r in results} <= {"archived", "duplicate"}
        assert verify_all(a).ok
        from sqlalchemy.exc import ProgrammingError

        with pytest.raises(ProgrammingError, match="permission denied"):
            with a.engine.begin() as c:
                c.execute(text("DELETE FROM custody_events WHERE seq = 1"))
    finally:
        a.close()
        with eng.begin() as c:
            c.execute(text(f"REASSIGN OWNED BY {role} TO postgres"))
            c.execute(text(f"DROP OWNED BY {role}"))
            c.execute(text(f"DROP ROLE {role}"))
        eng.dispose()
