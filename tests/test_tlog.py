"""The custody log as a transparency log: proofs from the stored tree, checkpoints written to anchors
outside the database, and ``liuhen verify`` naming truncation and a rebuilt log even when the
custody triggers are dropped (SQLite, and PostgreSQL as a superuser)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from hashing import keys, merkle, note
from hashing.custody import GENESIS, CustodyLog, consistency_proof
from hashing.models import CustodyAnchoring, CustodyCheckpoint, CustodyEvent, CustodyHead

CUSTODY_TABLES = ("custody_events", "custody_checkpoints", "custody_tree", "custody_anchorings")


@pytest.fixture
def witness(tmp_path: Path) -> Path:
    d = tmp_path / "witness"
    d.mkdir()
    return d


@pytest.fixture
def settings(make_settings, witness):
    return make_settings(f'\n[anchors]\nwitness_dir = "{witness}"\n')


def _events(archive, n: int, actor: str = "user:alice") -> None:
    for i in range(n):
        with archive.sessions.begin() as db:
            archive.custody.record(db, actor=actor, action="viewed", tool="test", tool_version="1",
                                   evidence_id=i, detail={"i": i})


def liuhen(settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", "--config", str(settings.config_path), *args],
                          capture_output=True, text=True, timeout=300, env={**os.environ})


def _as_superuser(archive):
    """A connection as someone with full database access, the custody triggers dropped."""
    url = archive.settings.archive.database_url
    eng = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with eng.begin() as c:
        for t in CUSTODY_TABLES:
            if eng.dialect.name == "sqlite":
                for verb in ("update", "delete"):
                    c.execute(text(f"DROP TRIGGER IF EXISTS {t}_no_{verb}"))
            else:
                c.execute(text(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}"))
    return eng


def _truncate(archive, keep: int) -> None:
    """Delete every event after ``keep``, the later checkpoints, tree nodes and anchorings, and rewind
    the head and the tree's right edge so that the database is consistent in itself."""
    eng = _as_superuser(archive)
    with eng.begin() as c:
        leaves = [bytes(h) for (h,) in c.execute(text(
            "SELECT hash FROM custody_tree WHERE level = 0 AND idx < :k ORDER BY idx"), {"k": keep})]
        f = merkle.Frontier()
        for h in leaves:
            f.append(h)
        head_hash = c.execute(text("SELECT hash FROM custody_events WHERE seq = :k"), {"k": keep}).scalar_one()
        c.execute(text("DELETE FROM custody_events WHERE seq > :k"), {"k": keep})
        c.execute(text("DELETE FROM custody_checkpoints WHERE seq > :k"), {"k": keep})
        c.execute(text("DELETE FROM custody_anchorings WHERE checkpoint_seq > :k"), {"k": keep})
        for level in range(25):
            c.execute(text("DELETE FROM custody_tree WHERE level = :l AND (idx + 1) * :w > :k"),
                      {"l": level, "w": 1 << level, "k": keep})
        last_cp = c.execute(text("SELECT max(seq) FROM custody_checkpoints")).scalar_one() or 0
        c.execute(text("UPDATE custody_head SET seq = :k, hash = :h, tree_size = :k, tree_frontier = :f, "
                       "checkpoint_seq = :cp WHERE id = 1"),
                  {"k": keep, "h": head_hash, "f": " ".join(h.hex() for h in f.hashes), "cp": last_cp})
    eng.dispose()


def _rebuild(archive, change_seq: int) -> None:
    """Rewrite the whole log with new hashes, event ``change_seq`` changed, re-signed with the archive's
    own key (an insider who has it), so that the database is consistent in itself."""
    eng = _as_superuser(archive)
    with eng.begin() as c:
        rows = [dict(r._mapping) for r in c.execute(text("SELECT * FROM custody_events ORDER BY seq"))]
        for t in CUSTODY_TABLES:
            c.execute(text(f"DELETE FROM {t}"))
        c.execute(text("UPDATE custody_head SET seq = 0, hash = :g, tree_size = 0, tree_frontier = '', "
                       "checkpoint_seq = 0, checkpoint_at = NULL WHERE id = 1"), {"g": GENESIS})
    eng.dispose()
    insider = CustodyLog(archive.key, 10, 10.0)  # no anchors: the insider writes nowhere outside
    with archive.sessions.begin() as db:
        for r in rows:
            insider.record(db, actor="user:mallory" if r["seq"] == change_seq else r["actor"], action=r["action"],
                           tool=r["tool"], tool_version=r["tool_version"], evidence_id=r["evidence_id"],
                           object_sha256=r["object_sha256"], outcome=r["outcome"], detail=json.loads(r["detail"]))
        insider.checkpoint(db)


def test_every_event_proves_into_the_signed_checkpoint_from_the_stored_tree(archive):
    _events(archive, 37)
    with archive.sessions.begin() as db:
        archive.custody.checkpoint(db)
    with archive.sessions() as db:
        cp = db.execute(select(CustodyCheckpoint).order_by(CustodyCheckpoint.seq.desc())).scalars().first()
        assert cp.seq == 37 and cp.note is not None
        c = note.open_note(cp.note, archive.key.public_pem, note.origin_of(archive.key))
        for seq in range(1, 38):
            p = archive.custody.prove(db, seq)
            assert (p["leaf_index"], p["tree_size"], p["checkpoint"]) == (seq - 1, 37, cp.note)
            leaf = merkle.leaf_hash(p["leaf"].encode())
            assert leaf.hex() == p["leaf_hash"] and json.loads(p["leaf"])["seq"] == seq
            merkle.verify_inclusion(seq - 1, 37, leaf, [bytes.fromhex(h) for h in p["proof"]], c.root)
        earlier = db.execute(select(CustodyCheckpoint).where(CustodyCheckpoint.seq == 21)).scalar_one()
        merkle.verify_consistency(21, 37, bytes.fromhex(earlier.root_hash), c.root, consistency_proof(db, 21, 37))
        head = db.get(CustodyHead, 1)
        assert head.tree_size == 37


def test_each_checkpoint_is_a_new_read_only_file_in_the_witness_folder(archive, witness):
    _events(archive, 25)  # checkpoint_every_events = 10: at events 1, 11, 21
    with archive.sessions() as db:
        cps = {cp.seq: cp.note for cp in db.execute(select(CustodyCheckpoint)).scalars()}
        ok = db.scalar(select(func.count()).select_from(CustodyAnchoring).where(CustodyAnchoring.outcome == "success"))
    files = sorted(witness.iterdir())
    assert len(files) == len(cps) == ok == 3
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o400
        c = note.open_note(f.read_bytes(), archive.key.public_pem, note.origin_of(archive.key))
        assert f.read_text() == cps[c.size]
    before = {f: f.read_bytes() for f in files}
    with archive.sessions.begin() as db:
        archive.custody.checkpoint(db)
    assert len(list(witness.iterdir())) == 4
    assert all(f.read_bytes() == b for f, b in before.items())  # never rewritten


def test_a_failing_anchor_is_a_custody_event_and_a_verify_failure(make_settings, tmp_path):
    from app.runtime import open_archive

    s = make_settings(f'\n[anchors]\nwitness_dir = "{tmp_path / "not-mounted"}"\n')
    a = open_archive(s)
    try:
        _events(a, 3)
        with a.sessions() as db:
            failed = db.execute(select(CustodyEvent).where(CustodyEvent.action == "anchor_failed")).scalars().all()
        assert failed and failed[0].outcome == "failure" and "not-mounted" in failed[0].detail
    finally:
        a.close()
    r = liuhen(s, "verify", "--json")
    assert r.returncode == 3, r.stdout + r.stderr
    kinds = {f["kind"] for f in json.loads(r.stdout)["failures"]}
    assert "custody_anchor_unreadable" in kinds and "custody_anchor_failed" in kinds
    (tmp_path / "not-mounted").mkdir()  # the disk comes back: the next checkpoint catches up
    r = liuhen(s, "log", "checkpoint", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert liuhen(s, "verify").returncode == 0


def test_verify_passes_on_a_sound_log_and_reads_every_anchored_checkpoint(archive, settings):
    _events(archive, 25)
    r = liuhen(settings, "verify", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] and out["custody_events_checked"] == 25 and out["anchored_checkpoints_checked"] == 3


def test_truncation_with_triggers_dropped_and_head_rewound_is_named(archive, settings):
    _events(archive, 45)
    assert liuhen(settings, "verify").returncode == 0  # itself a checkpoint of all events (its own too), anchored
    with archive.sessions() as db:
        end = db.scalar(select(func.max(CustodyEvent.seq)))
    assert end >= 45
    _truncate(archive, 25)
    with archive.sessions() as db:
        from hashing.custody import verify_log

        assert verify_log(db, archive.key.public_pem).problems == []  # the database alone looks sound
    r = liuhen(settings, "verify", "--json")
    assert r.returncode == 3, r.stdout
    failures = json.loads(r.stdout)["failures"]
    truncated = [f for f in failures if f["kind"] == "custody_truncated"]
    assert truncated and any(f"events 26..{end} were removed" in f["detail"] for f in truncated)
    # the archive goes on writing past the old end; the anchored checkpoints still name the rewrite
    _events(archive, 30)
    r = liuhen(settings, "verify", "--json")
    assert r.returncode == 3
    assert "custody_rebuilt" in {f["kind"] for f in json.loads(r.stdout)["failures"]}


def test_a_rebuilt_chain_with_new_hashes_and_fresh_signatures_is_named(archive, settings):
    _events(archive, 30)
    _rebuild(archive, change_seq=7)
    with archive.sessions() as db:
        from hashing.custody import verify_log

        assert verify_log(db, archive.key.public_pem).problems == []  # consistent in itself, re-signed
    r = liuhen(settings, "verify", "--json")
    assert r.returncode == 3, r.stdout
    rebuilt = [f for f in json.loads(r.stdout)["failures"] if f["kind"] == "custody_rebuilt"]
    assert {f["seq"] for f in rebuilt} >= {11, 21}  # every anchored checkpoint after event 7
    assert all("rebuilt" in f["detail"] for f in rebuilt)


def test_a_deleted_and_an_altered_event_are_named_with_triggers_dropped(archive, settings):
    _events(archive, 30)
    eng = _as_superuser(archive)
    with eng.begin() as c:
        c.execute(text("DELETE FROM custody_events WHERE seq = 12"))
        c.execute(text("UPDATE custody_events SET actor = 'user:mallory' WHERE seq = 5"))
    eng.dispose()
    r = liuhen(settings, "verify", "--json")
    assert r.returncode == 3
    named = {(f["kind"], f.get("seq")) for f in json.loads(r.stdout)["failures"]}
    assert ("custody_altered_event", 5) in named and ("custody_missing_events", 12) in named
    assert ("custody_rebuilt", 11) in named or ("custody_rebuilt", 21) in named


def test_log_prove_and_checkpoint_commands(archive, settings):
    _events(archive, 12)
    r = liuhen(settings, "log", "checkpoint", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["new"] and out["tree_size"] == 12 and out["results"][0]["ok"]
    r = liuhen(settings, "log", "prove", "5", "--json")
    assert r.returncode == 0, r.stderr
    p = json.loads(r.stdout)
    assert p["leaf_index"] == 4 and p["tree_size"] == 12 and p["anchors"]
    c = note.open_note(p["checkpoint"], keys.SigningKey(archive.key.private).public_pem, p["origin"])
    merkle.verify_inclusion(4, 12, bytes.fromhex(p["leaf_hash"]), [bytes.fromhex(h) for h in p["proof"]], c.root)
    r = liuhen(settings, "log", "prove", "99")
    assert r.returncode == 1 and "not yet covered" in r.stderr


def test_events_from_before_the_tree_are_added_to_it_on_the_next_append(archive, settings):
    _events(archive, 14)
    eng = _as_superuser(archive)  # as migration 0006 leaves an archive that had events: no tree yet
    with eng.begin() as c:
        c.execute(text("DELETE FROM custody_tree"))
        c.execute(text("UPDATE custody_head SET tree_size = 0, tree_frontier = '' WHERE id = 1"))
    eng.dispose()
    _events(archive, 1)
    with archive.sessions.begin() as db:
        archive.custody.checkpoint(db)
    with archive.sessions() as db:
        assert db.get(CustodyHead, 1).tree_size == 15
        p = archive.custody.prove(db, 3)
        assert p["tree_size"] == 15
    assert liuhen(settings, "verify").returncode == 0
