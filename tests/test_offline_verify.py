"""Offline verification for outsiders: a bag carries its events' inclusion proofs, the signed checkpoint,
the archive key and the anchors' receipts, and ``verify_bag.py`` (standard library and openssl only,
run in a clean environment) accepts a real bag and rejects a changed byte, a swapped proof, a checkpoint
signed by another key and a log rewritten after anchoring (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from archive.export import export_bag
from archive.models import Evidence
from hashing import keys, merkle, note
from hashing.custody import GENESIS, event_hash, leaf_bytes
from hashing.models import CustodyEvent
from tests import test_anchor_tsa
from tests.s3fixture import S3Server, s3_server  # noqa: F401
from tests.test_export import Recorder

local_tsa = test_anchor_tsa.tsa  # the fixture of a local RFC 3161 time-stamping authority

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def witness(tmp_path: Path) -> Path:
    d = tmp_path / "witness"
    d.mkdir()
    return d


@pytest.fixture
def settings(make_settings, witness, request):
    extra = f'\n[anchors]\nwitness_dir = "{witness}"\n'
    if "local_tsa" in request.fixturenames:  # a local RFC 3161 authority as well (tests/test_anchor_tsa.py)
        url, d = request.getfixturevalue("local_tsa")
        extra += f'tsa_url = "{url}"\ntsa_ca_file = "{d / "ca.crt"}"\n'
    return make_settings(extra)


@pytest.fixture
def bag(archive, make_clip, tmp_path) -> Path:
    rec = Recorder(archive, tmp_path / "station")
    a = rec.offload(make_clip(), "DSJ-A001_000123_20261123093000_0001.MP4")
    b = rec.offload(make_clip(tone=660), "DCIM/执法_张三.mp4")
    assert (a.status, b.status) == ("archived", "archived")
    with archive.sessions() as db:
        ids = [str(i) for i in db.scalars(select(Evidence.id).order_by(Evidence.id))]
    # An earlier anchored checkpoint, then more events: the bag proves its checkpoint extends it.
    with archive.sessions.begin() as db:
        archive.custody.record(db, actor="user:alice", action="viewed", tool="test", tool_version="1",
                               evidence_id=int(ids[0]))
    out = tmp_path / "bag"
    export_bag(archive, ids, out)
    return out


def verify(bag: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """The bag's own copy of the verifier, run as an outsider would: a clean environment, no liuhen."""
    python = shutil.which("python3", path="/usr/bin:/bin") or "python3"
    return subprocess.run(["env", "-i", "PATH=/usr/bin:/bin", python, "verify_bag.py", str(bag), *extra],
                          cwd=bag, capture_output=True, text=True, timeout=120, check=False)


def rebag(bag: Path) -> None:
    """What a forger does after editing a bag: recompute its SHA-256 manifests so fixity still holds."""
    lines = [f"{hashlib.sha256(f.read_bytes()).hexdigest()}  {f.relative_to(bag).as_posix()}"
             for f in sorted((bag / "data").rglob("*")) if f.is_file()]
    (bag / "manifest-sha256.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    tags = [f"{hashlib.sha256((bag / n).read_bytes()).hexdigest()}  {n}"
            for n in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sha512.txt", "verify_bag.py")]
    (bag / "tagmanifest-sha256.txt").write_text("\n".join(tags) + "\n", encoding="utf-8")


def jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
                            for r in rows), encoding="utf-8")


def test_the_bag_carries_proofs_checkpoint_key_and_receipts_and_the_verifier_accepts_it(archive, bag, witness):
    log = bag / "data/log"
    info = json.loads((log / "checkpoint.json").read_text())
    text = (log / "checkpoint.note").read_text()
    cp = note.open_note(text, archive.key.public_pem, archive.custody.origin)
    assert (cp.size, cp.root.hex()) == (info["tree_size"], info["root_hash"])
    assert (log / "archive.pem").read_text() == archive.key.public_pem
    assert info["key_id"] == archive.key.key_id
    events = jsonl(bag / "data/custody/events.jsonl")
    proofs = {p["seq"]: p for p in jsonl(log / "proofs.jsonl")}
    assert events and {e["seq"] for e in events} <= set(proofs)
    for e in events:  # the same proof liuhen's own code checks
        p = proofs[e["seq"]]
        merkle.verify_inclusion(p["leaf_index"], cp.size, bytes.fromhex(p["leaf_hash"]),
                                [bytes.fromhex(h) for h in p["proof"]], cp.root)
    witnessed = [a for a in info["anchors"] if a["kind"] == "witness"]
    assert witnessed and (witness / witnessed[0]["file_name"]).read_text() == text  # the note exactly as anchored
    listed = (bag / "manifest-sha256.txt").read_text()
    for f in ("data/log/checkpoint.note", "data/log/proofs.jsonl", "data/log/archive.pem", "data/log/checkpoint.json"):
        assert f in listed
    assert "verify_bag.py" in (bag / "tagmanifest-sha256.txt").read_text()
    assert (bag / "verify_bag.py").read_bytes() == (ROOT / "tools/liuhen_verify_bag.py").read_bytes()

    r = verify(bag)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "VERIFIED" in r.stdout and "FAILED" not in r.stdout
    assert f"{len(events)} custody events: chain hash, RFC 9162 leaf hash and inclusion proof" in r.stdout
    assert "signed by the archive key" in r.stdout and "signed by its station" in r.stdout
    r = verify(bag, "--witness", str(witness), "--archive-key-id", archive.key.key_id)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "the same checkpoint as the bag's" in r.stdout
    assert "the bag's checkpoint extends it (RFC 9162 consistency proof)" in r.stdout
    r = verify(bag, "--archive-key-id", "0" * 16)
    assert r.returncode == 1 and f"not the key {'0' * 16} you trust" in r.stdout


def test_a_changed_byte_in_an_original_is_named(bag):
    ev = json.loads((bag / "data/evidence.json").read_text())
    original = bag / ev["evidence"][0]["bag"]["original"]
    data = bytearray(original.read_bytes())
    data[len(data) // 2] ^= 0x01
    original.write_bytes(bytes(data))
    r = verify(bag)
    assert r.returncode == 1
    rel = ev["evidence"][0]["bag"]["original"]
    assert f"{rel} does not match its SHA-256 in manifest-sha256.txt" in r.stdout
    rebag(bag)  # a forger who also fixes the bag's manifests is caught by the station's signed manifest
    r = verify(bag)
    assert r.returncode == 1 and f"not that of {rel}" in r.stdout


def test_swapped_proofs_and_an_altered_proof_hash_are_named(bag):
    path = bag / "data/log/proofs.jsonl"
    proofs = jsonl(path)
    a, b = next((i, j) for i in range(len(proofs)) for j in range(i + 1, len(proofs))
                if proofs[i]["proof"] != proofs[j]["proof"])
    proofs[a]["proof"], proofs[b]["proof"] = proofs[b]["proof"], proofs[a]["proof"]
    write_jsonl(path, proofs)
    rebag(bag)
    r = verify(bag)
    assert r.returncode == 1
    for i in (a, b):
        assert f"custody event {proofs[i]['seq']} " in r.stdout
    assert "inclusion proof does not lead to the checkpoint's root" in r.stdout

    proofs[a]["proof"], proofs[b]["proof"] = proofs[b]["proof"], proofs[a]["proof"]
    h = bytearray(bytes.fromhex(proofs[a]["proof"][0]))
    h[0] ^= 0x80
    proofs[a]["proof"][0] = h.hex()
    write_jsonl(path, proofs)
    rebag(bag)
    r = verify(bag)
    assert r.returncode == 1
    assert f"custody event {proofs[a]['seq']} ({json.loads(proofs[a]['leaf'])['action']}): its inclusion proof " \
           "does not lead to the checkpoint's root" in r.stdout
    assert r.stdout.count("FAILED ") == 1  # that event alone
    assert "NOT VERIFIED: 1 check(s) failed" in r.stdout


def test_a_checkpoint_signed_by_another_key_is_named(archive, bag):
    text = (bag / "data/log/checkpoint.note").read_text()
    body = text.rpartition("\n\n")[0] + "\n"
    other = keys.SigningKey(Ed25519PrivateKey.generate())
    (bag / "data/log/checkpoint.note").write_text(note.sign_text(other, archive.custody.origin, body).note)
    rebag(bag)
    r = verify(bag)
    assert r.returncode == 1
    assert "checkpoint note: not signed by the archive key" in r.stdout and "another key" in r.stdout
    # ... and with the other key put in the bag as the "archive key", the log's name gives it away.
    (bag / "data/log/archive.pem").write_text(other.public_pem)
    rebag(bag)
    r = verify(bag)
    assert r.returncode == 1
    assert f"whose key is not data/log/archive.pem (key id {other.key_id})" in r.stdout


def _rewrite_log(archive, bag: Path) -> None:
    """A forger with the database and the archive key rewrites an event of the bag, rebuilds the chain
    and the tree after it, signs a checkpoint of the same size and rewrites the bag to match."""
    info = json.loads((bag / "data/log/checkpoint.json").read_text())
    size = info["tree_size"]
    target = jsonl(bag / "data/custody/events.jsonl")[0]["seq"]
    with archive.sessions() as db:
        rows = list(db.scalars(select(CustodyEvent).where(CustodyEvent.seq <= size).order_by(CustodyEvent.seq)))
    fields = ("seq", "at", "actor", "action", "evidence_id", "object_sha256", "outcome", "tool", "tool_version", "detail")
    prev, leaves, forged = GENESIS, [], {}
    for e in rows:
        f = {k: getattr(e, k) for k in fields}
        if e.seq == target:
            f["actor"] = "user:mallory"
            f["at"] = f["at"] - dt.timedelta(hours=3)
        h = event_hash(prev, **f)
        leaf = leaf_bytes(**f, prev_hash=prev, hash=h)
        leaves.append(merkle.leaf_hash(leaf))
        forged[e.seq] = (leaf, h, prev)
        prev = h
    frontier, nodes = merkle.Frontier(), {}
    for lh in leaves:
        nodes.update(dict(frontier.append(lh)))
    root = frontier.root()
    events = jsonl(bag / "data/custody/events.jsonl")
    for e in events:
        leaf, h, p = forged[e["seq"]]
        e.update(json.loads(leaf))
    write_jsonl(bag / "data/custody/events.jsonl", events)
    proofs = []
    for e in events:
        leaf = forged[e["seq"]][0]
        proofs.append({"seq": e["seq"], "leaf_index": e["seq"] - 1, "tree_size": size, "leaf": leaf.decode(),
                       "leaf_hash": merkle.leaf_hash(leaf).hex(),
                       "proof": [x.hex() for x in merkle.build(merkle.inclusion_ranges(e["seq"] - 1, size), nodes)]})
    write_jsonl(bag / "data/log/proofs.jsonl", proofs)
    write_jsonl(bag / "data/log/consistency.jsonl", [])  # no consistency proof to the old roots can be made
    signed = note.sign(archive.key, archive.custody.origin, size, root)
    (bag / "data/log/checkpoint.note").write_text(signed.note)
    (bag / "data/log/checkpoint.json").write_text(json.dumps({**info, "root_hash": root.hex()}))
    rebag(bag)


def test_a_log_rewritten_after_anchoring_is_named_against_the_witness(archive, bag, witness):
    _rewrite_log(archive, bag)
    alone = verify(bag)  # the forgery is self-consistent: only a copy kept outside can tell
    assert alone.returncode == 0, alone.stdout
    r = verify(bag, "--witness", str(witness))
    assert r.returncode == 1, r.stdout
    assert "the log was rewritten after anchoring" in r.stdout
    size = json.loads((bag / "data/log/checkpoint.json").read_text())["tree_size"]
    assert f"the witness holds a checkpoint of {size} events with root" in r.stdout


def test_the_case_bag_carries_the_same_and_verifies(archive, settings, make_clip, tmp_path, witness):
    from auth.service import add_unit
    from cases.export import export_case
    from cases.service import add_step, create_case, link

    rec = Recorder(archive, tmp_path / "station")
    r = rec.offload(make_clip(), "DSJ-A001_000123_20261123093000_0001.MP4")
    now = dt.datetime.now(dt.UTC)
    with archive.sessions.begin() as db:
        unit = add_unit(db, code="110101-JT", name="东城区综合行政执法大队")
        case = create_case(db, archive.custody, settings.cases, unit_id=unit.id, unit_code="110101-JT",
                           category="行政强制", title="某案", actor="user:alice")
        step = add_step(db, archive.custody, settings.cases, case=case, kind="查封扣押",
                        started_at=now - dt.timedelta(minutes=5), ended_at=now, actor="user:alice")
        link(db, archive.custody, step=step, evidence=db.get(Evidence, r.evidence_id), actor="user:alice")
        case_id = case.id
    out = tmp_path / "case-bag"
    export_case(archive, case_id, out, actor="user:alice")
    case_events = jsonl(out / "data/case/events.jsonl")
    proofs = {p["seq"] for p in jsonl(out / "data/log/proofs.jsonl")}
    assert case_events and {e["seq"] for e in case_events} <= proofs
    res = verify(out, "--witness", str(witness))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "VERIFIED" in res.stdout
    # an altered case event is named
    case_events[0]["actor"] = "user:mallory"
    write_jsonl(out / "data/case/events.jsonl", case_events)
    rebag(out)
    res = verify(out)
    assert res.returncode == 1
    assert f"custody event {case_events[0]['seq']} ({case_events[0]['action']}): its hash does not match" in res.stdout


def test_the_time_stamp_token_is_checked_with_the_tsa_ca_and_a_damaged_one_is_named(bag, local_tsa):
    _, d = local_tsa
    info = json.loads((bag / "data/log/checkpoint.json").read_text())
    (stamp,) = [a for a in info["anchors"] if a["kind"] == "tsa"]
    token = bag / stamp["token_file"]
    assert token.read_bytes() and stamp["token_base64"]
    r = verify(bag)
    assert r.returncode == 0, r.stdout
    assert f"time-stamp token {stamp['token_file']} from {stamp['anchor']}: not checked (give --tsa-ca FILE)" in r.stdout
    r = verify(bag, "--tsa-ca", str(d / "ca.crt"))
    assert r.returncode == 0, r.stdout
    assert f"time-stamp token {stamp['token_file']} covers the checkpoint note (openssl ts -verify)" in r.stdout
    data = bytearray(token.read_bytes())
    data[-40] ^= 0x01  # inside the TSA's signature
    token.write_bytes(bytes(data))
    rebag(bag)
    r = verify(bag, "--tsa-ca", str(d / "ca.crt"))
    assert r.returncode == 1
    assert f"time-stamp token {stamp['token_file']}: openssl ts -verify failed" in r.stdout


def test_an_event_removed_from_the_bag_and_a_foreign_key_id_are_named(archive, bag):
    path = bag / "data/custody/events.jsonl"
    events = jsonl(path)
    write_jsonl(path, events[1:])
    rebag(bag)
    r = verify(bag)
    assert r.returncode == 1
    assert f"an inclusion proof for custody event {events[0]['seq']}, but not the event: it was removed" in r.stdout
    write_jsonl(path, events)
    text = (bag / "bag-info.txt").read_text()
    (bag / "bag-info.txt").write_text(text.replace(archive.key.key_id, "f" * 16))
    rebag(bag)
    r = verify(bag)
    assert r.returncode == 1
    assert f"bag-info.txt ({'f' * 16}) is not that of data/log/archive.pem ({archive.key.key_id})" in r.stdout


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_s3_receipt_names_the_locked_object_version_holding_the_bags_checkpoint(
        s3_server: S3Server, make_settings, make_clip, tmp_path):  # noqa: F811
    from app.runtime import open_archive

    bucket = s3_server.make_bucket(object_lock=True)
    s = make_settings(f'\n[anchors]\ns3_bucket = "{bucket}"\ns3_prefix = "log/"\ns3_lock_days = 1\n')
    s3 = s3_server.settings(bucket)
    s = dataclasses.replace(s, s3=dataclasses.replace(s.s3, endpoint_url=s3.endpoint_url, access_key_id=s3.access_key_id,
                                                      secret_access_key=s3.secret_access_key))
    a = open_archive(s)
    try:
        r = Recorder(a, tmp_path / "station").offload(make_clip(), "DSJ-A001_000123_20261123093000_0001.MP4")
        out = tmp_path / "s3-bag"
        export_bag(a, [str(r.evidence_id)], out)
    finally:
        a.close()
    info = json.loads((out / "data/log/checkpoint.json").read_text())
    (put,) = [x for x in info["anchors"] if x["kind"] == "s3"]
    key = put["object"].removeprefix(f"s3://{bucket}/")
    body = s3_server.client().get_object(Bucket=bucket, Key=key, VersionId=put["version_id"])["Body"].read()
    assert body == (out / "data/log/checkpoint.note").read_bytes()
    res = verify(out)
    assert res.returncode == 0, res.stdout
    assert f"anchored in S3 (Object Lock) as {put['object']} version {put['version_id']}" in res.stdout
