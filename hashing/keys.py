"""Ed25519 signing keys for stations and the archive.

A key is generated on first use and kept as PKCS#8 PEM (mode 0600). Signatures are raw
64-byte Ed25519 signatures over the exact bytes, so that
``openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in FILE -sigfile FILE.sig`` checks them.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import cryptography
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from hashing.errors import BadSignature
from liuhen.durable import fsync_path, private_dir
from liuhen.words import said

ALGORITHM = "Ed25519"
TOOL = f"cryptography {cryptography.__version__}"


@functools.lru_cache(maxsize=256)
def public_key(public_pem: bytes | str) -> PublicKeyTypes:
    """The public key in ``public_pem``, parsed once per process (a log check verifies thousands of
    checkpoints by the same key). Keys are immutable, so sharing one parsed key is safe."""
    return serialization.load_pem_public_key(public_pem.encode() if isinstance(public_pem, str) else public_pem)


def key_id_of(public_pem: bytes | str) -> str:
    pub = public_key(public_pem)
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey

    @property
    def public_pem(self) -> str:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    @property
    def key_id(self) -> str:
        return key_id_of(self.public_pem)

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data)


def load_or_create(path: Path) -> SigningKey:
    """Load the Ed25519 key at ``path``, creating it (0600, atomically) on first run."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise BadSignature(said(f"密钥文件 {path} 中没有 Ed25519 私钥", f"The key file {path} does not hold an Ed25519 private key."),
                               said("请从备份恢复采集站的密钥，或移走该文件以生成新密钥。", "Restore the station's key from backup or move the file away to create a new key."))
        return SigningKey(key)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    if not _create_once(path, pem):
        return load_or_create(path)  # another process created it meanwhile: use theirs
    return SigningKey(key)


def _create_once(path: Path, data: bytes) -> bool:
    """Write a new key file ``path`` (0600, its folder 0700) atomically and durably, never replacing one
    another process created meanwhile; False if there was one."""
    private_dir(path.parent)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
    fsync_path(path.parent)
    return True


def verify(public_pem: str | bytes, data: bytes, signature: bytes) -> None:
    """Return nothing if ``signature`` is a valid Ed25519 signature of ``data``; raise otherwise."""
    pub = public_key(public_pem)
    if not isinstance(pub, Ed25519PublicKey):
        raise BadSignature(said("该公钥不是 Ed25519 密钥", "The public key is not an Ed25519 key."), said("请重新登记采集站的公钥。", "Re-register the station's public key."))
    try:
        pub.verify(signature, data)
    except InvalidSignature as e:
        raise BadSignature(said("签名与所签数据不符", "The signature does not match the signed data."),
                           said("请按记录已被篡改处理，并将原始文件与其清单核对。", "Treat the record as tampered with and check the original against its manifest.")) from e


# ---------------------------------------------------------------------------- the data key


@dataclass(frozen=True)
class DataKey:
    """AES-256-GCM for personal data kept in the database (parties' names, ID numbers, phones,
    addresses). A value is stored as nonce (12 random bytes) || ciphertext (with its 16-byte tag);
    the column it belongs to is the associated data, so a value moved to another column does not
    open. The key lives in a file outside the database (``[archive] data_key_path``)."""

    secret: bytes

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"liuhen data key\0" + self.secret).hexdigest()[:16]

    def tag(self, text: str, purpose: str) -> str:
        """A keyed digest (HMAC-SHA256, hex) of ``text`` for ``purpose``: the same text gives the same
        tag, so that whoever holds the key can tell which value it was, and nobody else can guess it
        back from a list of names (as they could from a plain hash)."""
        import hmac

        return hmac.new(self.secret, purpose.encode() + b"\0" + text.encode("utf-8"), hashlib.sha256).hexdigest()

    def seal(self, text: str, column: str) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(12)
        return nonce + AESGCM(self.secret).encrypt(nonce, text.encode("utf-8"), column.encode())

    def open(self, blob: bytes, column: str) -> str:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            return AESGCM(self.secret).decrypt(blob[:12], blob[12:], column.encode()).decode("utf-8")
        except (InvalidTag, ValueError) as e:
            raise BadSignature(said(f"{column} 的一个加密值无法用数据密钥 {self.key_id} 打开", f"A sealed value of {column} does not open with the data key {self.key_id}."),
                               said("请检查 [archive] data_key_path 是否指向加密本数据库所用的密钥（从备份恢复）；否则该值已被改动。", "Check that [archive] data_key_path names the key this database was sealed "
                                    "with (restore it from backup); otherwise the value was altered.")) from e


def load_or_create_data_key(path: Path) -> DataKey:
    """Load the 32-byte AES key at ``path``, creating it (0600, atomically, never replacing one) on
    first run."""
    if path.exists():
        secret = path.read_bytes()
        if len(secret) != 32:
            raise BadSignature(said(f"数据密钥文件 {path} 中没有 32 字节的 AES 密钥", f"The data key file {path} does not hold a 32-byte AES key."),
                               said("请从备份恢复数据密钥；没有它就无法读取当事人的个人信息。", "Restore the data key from backup; without it parties' personal data cannot be read."))
        return DataKey(secret)
    secret = os.urandom(32)
    if not _create_once(path, secret):
        return load_or_create_data_key(path)  # another process created it meanwhile: use theirs
    return DataKey(secret)
