"""The state bound to the log: every meaningful row against the hash its last custody event carries.

Each bound table (``BINDINGS``: roster, archive, cases, retention, redaction; see ``hashing.binding``) is read as plain
columns in batches and hashed; the hashes are compared with the latest ``bound`` entry of the
custody log for that row. A row whose hash differs was changed since its last event (the columns
are named from the event's per-column prints); a row an event vouches for that is gone was
deleted; a row no event vouches for was added without one. Derived files are re-hashed from the
store. Nothing here raises on damage: every finding is a ``Failure`` in the report.

Archives written before rows were bound have no hashes in their events: ``baseline`` records, for
each row with no binding at all, a ``bound`` event stating it is a baseline (its content before
that event is not proven). It is run on demand (``liuhen verify --baseline``), never by itself, so
a row added below the application is named until someone chooses, on the record, to accept it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import liuhen
from archive.bindings import BINDINGS as ARCHIVE_BINDINGS
from archive.context import Archive
from archive.errors import StoreError
from archive.fixity import Gone
from archive.models import DerivedFile
from archive.verify import Failure, Report
from cases.bindings import BINDINGS as CASE_BINDINGS
from hashing.binding import DETAIL_KEY, Binding, personal_secret
from hashing.digest import Digest, hash_stream
from hashing.models import CustodyEvent
from publication.bindings import BINDINGS as PUBLICATION_BINDINGS
from redaction.bindings import BINDINGS as REDACTION_BINDINGS
from redaction.record_models import BINDINGS as TEXT_REDACTION_BINDINGS
from retention.bindings import BINDINGS as RETENTION_BINDINGS
from roster.bindings import BINDINGS as ROSTER_BINDINGS

BINDINGS: tuple[Binding, ...] = (*ROSTER_BINDINGS, *ARCHIVE_BINDINGS, *CASE_BINDINGS, *RETENTION_BINDINGS,
                                 *PUBLICATION_BINDINGS, *TEXT_REDACTION_BINDINGS,
                                 *REDACTION_BINDINGS)
TOOL = "liuhen-verify rows"
BATCH = 20000
ROW_BATCH = 20000
BASELINE_BATCH = 500
RESTORE = ("The row was changed below the application (not by liuhen, which records every change): restore "
           "the database from backup and investigate who had write access.")


_DECODER = json.JSONDecoder()


def expected_hashes(db: Session) -> dict[str, dict[str, tuple[str | None, int]]]:
    """The latest bound hash of every row the log vouches for, by table: ``{table: {key: (sha256 or
    None, seq)}}``. Only events whose detail holds a ``bound`` object are read, and only that object
    is decoded (details are canonical JSON: no spaces, so the marker is exact)."""
    out: dict[str, dict[str, tuple[str | None, int]]] = {}
    marker = f'"{DETAIL_KEY}":{{'
    last = 0
    while True:
        rows = db.execute(select(CustodyEvent.seq, CustodyEvent.detail)
                          .where(CustodyEvent.seq > last, CustodyEvent.detail.like(f"%{marker}%"))
                          .order_by(CustodyEvent.seq).limit(BATCH)).all()
        if not rows:
            return out
        for seq, detail in rows:
            at = detail.find(marker)
            try:
                entries = _DECODER.raw_decode(detail, at + len(marker) - 1)[0]
            except ValueError:
                continue  # an altered event: the chain check names it
            if not isinstance(entries, dict):
                continue
            for ref, value in entries.items():
                table, _, key = ref.partition(":")
                out.setdefault(table, {})[key] = (value[0] if isinstance(value, list) and value else None, seq)
        last = rows[-1][0]


def _rows(db: Session, b: Binding) -> Iterator[tuple[Any, list[Any]]]:
    """Every row of ``b`` as (key, bound values): plain columns through the session's connection (no
    ORM objects), in key order, in batches."""
    key_col = getattr(b.model, b.key)
    conn = db.connection()
    cols = b.select_columns(raw_times=conn.dialect.name == "sqlite")
    last: Any = None
    while True:
        q = select(*cols).order_by(key_col).limit(ROW_BATCH)
        if last is not None:
            q = q.where(key_col > last)
        rows = conn.execute(q).all()
        if not rows:
            return
        for r in rows:
            yield r[0], list(r[1:])
        last = rows[-1][0]


def _prints_at(db: Session, seq: int, ref: str) -> str:
    detail = db.scalar(select(CustodyEvent.detail).where(CustodyEvent.seq == seq))
    try:
        value = json.loads(detail or "{}").get(DETAIL_KEY, {}).get(ref)
        return str(value[1]) if isinstance(value, list) and len(value) > 1 else ""
    except (ValueError, AttributeError):
        return ""


def _failure(b: Binding, key: Any, kind: str, detail: str) -> Failure:
    return Failure(kind, detail, RESTORE, evidence_id=int(key) if b.name == "evidence" else None)


def check_rows(archive: Archive, report: Report) -> int:
    """Compare every bound row with its last custody event; failures go into ``report``. Returns the
    number of rows checked."""
    secret = personal_secret(archive.key)
    checked = 0
    with archive.sessions() as db:
        expected = expected_hashes(db)
        for b in BINDINGS:
            mine = expected.get(b.name, {})
            seen: set[str] = set()
            for key, values in _rows(db, b):
                checked += 1
                skey = str(key)
                seen.add(skey)
                want = mine.get(skey)
                if want is None:
                    if b.blank_ok and all(v is None for v in values):
                        continue
                    report.failures.append(_failure(b, key, "row_unbound", (
                        f"{b.name} {key}: added without its custody event (no event vouches for this row; if the "
                        "archive predates bound rows, run `liuhen verify --baseline` once).")))
                    continue
                digest, seq = want
                if digest is None:
                    report.failures.append(_failure(b, key, "row_unbound", (
                        f"{b.name} {key}: present although custody event {seq} recorded its removal.")))
                    continue
                if b.digest(key, values, secret) != digest:
                    cols = b.changed_columns(values, _prints_at(db, seq, b.ref(key)), secret)
                    what = ", ".join(cols) if cols else "its content"
                    report.failures.append(_failure(b, key, "row_changed", (
                        f"{b.name} {key}: {what} changed since its last custody event ({seq}).")))
            for skey in sorted(set(mine) - seen):
                digest, seq = mine[skey]
                if digest is None:
                    continue  # removed, and the log says so
                report.failures.append(_failure(b, skey, "row_deleted", (
                    f"{b.name} {skey}: deleted, but custody event {seq} says it exists.")))
    return checked


def check_derived(archive: Archive, report: Report, *, gone: Gone | None = None) -> int:
    """Re-hash every derived file (proxy, poster, sprite, ...) from the store; returns how many. The
    derived files of ``gone`` evidence (destroyed: expected absent, ``retention.verify`` checks that)
    are not read."""
    q = select(DerivedFile.id, DerivedFile.evidence_id, DerivedFile.kind, DerivedFile.sha256,
               DerivedFile.size, DerivedFile.store_key, DerivedFile.store_version).order_by(DerivedFile.id)
    if gone is not None:
        q = q.where(DerivedFile.evidence_id.not_in(gone))
    with archive.sessions() as db:
        rows = db.execute(q).all()
    for did, eid, kind, sha, size, key, version in rows:
        try:
            with archive.store.open(key, version) as f:
                got, n = hash_stream(f)
        except StoreError as e:
            report.failures.append(Failure("derived_missing", f"derived_files {did} ({kind} of evidence {eid}): "
                                           f"{e.detail}", "Re-run the media jobs for the evidence to make it again.",
                                           evidence_id=eid, sha256=sha))
            continue
        if got != Digest(sha) or n != size:
            report.failures.append(Failure(
                "derived_altered", f"derived_files {did} ({kind} of evidence {eid}): the stored file {key} now hashes "
                f"to {got.hex} ({n} bytes), not {sha} ({size} bytes).",
                "The derived file was overwritten: keep it for investigation, then make it again from the original "
                "(re-run the media jobs).", evidence_id=eid, sha256=sha))
    return len(rows)


def record_result(archive: Archive, report: Report, *, actor: str, rows: int, derived: int) -> None:
    """The row check as an act: one custody event with its outcome and what it named."""
    named = [f.detail.split(":", 1)[0] for f in report.failures
             if f.kind.startswith(("row_", "derived_", "disposed_", "destruction_", "destroyed_", "retention_"))]
    with archive.sessions.begin() as db:
        archive.custody.record(db, actor=actor, action="rows_verified", outcome="failure" if named else "success",
                               tool=TOOL, tool_version=liuhen.__version__,
                               detail={"rows": rows, "derived_files": derived, "named": named[:1000]})


def baseline(archive: Archive, *, actor: str) -> int:
    """Bind every row that no custody event vouches for (rows written before binding), in ``bound``
    events that say so; returns how many rows were bound. Rows whose binding differs are not touched."""
    secret = personal_secret(archive.key)
    n = 0
    with archive.sessions() as db:
        expected = expected_hashes(db)
        pending: list[tuple[str, list[str]]] = []
        for b in BINDINGS:
            for key, values in _rows(db, b):
                if str(key) in expected.get(b.name, {}) or (b.blank_ok and all(v is None for v in values)):
                    continue
                pending.append((b.ref(key), [b.digest(key, values, secret), b.prints(values, secret)]))
    for i in range(0, len(pending), BASELINE_BATCH):
        chunk = dict(pending[i:i + BASELINE_BATCH])
        with archive.sessions.begin() as db:
            archive.custody.record(db, actor=actor, action="bound", tool=TOOL, tool_version=liuhen.__version__,
                                   detail={"baseline": True, DETAIL_KEY: chunk,
                                           "note": "rows found with no binding event (written before liuhen bound "
                                                   "rows to the log); bound as they are now: their content before "
                                                   "this event is not proven"})
        n += len(chunk)
    return n
