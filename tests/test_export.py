"""Exporting evidence as a BagIt bag: checkable by bagit, sha256sum and openssl, without liuhen."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import shutil
import stat
import subprocess
import uuid
from pathlib import Path

import bagit
import pytest
from sqlalchemy import select

from archive.errors import ExportFixityFailed, ExportTargetNotEmpty
from archive.export import export_bag
from archive.models import Evidence
from archive.service import receive, register_station
from hashing import keys
from hashing.models import CustodyEvent
from ingest.wire import Manifest, Receipt
from liuhen.errors import NotFound

CHINESE_NAME = "执法_张三.mp4"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def openssl_bin() -> str:
    b = shutil.which("openssl")
    if b is None:
        pytest.fail("openssl (3.0 or newer) is not installed; the export's VERIFY.txt relies on it")
    return b


def openssl_verify(pem: Path, data: Path, sig: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([openssl_bin(), "pkeyutl", "-verify", "-pubin", "-inkey", str(pem), "-rawin",
                           "-in", str(data), "-sigfile", str(sig)], capture_output=True, text=True, check=False)


class Recorder:
    """A station offloading real files through ``receive``, as the embedded station does."""

    def __init__(self, archive, tmp: Path, station_id: str = "st1") -> None:
        self.archive = archive
        self.tmp = tmp
        self.station_id = station_id
        self.key = keys.load_or_create(tmp / f"{station_id}.ed25519")
        register_station(archive, station_id=station_id, public_pem=self.key.public_pem)

    def offload(self, src: Path, name: str, bay: str = "b1") -> Receipt:
        data = src.read_bytes()
        now = dt.datetime.now(dt.UTC).isoformat()
        m = Manifest(manifest_id=str(uuid.uuid4()), station_id=self.station_id, station_key_id=self.key.key_id,
                     bay=bay, layout="pattern", original_path=name, original_path_hex=name.encode().hex(),
                     path_encoding="utf-8", sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                     file_mtime=now, staged_at=now, tool="liuhen-station", tool_version="0.1", hash_tool="x")
        mb = m.to_bytes()
        copy = self.tmp / f"staged-{m.manifest_id}"
        copy.write_bytes(data)
        return receive(self.archive, manifest_bytes=mb, signature=self.key.sign(mb), path=copy)


@pytest.fixture
def recorded(archive, make_clip, tmp_path):
    """Three distinct clips, one with a Chinese name, one offloaded twice (two signed manifests)."""
    rec = Recorder(archive, tmp_path / "station")
    a = rec.offload(make_clip(), "DSJ-A001_000123_20261123093000_0001.MP4")
    b = rec.offload(make_clip(tone=660), f"DCIM/{CHINESE_NAME}")
    c = rec.offload(make_clip(seconds=1.5), "DSJ-A001_000123_20261123094000_0002.MP4")
    again = rec.offload(make_clip(), "DSJ-A001_000123_20261123093000_0001.MP4", bay="b2")
    assert (a.status, b.status, c.status, again.status) == ("archived", "archived", "archived", "duplicate")
    return [a, b, c]


def test_exported_bag_passes_bagit_sha256sum_and_openssl_and_holds_the_true_originals(archive, recorded, tmp_path):
    out = tmp_path / "export" / "case-1"
    refs = [str(recorded[0].evidence_id), recorded[1].sha256, recorded[2].sha256[:12]]
    result = export_bag(archive, refs, out, actor="user:wang")

    assert result.path == out and out.is_dir()
    assert result.evidence_ids == tuple(r.evidence_id for r in recorded)
    assert not [p for p in out.parent.iterdir() if p.name != "case-1"]  # no temp folder left beside it

    bag = bagit.Bag(str(out))
    bag.validate()  # an independent implementation checks every sha256 and sha512
    assert bag.info["Payload-Oxum"] == result.payload_oxum == f"{result.total_bytes}.{result.files}"
    assert bag.info["Source-Organization"] == "liuhen"
    assert sorted(bag.info["Liuhen-Evidence-Id"]) == sorted(str(r.evidence_id) for r in recorded)
    assert set(bag.algorithms) == {"sha256", "sha512"}

    for manifest_file in ("manifest-sha256.txt", "tagmanifest-sha256.txt"):
        run = subprocess.run(["sha256sum", "-c", manifest_file], cwd=out, capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stdout + run.stderr

    for r in recorded:
        original = out / "data" / "originals" / f"{r.evidence_id}_{r.sha256[:12]}"
        files = list(original.iterdir())
        assert len(files) == 1
        assert sha256_of(files[0]) == r.sha256  # the exported bytes are the archived bytes
    chinese = out / "data" / "originals" / f"{recorded[1].evidence_id}_{recorded[1].sha256[:12]}" / CHINESE_NAME
    assert chinese.is_file()

    manifests = sorted((out / "data" / "manifests").glob("*.json"))
    assert len(manifests) == 4  # one per sighting, the duplicate offload included
    station_pem = out / "data" / "keys" / "station-st1.pem"
    for mf in manifests:
        ok = openssl_verify(station_pem, mf, mf.with_suffix(".sig"))
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert len(mf.with_suffix(".sig").read_bytes()) == 64
        assert json.loads(mf.read_bytes())["sha256"] in {r.sha256 for r in recorded}

    doc = json.loads((out / "data" / "evidence.json").read_text(encoding="utf-8"))
    by_id = {e["evidence_id"]: e for e in doc["evidence"]}
    assert by_id[recorded[1].evidence_id]["file_name"] == CHINESE_NAME
    for e in doc["evidence"]:
        assert sha256_of(out / e["bag"]["original"]) == e["sha256"]
    verify_txt = (out / "data" / "VERIFY.txt").read_text(encoding="utf-8")
    assert verify_txt.index("核验") < verify_txt.index("How to check")
    assert "sha256sum -c manifest-sha256.txt" in verify_txt and "-rawin" in verify_txt

    with archive.sessions() as db:
        exported = db.execute(select(CustodyEvent).where(CustodyEvent.action == "exported")).scalars().all()
    assert sorted(e.evidence_id for e in exported) == sorted(result.evidence_ids)
    for e in exported:
        detail = json.loads(e.detail)
        assert (e.actor, e.tool, e.tool_version) == ("user:wang", "bagit", bagit.VERSION)
        assert detail["bag"] == str(out) and detail["payload_oxum"] == result.payload_oxum
        assert detail["tagmanifest_sha256"] == sha256_of(out / "tagmanifest-sha256.txt")


def test_exported_custody_events_and_checkpoints_check_out_without_liuhen(archive, recorded, tmp_path):
    out = tmp_path / "bag"
    export_bag(archive, [str(r.evidence_id) for r in recorded], out)

    rows = [json.loads(line) for line in
            (out / "data" / "custody" / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {"offloaded", "received", "stored", "duplicate"} <= {r["action"] for r in rows}
    assert {r["evidence_id"] for r in rows} == {r.evidence_id for r in recorded}
    for row in rows:  # the documented formula, recomputed here with hashlib and json only
        body = {k: row[k] for k in ("seq", "at", "actor", "action", "evidence_id", "object_sha256", "outcome",
                                    "tool", "tool_version", "detail")}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert hashlib.sha256(row["prev_hash"].encode() + b"\n" + canonical).hexdigest() == row["hash"]

    checkpoints = [json.loads(line) for line in
                   (out / "data" / "custody" / "checkpoints.jsonl").read_text(encoding="utf-8").splitlines()]
    assert checkpoints
    for i, cp in enumerate(checkpoints):
        stmt, sig = tmp_path / f"cp{i}.json", tmp_path / f"cp{i}.sig"
        stmt.write_bytes(cp["statement"].encode("utf-8"))
        sig.write_bytes(base64.b64decode(cp["signature"]))
        ok = openssl_verify(out / "data" / "keys" / "archive.pem", stmt, sig)
        assert ok.returncode == 0, ok.stdout + ok.stderr


def test_openssl_and_bagit_reject_a_manifest_changed_by_one_byte(archive, recorded, tmp_path):
    out = tmp_path / "bag"
    export_bag(archive, [str(recorded[1].evidence_id)], out)
    mf = next((out / "data" / "manifests").glob("*.json"))
    data = bytearray(mf.read_bytes())
    i = data.index(b'"size":') + len(b'"size":')
    data[i] = ord("9") if data[i] != ord("9") else ord("8")
    os.chmod(mf, stat.S_IRUSR | stat.S_IWUSR)
    mf.write_bytes(bytes(data))

    bad = openssl_verify(out / "data" / "keys" / "station-st1.pem", mf, mf.with_suffix(".sig"))
    assert bad.returncode != 0
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(out)).validate()
    run = subprocess.run(["sha256sum", "-c", "manifest-sha256.txt"], cwd=out, capture_output=True, text=True, check=False)
    assert run.returncode != 0 and "FAILED" in run.stdout


def test_a_damaged_stored_original_stops_the_export_and_is_recorded(archive, recorded, tmp_path):
    with archive.sessions() as db:
        ev = db.get(Evidence, recorded[1].evidence_id)
        stored = archive.settings.archive.store_path / ev.store_key
    os.chmod(stored, stored.stat().st_mode | stat.S_IWUSR)
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01
    stored.write_bytes(bytes(data))

    out = tmp_path / "export" / "bag"
    with pytest.raises(ExportFixityFailed) as err:
        export_bag(archive, [str(r.evidence_id) for r in recorded], out)
    assert f"Evidence {recorded[1].evidence_id}" in err.value.detail and "Nothing was exported" in err.value.action
    assert not out.exists()
    assert not list(out.parent.iterdir())  # the half-built bag was removed too

    with archive.sessions() as db:
        events = db.execute(select(CustodyEvent).where(CustodyEvent.action.in_(["fixity_failed", "exported"])))\
            .scalars().all()
    assert [(e.action, e.outcome, e.evidence_id) for e in events] == \
        [("fixity_failed", "failure", recorded[1].evidence_id)]
    detail = json.loads(events[0].detail)
    assert detail["expected_sha256"] == recorded[1].sha256 and detail["got_sha256"] == sha256_of(stored)


def test_export_refuses_a_folder_that_is_not_empty_but_fills_an_empty_one(archive, recorded, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep me")
    with pytest.raises(ExportTargetNotEmpty) as err:
        export_bag(archive, [str(recorded[0].evidence_id)], busy)
    assert str(busy) in err.value.detail and err.value.action
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]

    empty = tmp_path / "empty"
    empty.mkdir()
    export_bag(archive, [str(recorded[0].evidence_id)], empty)
    bagit.Bag(str(empty)).validate()

    with archive.sessions() as db:
        assert not db.execute(select(CustodyEvent).where(CustodyEvent.action == "exported",
                                                         CustodyEvent.detail.contains("busy"))).first()


def test_export_of_unknown_evidence_names_it_and_writes_nothing(archive, recorded, tmp_path):
    out = tmp_path / "bag"
    with pytest.raises(NotFound) as err:
        export_bag(archive, [str(recorded[0].evidence_id), "deadbeefdeadbeef"], out)
    assert "deadbeefdeadbeef" in err.value.detail
    assert not out.exists()
