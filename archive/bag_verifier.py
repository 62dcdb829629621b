#!/usr/bin/env python3
"""Check a liuhen evidence bag without liuhen: Python's standard library and the ``openssl`` command only.

    python3 verify_bag.py BAG [--witness DIR] [--tsa-ca FILE] [--archive-key-id ID]

It checks, and prints as it goes:
  * every file listed in manifest-sha256.txt and tagmanifest-sha256.txt against its SHA-256, and
    that no payload file is unlisted;
  * every station manifest's detached Ed25519 signature (``openssl pkeyutl -verify -rawin``) and that
    the manifest names the SHA-256 of its original;
  * every custody event: its chain hash and its RFC 9162 leaf hash from its canonical bytes, and its
    inclusion proof against the root of the checkpoint in data/log/ (its own RFC 9162 code);
  * the checkpoint note (C2SP signed-note): the signature line's key hash and the Ed25519 signature
    over the note's text with the archive key, and that this key is the one the log's origin names;
  * with --witness DIR: every checkpoint note in DIR signed by the archive key agrees with the bag's
    (same size: same root; smaller: the bag's consistency proof from it holds);
  * an RFC 3161 time-stamp token of the checkpoint, with ``openssl ts -verify`` when --tsa-ca is given.
Exit status: 0 if every check held, 1 if any failed (each named), 2 if the bag cannot be read at all.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

DASH = "\u2014"
ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


class Report:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.passed = 0

    def ok(self, what: str) -> None:
        self.passed += 1
        print(f"ok      {what}")

    def fail(self, what: str) -> None:
        self.failures.append(what)
        print(f"FAILED  {what}")

    def note(self, what: str) -> None:
        print(f"note    {what}")


# ------------------------------------------------------------------ RFC 9162 (section 2.1)

def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes | None:
    """RFC 9162 2.1.3.2; None for a malformed proof."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def consistent(m: int, n: int, root_m: bytes, root_n: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 2.1.4.2."""
    if not 0 < m <= n:
        return m == 0 and not proof
    if m == n:
        return not proof and root_m == root_n
    path = list(proof)
    if m & (m - 1) == 0:
        path.insert(0, root_m)
    if not path:
        return False
    fn, sn = m - 1, n - 1
    while fn % 2 == 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == root_m and sr == root_n and sn == 0


# ------------------------------------------------------------------ keys, signatures, notes

def raw_ed25519(pem: bytes) -> bytes:
    lines = [ln for ln in pem.decode("ascii").splitlines() if ln and not ln.startswith("-----")]
    der = base64.b64decode("".join(lines))
    if len(der) != 44 or not der.startswith(ED25519_SPKI_PREFIX):
        raise ValueError("not an Ed25519 public key (SubjectPublicKeyInfo PEM)")
    return der[12:]


def key_id(pem: bytes) -> str:
    return hashlib.sha256(raw_ed25519(pem)).hexdigest()[:16]


def openssl_verify(pem: bytes, data: bytes, sig: bytes) -> bool:
    with tempfile.TemporaryDirectory(prefix="verify-bag-") as tmp:
        k, d, s = Path(tmp, "key.pem"), Path(tmp, "data"), Path(tmp, "sig")
        k.write_bytes(pem)
        d.write_bytes(data)
        s.write_bytes(sig)
        r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(k), "-rawin",
                            "-in", str(d), "-sigfile", str(s)], capture_output=True, text=True, check=False)
        return r.returncode == 0 and "Signature Verified Successfully" in r.stdout


def open_note(text: str, name: str, pem: bytes) -> tuple[str | None, str]:
    """(the note's signed text, "") if a signature line by key ``name`` with ``pem`` verifies, else (None, why)."""
    body, sep, sigs = text.rpartition("\n\n")
    if not sep or not body:
        return None, "the note has no blank line before its signature lines"
    body += "\n"
    want = hashlib.sha256(name.encode() + b"\n\x01" + raw_ed25519(pem)).digest()[:4]
    named = False
    for line in sigs.splitlines():
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH or parts[1] != name:
            continue
        named = True
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except ValueError:
            continue
        if blob[:4] != want:
            continue
        if openssl_verify(pem, body.encode(), blob[4:]):
            return body, ""
        return None, "its signature by the archive key does not verify"
    if named:
        return None, f"it is signed by a key named {name} whose key hash is not the archive key's (another key)"
    return None, f"it carries no signature line by {name}"


def parse_checkpoint(body: str) -> tuple[str, int, bytes]:
    lines = body.split("\n")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not size_text.isdigit():
        raise ValueError(f"tree size {size_text!r} is not a number")
    root = base64.b64decode(root_text, validate=True)
    if len(root) != 32:
        raise ValueError("the root hash is not 32 bytes")
    return origin, int(size_text), root


# ------------------------------------------------------------------ the checks

def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, _, name = line.partition(" ")
            out[name.strip().lstrip("*")] = digest.lower()
    return out


def bag_info(bag: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (bag / "bag-info.txt").read_text(encoding="utf-8").splitlines():
        k, sep, v = line.partition(":")
        if sep and not line[:1].isspace():
            out.setdefault(k.strip(), v.strip())
    return out


def check_files(bag: Path, rep: Report) -> None:
    for manifest in ("manifest-sha256.txt", "tagmanifest-sha256.txt"):
        path = bag / manifest
        if not path.is_file():
            rep.fail(f"{manifest} is missing")
            continue
        listed = read_manifest(path)
        bad = 0
        for name, digest in sorted(listed.items()):
            f = bag / name
            if ".." in Path(name).parts or Path(name).is_absolute() or not f.is_file():
                rep.fail(f"{name} (listed in {manifest}) is missing from the bag")
                bad += 1
            elif sha256_file(f) != digest:
                rep.fail(f"{name} does not match its SHA-256 in {manifest}: it was changed after the export")
                bad += 1
        if manifest == "manifest-sha256.txt":
            for f in sorted((bag / "data").rglob("*")):
                rel = f.relative_to(bag).as_posix()
                if f.is_file() and rel not in listed:
                    rep.fail(f"{rel} is in the bag but not listed in {manifest}")
                    bad += 1
        if not bad:
            rep.ok(f"{len(listed)} files match their SHA-256 in {manifest}")


def check_manifests(bag: Path, rep: Report) -> None:
    ev = json.loads((bag / "data/evidence.json").read_text(encoding="utf-8"))
    for item in ev.get("evidence", []):
        where = item["bag"]
        original = bag / where["original"]
        for m in where.get("manifests", []):
            man, sig, key = bag / m["manifest"], bag / m["signature"], bag / m["station_key"]
            if not (man.is_file() and sig.is_file() and key.is_file()):
                rep.fail(f"{m['manifest']}: its manifest, signature or station key is missing")
                continue
            if not openssl_verify(key.read_bytes(), man.read_bytes(), sig.read_bytes()):
                rep.fail(f"{m['manifest']}: the station's Ed25519 signature does not verify ({m['station_key']})")
                continue
            named = json.loads(man.read_bytes()).get("sha256")
            if not original.is_file() or named != sha256_file(original):
                rep.fail(f"{m['manifest']}: the signed manifest names SHA-256 {named}, not that of {where['original']}")
                continue
            rep.ok(f"{m['manifest']}: signed by its station and names {where['original']}")


def canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


CHAIN_FIELDS = ("seq", "at", "actor", "action", "evidence_id", "object_sha256", "outcome", "tool",
                "tool_version", "detail")


def check_log(bag: Path, args: argparse.Namespace, rep: Report) -> None:
    log = bag / "data/log"
    try:
        info = json.loads((log / "checkpoint.json").read_text(encoding="utf-8"))
        text = (log / "checkpoint.note").read_bytes().decode("utf-8")
        pem = (log / "archive.pem").read_bytes()
        kid = key_id(pem)
    except (OSError, ValueError) as err:
        rep.fail(f"data/log/ cannot be read (checkpoint.json, checkpoint.note, archive.pem): {err}")
        return
    # The checkpoint note and the archive key.
    body, why = open_note(text, f"liuhen.custody/{kid}", pem)
    origin_line = text.split("\n", 1)[0]
    if body is None:
        if origin_line != f"liuhen.custody/{kid}":
            why = f"it names the log {origin_line!r}, whose key is not data/log/archive.pem (key id {kid})"
        rep.fail(f"checkpoint note: not signed by the archive key: {why}")
        return
    origin, size, root = parse_checkpoint(body)
    rep.ok(f"checkpoint note ({size} events, root {root.hex()}) signed by the archive key {kid} (Ed25519, openssl)")
    named = {"data/log/checkpoint.json": info.get("key_id"), "bag-info.txt": bag_info(bag).get("Liuhen-Archive-Key-Id"),
             "data/evidence.json": json.loads((bag / "data/evidence.json").read_text(encoding="utf-8"))
             .get("archive_key_id")}
    if origin != f"liuhen.custody/{kid}":
        rep.fail(f"the checkpoint's origin {origin!r} does not name the archive key {kid}")
    elif any(v != kid for v in named.values()):
        rep.fail("the archive key id named in " + ", ".join(f"{k} ({v})" for k, v in named.items() if v != kid)
                 + f" is not that of data/log/archive.pem ({kid})")
    elif args.archive_key_id and args.archive_key_id != kid:
        rep.fail(f"the archive key in the bag is {kid}, not the key {args.archive_key_id} you trust")
    else:
        rep.ok(f"the archive key is the one the log names ({origin})"
               + (" and the one you named" if args.archive_key_id else ""))
    if info.get("tree_size") != size or info.get("root_hash") != root.hex():
        rep.fail("data/log/checkpoint.json does not describe the signed checkpoint note")

    # Every custody event: chain hash, leaf hash, inclusion proof.
    proofs: dict[int, dict[str, Any]] = {}
    for line in (log / "proofs.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            p = json.loads(line)
            proofs[p["seq"]] = p
    events: dict[int, dict[str, Any]] = {}
    for rel in ("data/custody/events.jsonl", "data/case/events.jsonl"):
        if (bag / rel).is_file():
            for line in (bag / rel).read_text(encoding="utf-8").splitlines():
                if line.strip():
                    e = json.loads(line)
                    events[e["seq"]] = e
    for seq in sorted(set(proofs) - set(events)):
        rep.fail(f"the bag has an inclusion proof for custody event {seq}, but not the event: it was removed")
    good = 0
    for seq, e in sorted(events.items()):
        chain = hashlib.sha256(e["prev_hash"].encode() + b"\n" + canonical({k: e[k] for k in CHAIN_FIELDS})).hexdigest()
        if chain != e["hash"]:
            rep.fail(f"custody event {seq} ({e['action']}): its hash does not match its content (altered)")
            continue
        p = proofs.get(seq)
        if p is None:
            rep.fail(f"custody event {seq} ({e['action']}): the bag has no inclusion proof for it")
            continue
        leaf = canonical({k: e[k] for k in (*CHAIN_FIELDS, "prev_hash", "hash")})
        lh = leaf_hash(leaf)
        if lh.hex() != p["leaf_hash"] or leaf != p["leaf"].encode("utf-8"):
            rep.fail(f"custody event {seq} ({e['action']}): its leaf hash is not the one its proof is for")
            continue
        if p["leaf_index"] != seq - 1 or p["tree_size"] != size:
            rep.fail(f"custody event {seq}: its proof is for leaf {p['leaf_index']} of {p['tree_size']} events, "
                     f"not leaf {seq - 1} of the checkpoint's {size}")
            continue
        got = root_from_inclusion(seq - 1, size, lh, [bytes.fromhex(h) for h in p["proof"]])
        if got != root:
            rep.fail(f"custody event {seq} ({e['action']}): its inclusion proof does not lead to the checkpoint's root")
            continue
        good += 1
    if not events:
        rep.fail("the bag holds no custody events")
    elif good == len(events):
        rep.ok(f"{good} custody events: chain hash, RFC 9162 leaf hash and inclusion proof into the checkpoint")

    # Consistency proofs from earlier anchored checkpoints (used by --witness).
    consistency: dict[int, dict[str, Any]] = {}
    if (log / "consistency.jsonl").is_file():
        for line in (log / "consistency.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                c = json.loads(line)
                consistency[c["from_size"]] = c
    if args.witness:
        check_witness(Path(args.witness), origin, pem, size, root, consistency, rep)

    # Anchors' receipts.
    for a in info.get("anchors", []):
        if a.get("kind") == "witness":
            rep.note(f"anchored in the witness folder as {a.get('file_name')} (compare with --witness DIR)")
        elif a.get("kind") == "s3":
            rep.note(f"anchored in S3 (Object Lock) as {a.get('object')} version {a.get('version_id')}")
        elif a.get("kind") == "tsa":
            check_tsa(bag, a, log / "checkpoint.note", args.tsa_ca, rep)
        else:
            rep.note(f"anchored in {a.get('anchor')}")


def check_witness(folder: Path, origin: str, pem: bytes, size: int, root: bytes,
                  consistency: dict[int, dict[str, Any]], rep: Report) -> None:
    files = sorted(folder.glob("*.note")) if folder.is_dir() else []
    if not files:
        rep.fail(f"the witness folder {folder} holds no checkpoint notes")
        return
    compared = 0
    for f in files:
        body, why = open_note(f.read_text(encoding="utf-8"), origin, pem)
        if body is None:
            rep.note(f"witness {f.name}: not a checkpoint of this log by the archive key ({why}); skipped")
            continue
        _, w_size, w_root = parse_checkpoint(body)
        if w_size == size:
            compared += 1
            if w_root != root:
                rep.fail(f"witness {f.name}: the witness holds a checkpoint of {size} events with root "
                         f"{w_root.hex()}, the bag's has {root.hex()}: the log was rewritten after anchoring")
            else:
                rep.ok(f"witness {f.name}: the same checkpoint as the bag's")
        elif w_size < size:
            c = consistency.get(w_size)
            if c is None:
                rep.note(f"witness {f.name} ({w_size} events): the bag has no consistency proof from it; not checked")
                continue
            compared += 1
            if c["from_root"] != w_root.hex() or not consistent(w_size, size, w_root, root,
                                                                [bytes.fromhex(h) for h in c["proof"]]):
                rep.fail(f"witness {f.name}: the bag's log is not an extension of the witness's checkpoint of "
                         f"{w_size} events: the log was rewritten after anchoring")
            else:
                rep.ok(f"witness {f.name}: the bag's checkpoint extends it (RFC 9162 consistency proof)")
        else:
            rep.note(f"witness {f.name} ({w_size} events) is newer than the bag's checkpoint; not checked")
    if not compared:
        rep.fail(f"no checkpoint in the witness folder {folder} could be compared with the bag's")


def check_tsa(bag: Path, a: dict[str, Any], note_file: Path, ca: str | None, rep: Report) -> None:
    token = bag / a.get("token_file", "")
    if not token.is_file():
        rep.fail(f"the time-stamp token {a.get('token_file')} is missing")
        return
    if not ca:
        rep.note(f"time-stamp token {a['token_file']} from {a.get('anchor')}: not checked (give --tsa-ca FILE)")
        return
    r = subprocess.run(["openssl", "ts", "-verify", "-data", str(note_file), "-in", str(token), "-CAfile", ca],
                       capture_output=True, text=True, check=False)
    if r.returncode == 0 and "Verification: OK" in r.stdout:
        rep.ok(f"time-stamp token {a['token_file']} covers the checkpoint note (openssl ts -verify)")
    else:
        rep.fail(f"time-stamp token {a['token_file']}: openssl ts -verify failed: {(r.stdout + r.stderr).strip()[:300]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Check a liuhen evidence bag (standard library and openssl only).")
    ap.add_argument("bag", nargs="?", default=os.path.dirname(os.path.abspath(__file__)),
                    help="the bag's top folder (default: the folder this script is in)")
    ap.add_argument("--witness", metavar="DIR", help="a witness folder of checkpoint notes to compare with")
    ap.add_argument("--tsa-ca", metavar="FILE", help="the time-stamping authority's CA certificate(s), PEM")
    ap.add_argument("--archive-key-id", metavar="ID", help="the archive key id you trust (from the archive, out of band)")
    args = ap.parse_args(argv)
    bag = Path(args.bag)
    if not (bag / "bagit.txt").is_file():
        print(f"{bag} is not a bag (no bagit.txt)", file=sys.stderr)
        return 2
    rep = Report()
    print(f"Checking {bag.resolve()}")
    for step in (check_files, check_manifests):
        try:
            step(bag, rep)
        except (OSError, ValueError, KeyError, TypeError) as e:
            rep.fail(f"{step.__name__}: the bag could not be read: {e!r}")
    try:
        check_log(bag, args, rep)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        rep.fail(f"check_log: the bag could not be read: {e!r}")
    if rep.failures:
        print(f"\nNOT VERIFIED: {len(rep.failures)} check(s) failed, {rep.passed} held:")
        for f in rep.failures:
            print(f"  - {f}")
        return 1
    print(f"\nVERIFIED: all {rep.passed} checks held.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
