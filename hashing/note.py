"""Checkpoints as C2SP signed notes (https://c2sp.org/signed-note, https://c2sp.org/tlog-checkpoint).

A checkpoint's body is three lines: the log's origin, the tree size in decimal, the root hash in
standard base64. The note is the body, a blank line, and one signature line per signer:
``— <key name> <base64(4-byte key hash || Ed25519 signature of the body)>``, where the key hash
is the first four bytes of SHA-256(key name || 0x0A || 0x01 || 32-byte public key). This is the
format of Go's checksum database and of Sigstore's logs, so their tools read these checkpoints.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hashing import keys
from hashing.errors import BadCheckpoint, BadSignature
from liuhen.words import said

DASH = "\u2014"  # the em dash that starts a signature line
ED25519 = b"\x01"  # the signed-note algorithm byte for Ed25519


def origin_of(key: keys.SigningKey) -> str:
    """The log's name: one archive key, one log."""
    return f"liuhen.custody/{key.key_id}"


def raw_public(public_pem: str | bytes) -> bytes:
    pub = keys.public_key(public_pem)
    if not isinstance(pub, Ed25519PublicKey):
        raise BadSignature(said("该公钥不是 Ed25519 密钥", "The public key is not an Ed25519 key."), said("请使用档案库的 Ed25519 公钥。", "Use the archive's Ed25519 public key."))
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_hash(name: str, public_pem: str | bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + raw_public(public_pem)).digest()[:4]


def verifier_key(name: str, public_pem: str | bytes) -> str:
    """The signed-note verifier key string (``name+hash+base64(0x01 || key)``), as Go's note package reads it."""
    h = key_hash(name, public_pem).hex()
    return f"{name}+{h}+{base64.b64encode(ED25519 + raw_public(public_pem)).decode()}"


def body(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


@dataclass(frozen=True)
class Signed:
    note: str  # the exact note text: body, blank line, signature line
    body: str  # the signed bytes (UTF-8)
    signature: bytes  # the raw Ed25519 signature


def sign_text(key: keys.SigningKey, name: str, text: str) -> Signed:
    """A signed note of ``text`` (which ends with a newline) by key ``name``."""
    sig = key.sign(text.encode())
    line = f"{DASH} {name} {base64.b64encode(key_hash(name, key.public_pem) + sig).decode()}\n"
    return Signed(note=f"{text}\n{line}", body=text, signature=sig)


def sign(key: keys.SigningKey, origin: str, size: int, root: bytes) -> Signed:
    """A checkpoint of the tree of ``size`` leaves with ``root``, signed by the key named ``origin``."""
    return sign_text(key, origin, body(origin, size, root))


def open_text(note: str | bytes, public_pem: str | bytes, name: str, *,
              verified: tuple[bytes, bytes] | None = None) -> str:
    """The text of ``note`` if a signature line by key ``name`` with ``public_pem`` verifies; raises
    BadCheckpoint (malformed) or BadSignature (no valid signature by that key). ``verified``: a
    (text, signature) pair the caller has just verified with the same key, not verified again."""
    try:
        text = note.decode("utf-8") if isinstance(note, bytes) else note
    except UnicodeDecodeError as e:
        raise BadCheckpoint(said(f"签名文本不是 UTF-8：{e}", f"The note is not UTF-8: {e}."), said("请按伪造处理。", "Treat the note as forged.")) from e
    text_body, sep, sigs = text.rpartition("\n\n")
    if not sep or not text_body:
        raise BadCheckpoint(said("签名文本在签名之前没有空行", "The note has no blank line before its signatures."), said("请按伪造处理。", "Treat the note as forged."))
    text_body += "\n"
    want = key_hash(name, public_pem)
    for line in sigs.splitlines():
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH or parts[1] != name:
            continue
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except binascii.Error:
            continue
        if blob[:4] != want:
            continue
        signed = text_body.encode()
        if verified is None or verified != (signed, blob[4:]):
            keys.verify(public_pem, signed, blob[4:])
        return text_body
    raise BadSignature(said(f"该签名文本没有 {name} 以预期密钥所作的签名", f"The note carries no signature by {name} with the expected key."),
                       said("请按伪造或由其他密钥签名处理。", "Treat the note as forged or signed by another key."))


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes


def open_note(note: str | bytes, public_pem: str | bytes, name: str, *,
              verified: tuple[bytes, bytes] | None = None) -> Checkpoint:
    """The checkpoint in ``note`` if it is signed by key ``name`` with ``public_pem`` (``open_text``)
    and its body is a checkpoint; raises BadCheckpoint or BadSignature."""
    text = open_text(note, public_pem, name, verified=verified)
    try:
        lines = text.split("\n")
        origin, size_text, root_text = lines[0], lines[1], lines[2]
        if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
            raise ValueError(f"tree size {size_text!r} is not a decimal number")
        root = base64.b64decode(root_text, validate=True)
        if len(root) != 32:
            raise ValueError("the root hash is not 32 bytes")
    except (ValueError, IndexError, binascii.Error) as e:
        raise BadCheckpoint(said(f"检查点签名文本格式错误：{e}", f"The checkpoint note is malformed: {e}."), said("请按伪造的检查点处理。", "Treat the checkpoint as forged.")) from e
    return Checkpoint(origin=origin, size=int(size_text), root=root)
