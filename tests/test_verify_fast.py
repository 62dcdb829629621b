"""The log check's fast path (canonical JSON written out, times formatted by the database) hashes
exactly what ``hashing.custody.event_hash`` and ``leaf_bytes`` hash, awkward text included; a stored
time in another but equivalent form reads as before, and one that is no time names the event."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from hashing import merkle
from hashing.binding import _time
from hashing.custody import verify_log
from hashing.models import CustodyEvent
from tests.test_custody import _raw_sql

AWKWARD = ['quote " and \\ backslash', "line\nbreak\ttab\x01control", "中文 当事人 张三", "\u2028\u2029 sep",
           "emoji \U0001f600", "", "</script>&<'"]


def _fill(archive) -> None:
    with archive.sessions.begin() as db:
        for i, s in enumerate(AWKWARD):
            archive.custody.record(db, actor=f"user:{s}", action="viewed", tool=s or "t", tool_version=s,
                                   evidence_id=None if i % 2 else i, object_sha256=None if i % 3 else f"{i:064x}",
                                   outcome="success", detail={"text": s, "n": i, "nested": {"k": [s, None, 1.5]}})
        archive.custody.checkpoint(db)


def _problems(archive) -> list[tuple[str, int | None]]:
    with archive.sessions() as db:
        rep = verify_log(db, archive.key.public_pem, archive.custody.anchors)
    return [(p.kind, p.seq) for p in rep.problems]


def test_awkward_text_verifies_and_every_proof_checks(archive):
    _fill(archive)
    assert _problems(archive) == []
    with archive.sessions() as db:
        n = db.scalar(select(CustodyEvent.seq).order_by(CustodyEvent.seq.desc()).limit(1))
        for seq in range(1, n + 1):
            p = archive.custody.prove(db, seq)
            merkle.verify_inclusion(p["leaf_index"], p["tree_size"], bytes.fromhex(p["leaf_hash"]),
                                    [bytes.fromhex(h) for h in p["proof"]], bytes.fromhex(p["root_hash"]))
            assert merkle.leaf_hash(p["leaf"].encode()) == bytes.fromhex(p["leaf_hash"])


def test_an_altered_detail_is_named_by_the_fast_path(archive):
    _fill(archive)
    _raw_sql(archive, "UPDATE custody_events SET detail = '{\"text\":\"x\"}' WHERE seq = :seq", seq=3)
    assert ("altered_event", 3) in _problems(archive)


def test_a_stored_time_in_another_equivalent_form_reads_as_the_datetime_path_reads_it(archive):
    if not archive.settings.archive.database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL stores a timestamp, not text")
    _fill(archive)
    with archive.sessions() as db:
        at = db.scalar(select(CustodyEvent.at).where(CustodyEvent.seq == 2))
    same = at.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat(sep=" ")
    _raw_sql(archive, f"UPDATE custody_events SET at = '{same}' WHERE seq = :seq", seq=2)
    assert _problems(archive) == []  # the same instant: the chain still holds, as it did through datetimes
    _raw_sql(archive, "UPDATE custody_events SET at = 'not a time' WHERE seq = :seq", seq=4)
    assert ("altered_event", 4) in _problems(archive)  # named, not a crash


def test_a_binding_reads_a_time_as_stored_text_as_it_reads_the_datetime():
    t = dt.datetime(2026, 11, 23, 1, 2, 3, 4, tzinfo=dt.UTC)
    assert _time("2026-11-23T01:02:03.000004+00:00") == _time(t) == "2026-11-23T01:02:03.000004+00:00"
    assert _time("2026-11-23 09:02:03.000004+08:00") == _time(t)
    assert _time("2026-11-23T01:02:03.000004") == _time(t)  # naive text is UTC, as the column type reads it
    assert _time("garbage") == "garbage"  # no time: kept, so that the row reads as changed
