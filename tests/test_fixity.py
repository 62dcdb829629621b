"""The continuous fixity audit: every stored object (originals and derived files) re-hashed within
the period, each result a custody event, a damaged object alerted, a killed audit resumed without
checking anything twice; on SQLite and PostgreSQL, the local store and a real S3 server process."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from archive import fixity
from archive.bindings import DERIVED
from archive.intake import LocalIntake
from archive.models import DerivedFile, Evidence, FixityState
from archive.store import LocalStore
from hashing.binding import bound
from hashing.digest import Digest
from hashing.models import CustodyEvent
from ingest.station import Station
from integrity.service import verify_all
from liuhen import config
from tests.conftest import write_config
from tests.docks import BAY3_BINDING, build_multi_bay_dock
from tests.s3fixture import ACCESS_KEY, SECRET_KEY, S3Server, s3_server  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def settings(make_settings):
    return make_settings(BAY3_BINDING)


def _offload(settings, archive) -> None:
    station = Station(settings.station, LocalIntake(archive))
    try:
        station.offload_once(settings.station.dock_root)
    finally:
        station.close()


def _add_derived(archive, tmp: Path, evidence_id: int, kind: str, data: bytes) -> DerivedFile:
    """A derived file stored as the media jobs store one (namespace ``derived``), with its row."""
    src = tmp / f"{kind}.bin"
    src.write_bytes(data)
    digest = Digest(hashlib.sha256(data).hexdigest())
    obj = archive.store.put_file(src, digest, len(data), namespace="derived")
    with archive.sessions.begin() as db:
        ev = db.get(Evidence, evidence_id)
        d = DerivedFile(evidence_id=evidence_id, source_sha256=ev.sha256, kind=kind, sha256=digest.hex,
                        size=len(data), mime="application/octet-stream", store_key=obj.key,
                        store_version=obj.version, tool="test", tool_version="1", command="[]", detail="{}")
        db.add(d)
        db.flush()
        # as the media jobs do: the row's content hash in its custody event (liuhen verify checks it)
        archive.custody.record(db, actor="test", action="derived", evidence_id=evidence_id, object_sha256=ev.sha256,
                               tool="test", tool_version="1", detail={"kind": kind, "bound": bound((DERIVED, d))})
    return d


@pytest.fixture
def stocked(settings, archive, make_clip, tmp_path):
    """Eight originals from a real dock and two derived files each."""
    build_multi_bay_dock(settings.station.dock_root, make_clip)
    _offload(settings, archive)
    with archive.sessions() as db:
        ids = list(db.execute(select(Evidence.id).order_by(Evidence.id)).scalars())
    for eid in ids:
        for kind in ("poster", "vtt"):
            _add_derived(archive, tmp_path, eid, kind, os.urandom(20_000) + f"{eid}{kind}".encode())
    return archive


def _flip(path: Path, at: int) -> None:
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ 0x01]))


def _audit_events(archive) -> list[CustodyEvent]:
    with archive.sessions() as db:
        return [e for e in db.execute(select(CustodyEvent).where(CustodyEvent.action == "verified")
                                      .order_by(CustodyEvent.seq)).scalars()
                if json.loads(e.detail).get("audit") == "continuous"]


def test_every_original_and_derived_file_is_rehashed_once_per_period_each_a_custody_event(stocked, settings):
    f = settings.fixity
    r = fixity.run(stocked, settings=f)
    with stocked.sessions() as db:
        originals = db.scalar(select(func.count()).select_from(Evidence))
        derived = db.scalar(select(func.count()).select_from(DerivedFile))
    assert r.checked == originals + derived == 24 and r.failed == 0
    events = _audit_events(stocked)
    assert len(events) == 24 and {e.outcome for e in events} == {"success"}
    kinds = [json.loads(e.detail)["object"] for e in events]
    assert kinds.count("original") == 8 and kinds.count("derived") == 16
    assert all(e.tool == "hashlib.sha256" and e.tool_version for e in events)

    again = fixity.run(stocked, settings=f)  # nothing is due again within the period
    assert again.checked == 0 and len(_audit_events(stocked)) == 24
    st = fixity.status(stocked, settings=f)
    assert (st.objects, st.checked_in_period, st.due, st.never_checked, st.ok) == (24, 24, 0, 0, True)

    everything = fixity.run(stocked, settings=f, everything=True)  # --all: every object, due or not
    assert everything.checked == 24 and len(_audit_events(stocked)) == 48


def test_an_object_older_than_the_period_is_due_again(stocked, settings):
    fixity.run(stocked, settings=settings.fixity)
    with stocked.sessions.begin() as db:
        key = db.execute(select(FixityState.store_key).order_by(FixityState.store_key)).scalars().first()
        st = db.get(FixityState, key)
        st.last_checked_at = st.last_checked_at - __import__("datetime").timedelta(days=31)
    assert fixity.status(stocked, settings=settings.fixity).due == 1
    r = fixity.run(stocked, settings=settings.fixity)
    assert r.checked == 1


def test_a_flipped_byte_in_an_original_and_in_a_derived_file_is_found_and_alerted(stocked, settings, caplog,
                                                                                 tmp_path):
    with stocked.sessions() as db:
        ev = db.execute(select(Evidence).order_by(Evidence.id)).scalars().first()
        proxy = db.execute(select(DerivedFile).where(DerivedFile.kind == "poster")
                           .order_by(DerivedFile.id.desc())).scalars().first()
    _flip(stocked.store.path_of(ev.store_key), ev.size // 2)
    _flip(stocked.store.path_of(proxy.store_key), 7)

    with caplog.at_level(logging.ERROR, logger="liuhen.fixity"):
        r = fixity.run(stocked, settings=settings.fixity)
    assert r.checked == 24 and r.failed == 2
    assert {f["key"] for f in r.failures} == {ev.store_key, proxy.store_key}
    # the alert: a failure event in the custody log for each ...
    failed = [e for e in _audit_events(stocked) if e.outcome == "failure"]
    assert {(e.evidence_id, e.object_sha256) for e in failed} == {(ev.id, ev.sha256),
                                                                   (proxy.evidence_id, proxy.sha256)}
    assert all("now hashes to" in json.loads(e.detail)["problem"] for e in failed)
    # ... a log line at ERROR for each ...
    errors = [rec for rec in caplog.records if rec.levelno == logging.ERROR and rec.name == "liuhen.fixity"]
    assert len(errors) == 2 and any(proxy.store_key in rec.getMessage() for rec in errors)
    # ... and a state that `liuhen fixity status` shows (exit 3) until the object is whole again
    st = fixity.status(stocked, settings=settings.fixity)
    assert not st.ok and {f["key"] for f in st.failing} == {ev.store_key, proxy.store_key}
    cfg = settings.config_path
    out = subprocess.run([sys.executable, "-m", "app.cli", "--config", str(cfg), "fixity", "status", "--json"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 3, out.stderr
    assert {f["key"] for f in json.loads(out.stdout)["failing"]} == {ev.store_key, proxy.store_key}

    _flip(stocked.store.path_of(ev.store_key), ev.size // 2)  # restored from backup
    _flip(stocked.store.path_of(proxy.store_key), 7)
    out = subprocess.run([sys.executable, "-m", "app.cli", "--config", str(cfg), "fixity", "run", "--all", "--json"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0 and json.loads(out.stdout)["checked"] == 24, out.stdout + out.stderr
    assert fixity.status(stocked, settings=settings.fixity).ok


def test_an_unreadable_object_is_a_failure_and_the_audit_goes_on(stocked, settings):
    with stocked.sessions() as db:
        d = db.execute(select(DerivedFile).order_by(DerivedFile.id)).scalars().first()
    path = stocked.store.path_of(d.store_key)
    os.chmod(path, 0o644)
    path.unlink()
    path.mkdir()  # reading it fails with an OSError (IsADirectoryError), as a bad sector would
    r = fixity.run(stocked, settings=settings.fixity)
    assert r.checked == 24 and r.failed == 1
    (f,) = r.failures
    assert f["key"] == d.store_key and "cannot be read" in f["detail"]
    assert [x["key"] for x in fixity.status(stocked, settings=settings.fixity).failing] == [d.store_key]


def test_liuhen_verify_hashes_in_parallel_and_names_the_damaged_original(stocked, settings):
    with stocked.sessions() as db:
        ev = db.execute(select(Evidence).order_by(Evidence.id.desc())).scalars().first()
    _flip(stocked.store.path_of(ev.store_key), 3)
    seen: set[str] = set()
    original = fixity.hash_one
    # the first two hashes must run at the same time: each waits for the other (one thread alone would
    # time out here), so the test proves parallel hashing without depending on how fast threads start
    together = threading.Barrier(min(2, fixity.cores()), timeout=30)
    calls = iter(range(10**6))

    def spy(archive, item):
        seen.add(threading.current_thread().name)
        if next(calls) < together.parties:
            together.wait()
        return original(archive, item)

    fixity.hash_one = spy
    try:
        report = verify_all(stocked)
    finally:
        fixity.hash_one = original
    assert report.originals == 8
    assert [(f.kind, f.evidence_id) for f in report.failures] == [("original_altered", ev.id)]
    assert not together.broken, "the first hashes did not run at the same time"
    assert all(name.startswith("fixity") for name in seen) and len(seen) >= together.parties
    # verify's check counts for the audit: the damaged original shows as failing
    st = fixity.status(stocked, settings=settings.fixity)
    assert [f["key"] for f in st.failing] == [ev.store_key]


def test_a_killed_audit_resumes_where_it_stopped_and_checks_each_object_once(settings, archive, make_clip, tmp_path):
    """kill -9 while the audit waits on one object (a FIFO in the store: the read blocks until a
    writer comes); the next run checks the rest, each object once in the period."""
    build_multi_bay_dock(settings.station.dock_root, make_clip)
    _offload(settings, archive)
    with archive.sessions() as db:
        ids = list(db.execute(select(Evidence.id)).scalars())
    for eid in ids:
        _add_derived(archive, tmp_path, eid, "poster", os.urandom(5000))
    cfg = write_config(tmp_path, settings.archive.database_url,
                       BAY3_BINDING + "\n[fixity]\nthreads = 1\nlease_seconds = 2\n")
    keys = sorted(list(_keys(archive)))
    assert len(keys) == 16
    assert isinstance(archive.store, LocalStore)
    stuck = archive.store.path_of(keys[9])  # the 10th object in the audit's order
    real = stuck.read_bytes()
    os.chmod(stuck, 0o644)
    stuck.unlink()
    os.mkfifo(stuck)

    cmd = [sys.executable, "-m", "app.cli", "--config", str(cfg), "fixity", "run", "--json"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while len(_audit_events(archive)) < 9:
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)
        time.sleep(0.5)  # it stays blocked on the FIFO: nothing more is checked
        assert len(_audit_events(archive)) == 9
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    first = {e.object_sha256 for e in _audit_events(archive)}

    stuck.unlink()
    stuck.write_bytes(real)
    time.sleep(2.2)  # the killed audit's claims expire
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["checked"] == 7
    events = _audit_events(archive)
    assert len(events) == 16 and len({e.object_sha256 for e in events}) == 16  # each object once
    assert first <= {e.object_sha256 for e in events}
    st = fixity.status(archive, settings=config.load(cfg, environ={}).fixity)
    assert st.checked_in_period == 16 and st.due == 0 and st.ok


def _keys(archive) -> set[str]:
    with archive.sessions() as db:
        return set(db.execute(select(Evidence.store_key)).scalars()) | set(
            db.execute(select(DerivedFile.store_key)).scalars())


def test_the_scheduler_in_serve_and_worker_audits_everything_then_waits(stocked, settings):
    stop = threading.Event()
    t = fixity.scheduler(stocked, settings=settings.fixity, stop=stop, first_after_s=0.5)
    try:
        deadline = time.monotonic() + 60
        while fixity.status(stocked, settings=settings.fixity).checked_in_period < 24:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        stop.set()
        t.join(timeout=30)
    assert not t.is_alive() and len(_audit_events(stocked)) == 24


@pytest.mark.postgres
def test_audit_on_postgresql_and_s3_finds_an_overwritten_object(pg_url, s3_server: S3Server,  # noqa: F811
                                                                  tmp_path, make_clip):
    from app.runtime import open_archive

    bucket = s3_server.make_bucket()
    cfg = write_config(tmp_path, pg_url, BAY3_BINDING + f"""
[s3]
bucket = "{bucket}"
endpoint_url = "{s3_server.endpoint}"
access_key_id = "{ACCESS_KEY}"
secret_access_key = "{SECRET_KEY}"
""")
    cfg.write_text(cfg.read_text().replace('store = "local"', 'store = "s3"'))
    s = config.load(cfg, environ={})
    a = open_archive(s)
    try:
        build_multi_bay_dock(s.station.dock_root, make_clip)
        _offload(s, a)
        with a.sessions() as db:
            eid = db.scalar(select(func.min(Evidence.id)))
        d = _add_derived(a, tmp_path, eid, "poster", os.urandom(30_000))
        r = fixity.run(a, settings=s.fixity)
        assert r.checked == 9 and r.failed == 0

        client = s3_server.client()
        body = bytearray(client.get_object(Bucket=bucket, Key=d.store_key)["Body"].read())
        body[100] ^= 0xFF
        client.put_object(Bucket=bucket, Key=d.store_key, Body=bytes(body))
        r = fixity.run(a, settings=s.fixity, everything=True)
        assert r.checked == 9 and [f["key"] for f in r.failures] == [d.store_key]
        assert [f["key"] for f in fixity.status(a, settings=s.fixity).failing] == [d.store_key]
    finally:
        a.close()
