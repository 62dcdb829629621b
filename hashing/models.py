"""The custody log: append-only, hash-chained events, the Merkle tree over them, signed checkpoints
and where each checkpoint was anchored.

``custody_events``, ``custody_tree``, ``custody_checkpoints`` and ``custody_anchorings`` are only
ever INSERTed and SELECTed; the chain's tail and the tree's right edge live in the one-row
``custody_head`` table, which is what writers lock to append in order.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from liuhen.db import Base, UTCDateTime

BigId = BigInteger().with_variant(Integer(), "sqlite")


class CustodyEvent(Base):
    __tablename__ = "custody_events"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32), index=True)
    evidence_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    object_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    tool: Mapped[str] = mapped_column(String(128))
    tool_version: Mapped[str] = mapped_column(String(128))
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class CustodyHead(Base):
    __tablename__ = "custody_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    checkpoint_seq: Mapped[int] = mapped_column(BigInteger)
    checkpoint_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    tree_size: Mapped[int] = mapped_column(BigInteger, default=0)  # events in custody_tree (== seq once caught up)
    tree_frontier: Mapped[str] = mapped_column(Text, default="")  # hex hashes of the right edge, largest first


class CustodyCheckpoint(Base):
    __tablename__ = "custody_checkpoints"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    head_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    key_id: Mapped[str] = mapped_column(String(16))
    public_key_pem: Mapped[str] = mapped_column(Text)
    statement: Mapped[str] = mapped_column(Text)  # what was signed: the note's body (before 0006: canonical JSON)
    signature: Mapped[str] = mapped_column(String(128))  # base64 of the raw Ed25519 signature of statement
    root_hash: Mapped[str | None] = mapped_column(String(64))  # the Merkle root over events 1..seq (hex)
    note: Mapped[str | None] = mapped_column(Text)  # the signed note exactly as signed and anchored


class CustodyNode(Base):
    """A complete subtree of the Merkle tree over custody events: level 0 the leaf hash of event
    idx + 1, level l the node over leaves [idx << l, (idx + 1) << l)."""

    __tablename__ = "custody_tree"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class CustodyAnchoring(Base):
    """One attempt to write a checkpoint to an anchor outside the database."""

    __tablename__ = "custody_anchorings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    checkpoint_seq: Mapped[int] = mapped_column(BigInteger, index=True)
    anchor: Mapped[str] = mapped_column(String(512))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(16))  # success | failure
    receipt: Mapped[str] = mapped_column(Text)  # where it lies (path, object version) or the timestamp token (base64)
