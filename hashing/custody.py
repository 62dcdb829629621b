"""Appending to, proving and verifying the custody log: a hash chain that is also a transparency log.

Each event's hash is SHA-256 over the previous hash and the canonical JSON of the event's
fields, so editing, removing or reordering any row breaks every hash after it. Each event is
also leaf ``seq - 1`` of a Merkle tree with RFC 9162 hashing (``hashing.merkle``; the leaf bytes
are the event's canonical JSON including its chain hash); the complete subtrees are stored in
``custody_tree`` as they complete, so an inclusion or consistency proof reads O(log n) rows.
Every ``checkpoint_every_events`` events (or minutes) the archive signs the tree's size and root
as a C2SP checkpoint note (``hashing.note``) and, once that transaction commits, writes it to
every configured anchor outside the database (``hashing.anchors``); an anchor that fails is a
``anchor_failed`` custody event and a logged error, and ``liuhen verify`` names an anchor that
lacks the newest checkpoint. ``verify_log`` recomputes the chain and the tree from the events and proves
them consistent with every checkpoint, in the database and in every anchor, so truncation or a
rebuilt log is named even by someone who can rewrite every table.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import json.encoder
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, String, and_, case, event, func, select, text, type_coerce
from sqlalchemy.orm import Session

import liuhen
from hashing import keys, merkle, note
from hashing.anchors import Anchor
from hashing.errors import AnchorFailed, BadCheckpoint, BadProof, BadSignature, ChainBroken
from hashing.models import CustodyAnchoring, CustodyCheckpoint, CustodyEvent, CustodyHead, CustodyNode
from liuhen.db import utcnow
from liuhen.errors import NotFound
from liuhen.words import said

log = logging.getLogger(__name__)

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


def leaf_bytes(*, seq: int, at: dt.datetime, actor: str, action: str, evidence_id: int | None,
               object_sha256: str | None, outcome: str, tool: str, tool_version: str, detail: str,
               prev_hash: str, hash: str) -> bytes:
    """What the Merkle tree commits to for one event: its canonical JSON, chain hashes included."""
    return canonical({
        "seq": seq, "at": iso_utc(at), "actor": actor, "action": action, "evidence_id": evidence_id,
        "object_sha256": object_sha256, "outcome": outcome, "tool": tool, "tool_version": tool_version,
        "detail": detail, "prev_hash": prev_hash, "hash": hash,
    })


_EVENT_COLUMNS = (CustodyEvent.seq, CustodyEvent.at, CustodyEvent.actor, CustodyEvent.action,
                  CustodyEvent.evidence_id, CustodyEvent.object_sha256, CustodyEvent.outcome, CustodyEvent.tool,
                  CustodyEvent.tool_version, CustodyEvent.detail, CustodyEvent.prev_hash, CustodyEvent.hash)
_FIELDS = ("seq", "at", "actor", "action", "evidence_id", "object_sha256", "outcome", "tool", "tool_version",
           "detail", "prev_hash", "hash")


def _leaf_of(row: Sequence[Any]) -> bytes:
    return leaf_bytes(**dict(zip(_FIELDS, row, strict=True)))


def _frontier(head: CustodyHead) -> merkle.Frontier:
    return merkle.Frontier(head.tree_size, [bytes.fromhex(h) for h in head.tree_frontier.split()])


def _append(db: Session, head: CustodyHead, leaves: Iterable[bytes]) -> None:
    f = _frontier(head)
    for leaf in leaves:
        for (level, idx), h in f.append(merkle.leaf_hash(leaf)):
            db.add(CustodyNode(level=level, idx=idx, hash=h))
    head.tree_size = f.size
    head.tree_frontier = " ".join(h.hex() for h in f.hashes)


def _catch_up(db: Session, head: CustodyHead) -> None:
    """Add the events written before the tree existed (migration 0006) to the tree."""
    while head.tree_size < head.seq:
        rows = db.execute(select(*_EVENT_COLUMNS).where(CustodyEvent.seq > head.tree_size)
                          .order_by(CustodyEvent.seq).limit(5000)).all()
        if not rows or rows[0].seq != head.tree_size + 1:
            raise ChainBroken(said(f"缺少保管事件 {head.tree_size + 1}，无法构建日志的默克尔树", f"Custody event {head.tree_size + 1} is missing, so the log's Merkle tree cannot be built."),
                              said("请运行 liuhen verify，并从备份恢复数据库。", "Run `liuhen verify` and restore the database from backup."))
        _append(db, head, (_leaf_of(r) for r in rows))
        db.flush()


def stored_nodes(db: Session, wanted: Iterable[merkle.Node]) -> dict[merkle.Node, bytes]:
    """The stored complete subtrees asked for (those missing are left out): one plain query of
    primary-key lookups per 400 (``(level = ? AND idx = ?) OR ...``, which both databases serve from the
    primary key; a row-value IN is not served by the index on SQLite), built as text (an expression per
    node would cost more than the lookups)."""
    pending = sorted(set(wanted))
    out: dict[merkle.Node, bytes] = {}
    conn = db.connection()
    for i in range(0, len(pending), 400):
        chunk = pending[i:i + 400]
        where = " OR ".join(f"(level = :l{j} AND idx = :i{j})" for j in range(len(chunk)))
        params: dict[str, int] = {}
        for j, (level, idx) in enumerate(chunk):
            params[f"l{j}"] = level
            params[f"i{j}"] = idx
        for level, idx, h in conn.execute(text(f"SELECT level, idx, hash FROM custody_tree WHERE {where}"), params):
            out[(level, idx)] = bytes(h)
    return out


def _proof(db: Session, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    nodes = stored_nodes(db, merkle.needed(ranges))
    try:
        return merkle.build(ranges, nodes)
    except KeyError as e:
        raise BadProof(said(f"存储的默克尔树缺少子树 {e.args[0]}（层级、序号）", f"The stored Merkle tree lacks the subtree {e.args[0]} (level, index)."),
                       said("该树已被改动或截断：请运行 liuhen verify。", "The tree was altered or truncated: run `liuhen verify`.")) from e


def consistency_proof(db: Session, m: int, n: int) -> list[bytes]:
    """The RFC 9162 consistency proof from the tree of ``m`` events to the tree of ``n``, from stored subtrees."""
    return _proof(db, merkle.consistency_ranges(m, n))


@dataclass(frozen=True)
class AnchorResult:
    anchor: str
    seq: int
    ok: bool
    receipt: str  # where it lies, or why it failed

    def to_dict(self) -> dict[str, Any]:
        return {"anchor": self.anchor, "tree_size": self.seq, "ok": self.ok,
                ("receipt" if self.ok else "error"): self.receipt}


@dataclass(frozen=True)
class CustodyLog:
    """Appends events within the caller's transaction; the caller commits. Checkpoints go to every
    anchor after the transaction that made them commits (never before: a rolled-back checkpoint
    anchored outside would later read as truncation)."""

    key: keys.SigningKey
    checkpoint_every_events: int = 100
    checkpoint_every_minutes: float = 10.0
    anchors: tuple[Anchor, ...] = ()

    @property
    def origin(self) -> str:
        return note.origin_of(self.key)

    def record(self, db: Session, *, actor: str, action: str, tool: str, tool_version: str,
               evidence_id: int | None = None, object_sha256: str | None = None,
               outcome: str = "success", detail: dict[str, Any] | None = None) -> CustodyEvent:
        head = db.execute(select(CustodyHead).where(CustodyHead.id == 1).with_for_update()).scalar_one()
        if head.tree_size != head.seq:
            _catch_up(db, head)
        seq = head.seq + 1
        at = utcnow()
        detail_text = canonical(detail or {}).decode("utf-8")
        fields: dict[str, Any] = {
            "seq": seq, "at": at, "actor": actor, "action": action, "evidence_id": evidence_id,
            "object_sha256": object_sha256, "outcome": outcome, "tool": tool, "tool_version": tool_version,
            "detail": detail_text}
        h = event_hash(head.hash, **fields)
        ev = CustodyEvent(**fields, prev_hash=head.hash, hash=h)
        db.add(ev)
        _append(db, head, [leaf_bytes(**fields, prev_hash=head.hash, hash=h)])
        head.seq = seq
        head.hash = h
        due_by_time = head.checkpoint_at is None or (
            at - head.checkpoint_at >= dt.timedelta(minutes=self.checkpoint_every_minutes))
        if seq - head.checkpoint_seq >= self.checkpoint_every_events or due_by_time:
            self._checkpoint(db, head, at)
        db.flush()
        return ev

    def checkpoint(self, db: Session, *, anchor_after_commit: bool = True) -> CustodyCheckpoint | None:
        """Sign the current head now (e.g. at the end of an ingest run), if it moved."""
        head = db.execute(select(CustodyHead).where(CustodyHead.id == 1).with_for_update()).scalar_one()
        if head.tree_size != head.seq:
            _catch_up(db, head)
        if head.seq == head.checkpoint_seq:
            return None
        cp = self._checkpoint(db, head, utcnow(), anchor_after_commit=anchor_after_commit)
        db.flush()
        return cp

    def _checkpoint(self, db: Session, head: CustodyHead, at: dt.datetime, *,
                    anchor_after_commit: bool = True) -> CustodyCheckpoint:
        root = _frontier(head).root()
        signed = note.sign(self.key, self.origin, head.seq, root)
        cp = CustodyCheckpoint(seq=head.seq, head_hash=head.hash, at=at, key_id=self.key.key_id,
                               public_key_pem=self.key.public_pem, statement=signed.body,
                               signature=base64.b64encode(signed.signature).decode(), root_hash=root.hex(),
                               note=signed.note)
        db.add(cp)
        head.checkpoint_seq = head.seq
        head.checkpoint_at = at
        if anchor_after_commit and self.anchors and not db.info.get("liuhen_anchoring"):
            self._anchor_on_commit(db)
        return cp

    def _anchor_on_commit(self, db: Session) -> None:
        db.info["liuhen_anchor_due"] = True
        if db.info.get("liuhen_anchor_hooked"):
            return
        db.info["liuhen_anchor_hooked"] = True

        def committed(session: Session) -> None:
            if session.info.pop("liuhen_anchor_due", False):
                bind = session.get_bind()
                assert isinstance(bind, Engine)
                self.anchor_pending(bind)

        def rolled_back(session: Session) -> None:
            session.info.pop("liuhen_anchor_due", None)

        event.listen(db, "after_commit", committed)
        event.listen(db, "after_soft_rollback", lambda session, _tx: rolled_back(session))

    def anchor_pending(self, bind: Engine, *, actor: str = "liuhen:anchors") -> list[AnchorResult]:
        """Write to every anchor each committed checkpoint after the last it holds (for an anchor that
        holds none yet: the newest). A failure is recorded (``custody_anchorings``, an ``anchor_failed``
        custody event) and logged, and returned; it is retried with the next checkpoint."""
        if not self.anchors:
            return []
        todo: list[tuple[Anchor, int, bytes, bytes]] = []
        with Session(bind) as s:
            done = {name: seq for name, seq in s.execute(
                select(CustodyAnchoring.anchor, func.max(CustodyAnchoring.checkpoint_seq))
                .where(CustodyAnchoring.outcome == "success").group_by(CustodyAnchoring.anchor))}
            newest = s.scalar(select(func.max(CustodyCheckpoint.seq)).where(CustodyCheckpoint.note.is_not(None)))
            for anchor in self.anchors:
                q = select(CustodyCheckpoint.seq, CustodyCheckpoint.root_hash, CustodyCheckpoint.note).where(
                    CustodyCheckpoint.note.is_not(None))
                after = done.get(anchor.name)
                q = q.where(CustodyCheckpoint.seq > after) if after is not None else q.where(CustodyCheckpoint.seq == newest)
                for seq, root_hex, signed in s.execute(q.order_by(CustodyCheckpoint.seq).limit(1000)):
                    if root_hex is not None and signed is not None:
                        todo.append((anchor, seq, bytes.fromhex(root_hex), signed.encode()))
        results: list[AnchorResult] = []
        failed: set[str] = set()
        for anchor, seq, root, data in todo:
            if anchor.name in failed:  # keep the order: a later checkpoint waits for the earlier one
                continue
            try:
                results.append(AnchorResult(anchor.name, seq, True, anchor.put(seq, root, data)))
            except AnchorFailed as e:
                failed.add(anchor.name)
                log.error("custody checkpoint %d not anchored in %s: %s", seq, anchor.name, e.diagnostics())
                results.append(AnchorResult(anchor.name, seq, False, e.diagnostics()))
        if results:
            with Session(bind) as s, s.begin():
                s.info["liuhen_anchoring"] = True
                now = utcnow()
                for r in results:
                    s.add(CustodyAnchoring(checkpoint_seq=r.seq, anchor=r.anchor, at=now,
                                           outcome="success" if r.ok else "failure", receipt=r.receipt))
                    if not r.ok:
                        self.record(s, actor=actor, action="anchor_failed", tool="liuhen anchors",
                                    tool_version=liuhen.__version__, outcome="failure",
                                    detail={"anchor": r.anchor, "tree_size": r.seq, "error": r.receipt})
        return results

    def prove(self, db: Session, seq: int) -> dict[str, Any]:
        """Event ``seq``'s inclusion proof against the newest signed checkpoint, as plain data: leaf index,
        tree size, the leaf (the event's canonical JSON) and its hash, the proof hashes (hex), the
        checkpoint note and where it was anchored. Checked before it is returned."""
        newest = (select(CustodyCheckpoint.seq, CustodyCheckpoint.note, CustodyCheckpoint.root_hash)
                  .where(CustodyCheckpoint.note.is_not(None)).order_by(CustodyCheckpoint.seq.desc()).limit(1)
                  .subquery())
        found = db.execute(select(newest.c.seq, newest.c.note, newest.c.root_hash, *_EVENT_COLUMNS)
                           .select_from(newest.outerjoin(CustodyEvent, CustodyEvent.seq == seq))).one_or_none()
        # the newest signed checkpoint and the event, in one round trip
        size, signed, root_hex = (None, None, None) if found is None else found[:3]
        if found is None or size is None or size < seq or signed is None or root_hex is None:
            raise NotFound(said(f"保管事件 {seq} 尚未被签名检查点覆盖", f"Custody event {seq} is not yet covered by a signed checkpoint."),
                           said("请先运行 liuhen log checkpoint（或查询更早的事件）。", "Run `liuhen log checkpoint` first (or ask for an earlier event)."))
        row = found[3:]
        if row[0] is None or seq < 1:
            raise NotFound(said(f"没有保管事件 {seq}", f"There is no custody event {seq}."), said("请以序号指明事件（liuhen show）。", "Name an event by its sequence number (`liuhen show`)."))
        data = _leaf_of(row)
        leaf = merkle.leaf_hash(data)
        ranges = merkle.inclusion_ranges(seq - 1, size)
        proof = _proof(db, ranges)
        try:
            merkle.verify_inclusion(seq - 1, size, leaf, proof, bytes.fromhex(root_hex))
        except BadProof as e:
            raise ChainBroken(said(f"保管事件 {seq} 无法证明包含在 {size} 个事件的签名检查点中", f"Custody event {seq} does not prove into the signed checkpoint of {size} events."),
                              said("该事件或存储的树已被改动：请运行 liuhen verify。", "The event or the stored tree was altered: run `liuhen verify`.")) from e
        receipts = [(a, r) for a, r in db.execute(select(CustodyAnchoring.anchor, CustodyAnchoring.receipt).where(
            CustodyAnchoring.checkpoint_seq == size, CustodyAnchoring.outcome == "success"))]
        return {"seq": seq, "leaf_index": seq - 1, "tree_size": size, "leaf": data.decode("utf-8"),
                "leaf_hash": leaf.hex(), "proof": [h.hex() for h in proof], "root_hash": root_hex,
                "checkpoint": signed, "origin": self.origin,
                "verifier_key": note.verifier_key(self.origin, self.key.public_pem),
                "public_key_pem": self.key.public_pem,
                "anchors": [{"anchor": a, "receipt": r} for a, r in receipts]}


@dataclass(frozen=True)
class ChainProblem:
    kind: str
    seq: int | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "seq": self.seq, "detail": self.detail}


_STREAM = 20000  # rows per fetch of the log check's streamed selects
_enc = json.encoder.encode_basestring  # what json.dumps(..., ensure_ascii=False) writes for a str (C)


def _at_text(db: Session) -> Any:
    """The ``at`` column as the text ``iso_utc`` makes of it, computed by the database: PostgreSQL formats
    its timestamp; SQLite's stored text (``%Y-%m-%dT%H:%M:%S.%f+00:00``) has its offset replaced by
    ``Z``. Text of any other shape comes back as stored, for ``_iso``."""
    at = CustodyEvent.at
    if db.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", at), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    raw = type_coerce(at, String())
    return case((and_(func.length(raw) == 32, func.substr(raw, 11, 1) == "T", func.substr(raw, 27) == "+00:00"),
                 func.substr(raw, 1, 26).concat("Z")), else_=raw)


def _iso(text: Any) -> str:
    """``iso_utc`` of a stored time that ``_at_text`` did not turn into it: through the datetime parser,
    as the column type reads it; text that is no time at all is hashed as it is (so that the event reads
    as altered instead of stopping the check)."""
    try:
        when = dt.datetime.fromisoformat(text) if isinstance(text, str) else text
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return iso_utc(when)
    except (TypeError, ValueError, AttributeError, OverflowError):
        return str(text)


def _slow_texts(row: Sequence[Any], at: str) -> tuple[bytes, bytes]:
    """(chain hash input, leaf bytes) of an event row whose fields do not all have their stored types."""
    seq, _, actor, action, eid, osha, outcome, tool, tv, detail, prev_hash, h = row
    body = {"seq": seq, "at": at, "actor": actor, "action": action, "evidence_id": eid, "object_sha256": osha,
            "outcome": outcome, "tool": tool, "tool_version": tv, "detail": detail}
    return (str(prev_hash).encode() + b"\n" + canonical(body),
            canonical({**body, "prev_hash": prev_hash, "hash": h}))


def _batches(db: Session) -> Iterator[tuple[Sequence[Sequence[Any]], dict[int, Any]]]:
    """Every event as plain columns (``at`` as ``_at_text``), in order, in batches of ``_STREAM``, each
    with the stored leaf hashes of its events by leaf index (a leaf the tree lacks is not there). The
    events come through the driver's own cursor (server-side on PostgreSQL), in the session's
    transaction, without SQLAlchemy's row objects; the leaves by one range read per batch."""
    conn = db.connection()
    dialect = conn.dialect
    cols = list(_EVENT_COLUMNS)
    cols[1] = _at_text(db)

    def sql(stmt: Any) -> str:
        return str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))

    events_sql = sql(select(*cols).order_by(CustodyEvent.seq))
    raw = conn.connection.dbapi_connection
    assert raw is not None
    pg = dialect.name == "postgresql"
    cur = raw.cursor(name="liuhen_verify_log") if pg else raw.cursor()
    leaves = raw.cursor()
    try:
        cur.execute(events_sql)
        while True:
            part = cur.fetchmany(_STREAM)
            if not part:
                return
            lo, hi = part[0][0] - 1, part[-1][0] - 1
            leaves.execute(f"SELECT idx, hash FROM custody_tree WHERE level = 0 AND idx >= {int(lo)} AND idx <= {int(hi)}")
            found = dict(leaves.fetchall())
            yield part, found
    finally:
        cur.close()
        leaves.close()


@dataclass
class LogReport:
    events: int = 0
    checkpoints: int = 0  # signed checkpoints in the database
    anchored: int = 0  # checkpoint notes read back from anchors
    problems: list[ChainProblem] = field(default_factory=list)


def verify_log(db: Session, trusted_public_pem: str, anchors: Sequence[Anchor] = ()) -> LogReport:
    """Recompute the chain and the Merkle tree from the events; check the head, every signed checkpoint
    in the database, and prove the log consistent with every checkpoint each anchor holds."""
    rep = LogReport()
    problems = rep.problems
    trusted_id = keys.key_id_of(trusted_public_pem)
    origin = f"liuhen.custody/{trusted_id}"
    cps = list(db.execute(select(CustodyCheckpoint.seq, CustodyCheckpoint.key_id, CustodyCheckpoint.public_key_pem,
                                 CustodyCheckpoint.statement, CustodyCheckpoint.signature, CustodyCheckpoint.note,
                                 CustodyCheckpoint.root_hash, CustodyCheckpoint.head_hash)
                          .order_by(CustodyCheckpoint.seq)))
    rep.checkpoints = len(cps)

    anchored: list[tuple[str, str, note.Checkpoint]] = []
    held: dict[str, set[int]] = {}
    for anchor in anchors:
        try:
            found = anchor.notes()
        except AnchorFailed as e:
            problems.append(ChainProblem("anchor_unreadable", None, e.diagnostics()))
            continue
        if found is None:  # a time-stamping authority: its tokens are receipts, not a copy of the log
            continue
        held[anchor.name] = set()
        for where, note_text in found:
            try:
                c = note.open_note(note_text, trusted_public_pem, origin)
            except (BadCheckpoint, BadSignature) as e:
                problems.append(ChainProblem("anchor_bad_checkpoint", None, f"The checkpoint {where} in anchor "
                                             f"{anchor.name} is not signed by the archive key: {e.detail}"))
                continue
            anchored.append((anchor.name, where, c))
            held[anchor.name].add(c.size)
    rep.anchored = len(anchored)

    wanted = {cp.seq for cp in cps} | {c.size for _, _, c in anchored}
    roots: dict[int, bytes] = {}
    chain_at: dict[int, str] = {}
    tree = merkle.Frontier()
    prev = GENESIS
    expected_seq = 1
    sha256, enc = hashlib.sha256, _enc
    push = tree.push
    for rows, stored in _batches(db):
        for ev in rows:
            seq, at, actor, action, eid, osha, outcome, tool, tv, detail, prev_hash, h_stored = ev
            if seq != expected_seq:
                problems.append(ChainProblem("missing_events", expected_seq,
                                             f"custody events {expected_seq}..{seq - 1} are missing"))
            if prev_hash != prev:
                problems.append(ChainProblem("broken_link", seq, f"event {seq} does not link to the event before it"))
            if type(at) is not str or len(at) != 27 or at[26] != "Z":
                at = _iso(at)
            try:  # canonical() of event_hash's body and of leaf_bytes, written out: keys sorted, str as json writes it
                if type(seq) is not int or not (eid is None or type(eid) is int) or not (osha is None or type(osha) is str):
                    raise TypeError
                front = (f'{{"action":{enc(action)},"actor":{enc(actor)},"at":{enc(at)},"detail":{enc(detail)},'
                        f'"evidence_id":{"null" if eid is None else eid}')
                o = "null" if osha is None else enc(osha)
                tail = f',"seq":{seq},"tool":{enc(tool)},"tool_version":{enc(tv)}}}'
                body = (f'{prev_hash}\n{front},"object_sha256":{o},"outcome":{enc(outcome)}{tail}').encode()
                leaf_data = (f'{front},"hash":{enc(h_stored)},"object_sha256":{o},"outcome":{enc(outcome)},'
                             f'"prev_hash":{enc(prev_hash)}{tail}').encode()
            except TypeError:
                body, leaf_data = _slow_texts(ev, at)
            if sha256(body).hexdigest() != h_stored:
                problems.append(ChainProblem("altered_event", seq,
                                             f"event {seq} ({action}) was altered after it was written"))
            leaf = sha256(b"\x00" + leaf_data).digest()
            stored_leaf = stored.get(seq - 1)
            if stored_leaf is not None and stored_leaf != leaf:
                problems.append(ChainProblem("tree_mismatch", seq,
                                             f"the Merkle tree's leaf for event {seq} does not match the event"))
            push(leaf)
            if tree.size in wanted:
                roots[tree.size] = tree.root()
                chain_at[tree.size] = h_stored
            prev = h_stored
            expected_seq = seq + 1
    n = rep.events = tree.size
    current = tree.root()

    head = db.execute(select(CustodyHead).where(CustodyHead.id == 1)).scalar_one()
    if head.seq != expected_seq - 1 or head.hash != prev:
        problems.append(ChainProblem("head_mismatch", head.seq,
                                     f"the log's head says event {head.seq} but the events end at {expected_seq - 1}"))
    elif head.tree_size == head.seq and _frontier(head).root() != current:
        problems.append(ChainProblem("tree_mismatch", head.seq,
                                     "the Merkle tree's stored right edge does not match the events"))

    for cp in cps:
        _check_checkpoint(cp, trusted_public_pem, trusted_id, origin, n, roots, chain_at, problems)

    proofs: list[tuple[str, str, note.Checkpoint]] = []
    for name, where, c in anchored:
        if c.size > n:
            problems.append(ChainProblem(
                "truncated", c.size, f"the log ends at event {n}, but the checkpoint anchored in {name} ({where}) "
                f"covers {c.size} events: events {n + 1}..{c.size} were removed (the log was truncated)"))
        elif roots.get(c.size) != c.root:
            problems.append(ChainProblem(
                "rebuilt", c.size, f"events 1..{c.size} no longer hash to the root anchored in {name} ({where}): "
                "the log was rebuilt, or an event in it was altered, deleted or inserted"))
        else:
            proofs.append((name, where, c))
    ranges = {c.size: merkle.consistency_ranges(c.size, n) for _, _, c in proofs}
    nodes = stored_nodes(db, merkle.needed([rg for rs in ranges.values() for rg in rs]))
    for name, where, c in proofs:
        try:
            merkle.verify_consistency(c.size, n, c.root, current, merkle.build(ranges[c.size], nodes))
        except (KeyError, BadProof):
            problems.append(ChainProblem(
                "tree_mismatch", c.size, f"the stored Merkle tree does not prove the log consistent with the "
                f"checkpoint of {c.size} events anchored in {name} ({where})"))
    newest = max((cp.seq for cp in cps if cp.note is not None), default=None)
    for name, sizes in held.items():
        if newest is not None and newest not in sizes:
            problems.append(ChainProblem(
                "unanchored_checkpoint", newest, f"the newest signed checkpoint ({newest} events) is not in the "
                f"anchor {name}: anchoring failed or was skipped (see `anchor_failed` events)"))
    return rep


def _check_checkpoint(cp: Any, trusted_pem: str, trusted_id: str, origin: str, n: int,
                      roots: dict[int, bytes], chain_at: dict[int, str], problems: list[ChainProblem]) -> None:
    seq = cp.seq
    statement, signature = cp.statement.encode(), base64.b64decode(cp.signature)
    try:
        keys.verify(trusted_pem if cp.key_id == trusted_id else cp.public_key_pem, statement, signature)
    except BadSignature:
        problems.append(ChainProblem("bad_checkpoint_signature", seq,
                                     f"the signed checkpoint at event {seq} does not verify"))
        return
    if cp.key_id != trusted_id:
        problems.append(ChainProblem("untrusted_checkpoint_key", seq,
                                     f"the checkpoint at event {seq} was signed by key {cp.key_id}, "
                                     f"not the archive key {trusted_id}"))
        return
    if seq > n:
        problems.append(ChainProblem("truncated", seq, f"the log ends at event {n}, but a signed checkpoint in "
                                     f"the database covers {seq} events: events {n + 1}..{seq} were removed"))
        return
    if cp.note is None:  # a checkpoint from before the tree (migration 0006): signed JSON over the chain's head
        stmt = json.loads(cp.statement)
        if stmt.get("seq") != seq or stmt.get("head_hash") != cp.head_hash:
            problems.append(ChainProblem("checkpoint_mismatch", seq,
                                         f"the checkpoint row at event {seq} differs from what was signed"))
        if chain_at.get(seq) != stmt.get("head_hash"):
            problems.append(ChainProblem("checkpoint_mismatch", seq,
                                         f"the events up to {seq} no longer match the signed checkpoint"))
        return
    try:
        c = note.open_note(cp.note, trusted_pem, origin, verified=(statement, signature))
    except (BadCheckpoint, BadSignature):
        c = None
    if c is None or c.size != seq or c.root.hex() != cp.root_hash or note.body(origin, seq, c.root) != cp.statement:
        problems.append(ChainProblem("checkpoint_mismatch", seq,
                                     f"the checkpoint row at event {seq} differs from what was signed"))
    elif roots.get(seq) != c.root:
        problems.append(ChainProblem("checkpoint_mismatch", seq,
                                     f"the events up to {seq} no longer match the signed checkpoint"))
