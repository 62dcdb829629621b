"""Appending to and verifying the hash-chained custody log.

Each event's hash is SHA-256 over the previous hash and the canonical JSON of the event's
fields, so editing, removing or reordering any row breaks every hash after it. Every
``checkpoint_every_events`` events (or minutes) the archive signs the head with its Ed25519
key; ``verify_chain`` checks the chain, the head and every checkpoint signature.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashing import keys
from hashing.errors import BadSignature
from hashing.models import CustodyCheckpoint, CustodyEvent, CustodyHead
from liuhen.db import utcnow

GENESIS = "0" * 64


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def iso_utc(t: dt.datetime) -> str:
    """The exact text form of a time inside hashed and signed custody records."""
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(prev_hash: str, *, seq: int, at: dt.datetime, actor: str, action: str,
               evidence_id: int | None, object_sha256: str | None, outcome: str, tool: str,
               tool_version: str, detail: str) -> str:
    body = {
        "seq": seq, "at": iso_utc(at), "actor": actor, "action": action, "evidence_id": evidence_id,
        "object_sha256": object_sha256, "outcome": outcome, "tool": tool,
        "tool_version": tool_version, "detail": detail,
    }
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(body)).hexdigest()


@dataclass(frozen=True)
class CustodyLog:
    """Appends events within the caller's transaction; the caller commits."""

    key: keys.SigningKey
    checkpoint_every_events: int = 100
    checkpoint_every_minutes: float = 10.0

    def record(self, db: Session, *, actor: str, action: str, tool: str, tool_version: str,
               evidence_id: int | None = None, object_sha256: str | None = None,
               outcome: str = "success", detail: dict[str, Any] | None = None) -> CustodyEvent:
        head = db.execute(select(CustodyHead).where(CustodyHead.id == 1).with_for_update()).scalar_one()
        seq = head.seq + 1
        at = utcnow()
        detail_text = canonical(detail or {}).decode("utf-8")
        h = event_hash(head.hash, seq=seq, at=at, actor=actor, action=action, evidence_id=evidence_id,
                       object_sha256=object_sha256, outcome=outcome, tool=tool,
                       tool_version=tool_version, detail=detail_text)
        ev = CustodyEvent(seq=seq, at=at, actor=actor, action=action, evidence_id=evidence_id,
                          object_sha256=object_sha256, outcome=outcome, tool=tool,
                          tool_version=tool_version, detail=detail_text, prev_hash=head.hash, hash=h)
        db.add(ev)
        head.seq = seq
        head.hash = h
        due_by_time = head.checkpoint_at is None or (
            at - head.checkpoint_at >= dt.timedelta(minutes=self.checkpoint_every_minutes))
        if seq - head.checkpoint_seq >= self.checkpoint_every_events or due_by_time:
            self._checkpoint(db, head, at)
        db.flush()
        return ev

    def checkpoint(self, db: Session) -> CustodyCheckpoint | None:
        """Sign the current head now (e.g. at the end of an ingest run), if it moved."""
        head = db.execute(select(CustodyHead).where(CustodyHead.id == 1).with_for_update()).scalar_one()
        if head.seq == head.checkpoint_seq:
            return None
        cp = self._checkpoint(db, head, utcnow())
        db.flush()
        return cp

    def _checkpoint(self, db: Session, head: CustodyHead, at: dt.datetime) -> CustodyCheckpoint:
        statement = canonical({"log": "liuhen custody", "seq": head.seq, "head_hash": head.hash,
                               "at": iso_utc(at), "key_id": self.key.key_id}).decode()
        sig = base64.b64encode(self.key.sign(statement.encode())).decode()
        cp = CustodyCheckpoint(seq=head.seq, head_hash=head.hash, at=at, key_id=self.key.key_id,
                               public_key_pem=self.key.public_pem, statement=statement, signature=sig)
        db.add(cp)
        head.checkpoint_seq = head.seq
        head.checkpoint_at = at
        return cp


@dataclass(frozen=True)
class ChainProblem:
    kind: str
    seq: int | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "seq": self.seq, "detail": self.detail}


def _events(db: Session, batch: int = 5000) -> Iterator[CustodyEvent]:
    last = 0
    while True:
        rows = db.execute(select(CustodyEvent).where(CustodyEvent.seq > last)
                          .order_by(CustodyEvent.seq).limit(batch)).scalars().all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        db.expunge_all()


def verify_chain(db: Session, trusted_public_pem: str) -> tuple[int, list[ChainProblem]]:
    """Check every event's hash and link, the head, and every checkpoint. Returns (events, problems)."""
    problems: list[ChainProblem] = []
    hashes: dict[int, str] = {}
    cps = {cp.seq: cp for cp in db.execute(select(CustodyCheckpoint)).scalars()}
    prev = GENESIS
    expected_seq = 1
    n = 0
    for ev in _events(db):
        n += 1
        if ev.seq != expected_seq:
            problems.append(ChainProblem("missing_events", expected_seq,
                                         f"custody events {expected_seq}..{ev.seq - 1} are missing"))
        if ev.prev_hash != prev:
            problems.append(ChainProblem("broken_link", ev.seq,
                                         f"event {ev.seq} does not link to the event before it"))
        h = event_hash(ev.prev_hash, seq=ev.seq, at=ev.at, actor=ev.actor, action=ev.action,
                       evidence_id=ev.evidence_id, object_sha256=ev.object_sha256, outcome=ev.outcome,
                       tool=ev.tool, tool_version=ev.tool_version, detail=ev.detail)
        if h != ev.hash:
            problems.append(ChainProblem("altered_event", ev.seq,
                                         f"event {ev.seq} ({ev.action}) was altered after it was written"))
        if ev.seq in cps:
            hashes[ev.seq] = ev.hash
        prev = ev.hash
        expected_seq = ev.seq + 1
    head = db.execute(select(CustodyHead).where(CustodyHead.id == 1)).scalar_one()
    if head.seq != expected_seq - 1 or head.hash != prev:
        problems.append(ChainProblem("head_mismatch", head.seq,
                                     f"the log's head says event {head.seq} but the events end at {expected_seq - 1}"))
    trusted_id = keys.key_id_of(trusted_public_pem)
    for seq, cp in sorted(cps.items()):
        try:
            keys.verify(trusted_public_pem if cp.key_id == trusted_id else cp.public_key_pem,
                        cp.statement.encode(), base64.b64decode(cp.signature))
        except BadSignature:
            problems.append(ChainProblem("bad_checkpoint_signature", seq,
                                         f"the signed checkpoint at event {seq} does not verify"))
            continue
        if cp.key_id != trusted_id:
            problems.append(ChainProblem("untrusted_checkpoint_key", seq,
                                         f"the checkpoint at event {seq} was signed by key {cp.key_id}, "
                                         f"not the archive key {trusted_id}"))
        stmt = json.loads(cp.statement)
        if stmt.get("seq") != seq or stmt.get("head_hash") != cp.head_hash:
            problems.append(ChainProblem("checkpoint_mismatch", seq,
                                         f"the checkpoint row at event {seq} differs from what was signed"))
        if hashes.get(seq) != stmt.get("head_hash"):
            problems.append(ChainProblem("checkpoint_mismatch", seq,
                                         f"the events up to {seq} no longer match the signed checkpoint"))
    return n, problems
