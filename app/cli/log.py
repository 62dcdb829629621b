"""``liuhen log``: the custody log as a transparency log — sign and anchor a checkpoint now, prove
one event's inclusion against the newest checkpoint."""

from __future__ import annotations

import argparse
from typing import Any

from app.cli._common import EXIT_FAILED, EXIT_OK, Add, emit, opened
from liuhen import config


def cmd_checkpoint(args: argparse.Namespace, settings: config.Settings) -> int:
    with opened(settings) as archive:
        with archive.sessions.begin() as db:
            cp = archive.custody.checkpoint(db, anchor_after_commit=False)
        results = archive.custody.anchor_pending(archive.engine)
        with archive.sessions() as db:
            from sqlalchemy import select

            from hashing.models import CustodyCheckpoint

            newest = db.execute(select(CustodyCheckpoint).where(CustodyCheckpoint.note.is_not(None))
                                .order_by(CustodyCheckpoint.seq.desc()).limit(1)).scalar_one_or_none()
        anchors = [a.name for a in archive.custody.anchors]
    note = newest.note if newest is not None else None
    failed = [r for r in results if not r.ok]
    lines = [f"Signed a new checkpoint of {cp.seq} events." if cp is not None else
             "The log has not moved since its newest checkpoint." if newest is not None else
             "The log has no events yet: nothing to sign."]
    if note:
        lines.append(note.rstrip("\n"))
    lines += [f"anchored checkpoint {r.seq} in {r.anchor}: {r.receipt}" if r.ok else
              f"FAILED to anchor checkpoint {r.seq} in {r.anchor}: {r.receipt}" for r in results]
    if not anchors:
        lines.append("No anchors are configured ([anchors] witness_dir, s3_bucket): checkpoints stay in the database only.")
    emit(args, {"new": cp is not None, "tree_size": newest.seq if newest else 0, "checkpoint": note,
                "anchors": anchors, "results": [r.to_dict() for r in results]}, "\n".join(lines))
    return EXIT_FAILED if failed else EXIT_OK


def cmd_prove(args: argparse.Namespace, settings: config.Settings) -> int:
    with opened(settings) as archive, archive.sessions() as db:
        proof = archive.custody.prove(db, args.seq)
    text = (f"Event {proof['seq']} is leaf {proof['leaf_index']} of the tree of {proof['tree_size']} events "
            f"(root {proof['root_hash']}).\nleaf hash {proof['leaf_hash']}\n"
            + "".join(f"proof[{i}] {h}\n" for i, h in enumerate(proof["proof"]))
            + proof["checkpoint"].rstrip("\n"))
    emit(args, proof, text)
    return EXIT_OK


def register(sub: Any, add: Add) -> None:
    p = sub.add_parser("log", help="the custody log: checkpoints, anchors and inclusion proofs")
    log_sub = p.add_subparsers(dest="log_command", required=True)
    sp = add("checkpoint", cmd_checkpoint, "sign a checkpoint of the custody log now and write it to every anchor",
             parent=log_sub)
    sp.add_argument("--json", action="store_true")
    sp = add("prove", cmd_prove, "an event's inclusion proof against the newest signed checkpoint", parent=log_sub)
    sp.add_argument("seq", type=int, help="the event's sequence number")
    sp.add_argument("--json", action="store_true")
