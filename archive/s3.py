"""The original store on any S3-compatible server (AWS S3, MinIO, Ceph RGW, ...).

Write-once and content-addressed, like ``LocalStore``:

- the key is ``prefix + key_for(digest)``; an existing key is never overwritten: a ``head``
  comes first, and every write is conditional (``If-None-Match: *``), so a concurrent writer
  of the same content makes the second put a no-op instead of a second copy;
- every byte is hashed on its way out, in the one read of the file, and nothing is kept unless
  it hashes to the expected SHA-256: single-part bodies are checked before they are sent;
  multipart uploads are aborted when the whole file does not match;
- the server checks the bytes too: each request carries the SHA-256 of its body
  (``ChecksumSHA256``), and the full-object SHA-256 is kept in ``x-amz-meta-sha256``;
- with ``object_lock_days > 0`` on a bucket that has Object Lock enabled, each object is written
  with a retention period (``object_lock_mode``), so not even the archive can delete it early.

Single-part bodies (up to ``multipart_threshold_mb``) are held in memory once; larger files
go in ``multipart_chunk_mb`` parts, one part in memory at a time.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from archive.errors import DigestMismatch, ObjectLocked, ObjectMissing, StoreError
from archive.store import LockState, StoredObject, key_for
from hashing.digest import CHUNK, Digest
from liuhen.config import S3Settings
from liuhen.errors import ConfigError
from liuhen.words import Said, said

S3Client = Any  # a boto3 S3 client (no stubs installed)

MB = 1024 * 1024
MAX_PARTS = 10_000  # S3's limit on parts per multipart upload
MIN_PART = 5 * MB  # S3's smallest part, except the last

_MISSING = {"NoSuchKey", "NoSuchVersion", "404", "NotFound"}
_CONDITION_FAILED = {"PreconditionFailed", "ConditionalRequestConflict"}
_BAD_DIGEST = {"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "InvalidChecksum"}
_NO_LOCK_CONFIG = {"ObjectLockConfigurationNotFoundError", "NotImplemented"}
_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "403"}
DELETE_BATCH = 1000  # S3's limit on keys per DeleteObjects request

RETRY_OFFLOAD = said("请检查 S3 服务端地址和凭据，然后重新采集：没有丢失任何内容。",
                     "Check the S3 endpoint and credentials, then run the offload again: nothing was lost.")
AGAIN_DISPOSAL = said("重新执行销毁：会完成剩余部分。", "run the disposal again: it finishes what is left.")
OFFLOAD_AGAIN = said("重新采集：没有丢失任何内容。", "run the offload again: nothing was lost.")
TRY_AGAIN = said("重试。", "try again.")


def _then(then: Said) -> Said:
    """"Check the S3 endpoint and credentials, then ``then``"."""
    return said(f"请检查 S3 服务端地址和凭据，然后{then.zh}", f"Check the S3 endpoint and credentials, then {then.en}")


class _AlreadyStored(Exception):
    """A conditional write found the key taken: another writer stored this content first."""


def _code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


def _version(resp: dict[str, Any]) -> str | None:
    # "null" is S3's version id for an object written while versioning was off; it is the
    # object reached without a version id, so it is recorded as no version.
    v = resp.get("VersionId")
    return None if v in (None, "", "null") else str(v)


def _when(d: datetime) -> str:
    return d.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _whole_second_up(d: datetime) -> datetime:
    """``d`` rounded up to a whole second: a server that keeps retain-until dates to the second must
    still read back a date no earlier than the one asked for."""
    whole = d.replace(microsecond=0)
    return whole if whole == d else whole + timedelta(seconds=1)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


class _BodyReader(io.RawIOBase):
    """A raw, read-only stream over a botocore ``StreamingBody``; read errors become ``StoreError``."""

    def __init__(self, body: Any, where: str) -> None:
        self._body = body
        self._where = where

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        view = memoryview(b).cast("B")
        try:
            data = self._body.read(len(view))
        except (BotoCoreError, OSError) as e:
            raise StoreError(said(f"从 S3 读取 {self._where} 时中断：{e}", f"Reading {self._where} from S3 broke off: {e}."),
                             said("请检查到 S3 服务端的网络，然后重新读取。", "Check the network to the S3 endpoint and read it again.")) from e
        n = len(data)
        view[:n] = data
        return n

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class S3Store:
    name = "s3"
    delete_batch = DELETE_BATCH  # versions per DeleteObjects request
    list_page: int | None = None  # versions per ListObjectVersions page (None: the server's default, 1,000)

    def __init__(self, client: S3Client, bucket: str, *, prefix: str = "",
                 multipart_threshold: int = 64 * MB, multipart_chunk: int = 16 * MB,
                 object_lock_mode: str = "COMPLIANCE", object_lock_days: int = 0) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.multipart_threshold = multipart_threshold
        self.multipart_chunk = max(multipart_chunk, MIN_PART)
        self.object_lock_mode = object_lock_mode
        self.object_lock_days = object_lock_days
        self._lock_enabled: bool | None = None  # asked once per store, on the first put that needs it

    @classmethod
    def from_settings(cls, s3: S3Settings) -> S3Store:
        config = Config(
            s3={"addressing_style": "path"},  # works with any S3-compatible server, dotted bucket names too
            retries={"mode": "standard", "max_attempts": 5},
            connect_timeout=10,
            read_timeout=120,
            # Every request that carries a body names its own SHA-256 below; reads are hashed by
            # whoever reads them (verify), so the SDK adds no checksums of its own either way.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        try:
            client = boto3.session.Session().client(
                "s3", endpoint_url=s3.endpoint_url, region_name=s3.region,
                aws_access_key_id=s3.access_key_id, aws_secret_access_key=s3.secret_access_key,
                config=config)
        except (ValueError, BotoCoreError) as e:
            raise ConfigError(said(f"存储桶 {s3.bucket} 的 S3 设置不可用：{e}", f"The S3 settings for bucket {s3.bucket} are not usable: {e}."),
                              said("请修正配置文件的 [s3] 部分（endpoint_url、region）。", "Fix the [s3] section of the config file (endpoint_url, region).")) from e
        return cls(client, s3.bucket, prefix=s3.prefix,
                   multipart_threshold=s3.multipart_threshold_mb * MB,
                   multipart_chunk=s3.multipart_chunk_mb * MB,
                   object_lock_mode=s3.object_lock_mode, object_lock_days=s3.object_lock_days)

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def key_of(self, digest: Digest, namespace: str = "originals") -> str:
        return self.prefix + key_for(digest, namespace)

    # ------------------------------------------------------------------ errors

    def _failed(self, e: Exception, doing: Said, action: Said = RETRY_OFFLOAD,
                then: Said = OFFLOAD_AGAIN) -> StoreError:
        if isinstance(e, ClientError):
            code = _code(e)
            if code == "NoSuchBucket":
                return StoreError(said(f"S3 存储桶 {self.bucket} 不存在（{doing.zh}时）",
                                       f"The S3 bucket {self.bucket} does not exist ({doing.en})."),
                                  said(f"请创建它（证据桶需启用版本控制和对象锁定），或修正配置文件中的 s3.bucket，然后{then.zh}",
                                       "Create it (with versioning and Object Lock for evidence) or fix s3.bucket "
                                       f"in the config file, then {then.en}"))
            if code in {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"}:
                return StoreError(said(f"S3 服务器拒绝访问存储桶 {self.bucket}（{doing.zh}时）：{code}",
                                       f"The S3 server refused access to bucket {self.bucket} ({doing.en}): {code}."),
                                  said(f"请检查 S3 凭据和存储桶策略，然后{then.zh}",
                                       f"Check the S3 credentials and the bucket's policy, then {then.en}"))
            msg = e.response.get("Error", {}).get("Message", "") or code
            return StoreError(said(f"S3 服务器在存储桶 {self.bucket} 中{doing.zh}失败：{code} {msg}".rstrip(),
                                   f"The S3 server failed {doing.en} in bucket {self.bucket}: {code} {msg}".rstrip() + "."),
                              action)
        return StoreError(said(f"无法连接存储桶 {self.bucket} 的 S3 服务器（{doing.zh}时）：{e}",
                               f"Could not reach the S3 server for bucket {self.bucket} ({doing.en}): {e}."), action)

    def _mismatch(self, src: Path, got: Digest, n: int, digest: Digest, size: int) -> DigestMismatch:
        count = f"{n} bytes" if n <= size else f"more than {size} bytes"
        return DigestMismatch(
            said(f"{src.name} 的内容哈希为 {got.hex}（{count}），而不是清单所记的 {digest.hex}（{size} 字节）；档案库已拒收，未在 {self.describe()} 存储任何内容", f"The bytes of {src.name} hash to {got.hex} ({count}), not to the manifest's "
                 f"{digest.hex} ({size} bytes); the archive refused it and stored nothing in {self.describe()}."),
            said("副本在传输中损坏：请从记录仪重新采集该文件。", "The copy was damaged on the way: offload the file again from the recorder."))

    def _server_bad_digest(self, src: Path, digest: Digest) -> DigestMismatch:
        return DigestMismatch(
            said(f"存储桶 {self.bucket} 的 S3 服务器发现收到的 {src.name} 内容哈希不是 {digest.hex}；已拒收，未存储任何内容", f"The S3 server for bucket {self.bucket} found that the bytes of {src.name} it received do not "
                 f"hash to {digest.hex}; it refused them and stored nothing."),
            said("内容在传往服务器途中损坏：请重新采集；如再次发生，请检查网络。", "The bytes were damaged on the way to the server: run the offload again, and check the network "
                 "if it happens again."))

    def _read_failed(self, e: OSError, src: Path) -> StoreError:
        return StoreError(said(f"读取 {src} 以上传到 {self.describe()} 失败：{e.strerror or e}", f"Reading {src} for upload to {self.describe()} failed: {e.strerror or e}."),
                          said("请检查该文件所在的磁盘，然后重新采集：未存储任何内容。", "Check the disk the file is on, then run the offload again: nothing was stored."))

    # ------------------------------------------------------------------ reads

    def _head_key(self, key: str, digest: Digest) -> StoredObject | None:
        try:
            r = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as e:
            if _code(e) in _MISSING:
                return None
            raise self._failed(e, said(f"查找 {key}", f"looking up {key}")) from e
        except BotoCoreError as e:
            raise self._failed(e, said(f"查找 {key}", f"looking up {key}")) from e
        meta = {k.lower(): v for k, v in (r.get("Metadata") or {}).items()}
        recorded = meta.get("sha256")
        if recorded is not None and recorded.lower() != digest.hex:
            raise StoreError(said(f"存储桶 {self.bucket} 中的 S3 对象 {key} 记载的 sha256 为 {recorded}，而不是其键名所示的 {digest.hex}", f"The S3 object {key} in bucket {self.bucket} says it holds sha256 {recorded}, "
                                  f"not the {digest.hex} its key names."),
                             said("请立即运行 liuhen verify：存储的原始文件可能已被替换。", "Run `liuhen verify` now: the stored original may have been replaced."))
        return StoredObject(key, digest, int(r["ContentLength"]), _version(r), created=False)

    def head(self, digest: Digest, namespace: str = "originals") -> StoredObject | None:
        return self._head_key(self.key_of(digest, namespace), digest)

    def open(self, key: str, version: str | None = None) -> BinaryIO:
        return self._get(key, version)

    def open_range(self, key: str, version: str | None, start: int, length: int) -> BinaryIO:
        return self._get(key, version, f"bytes={start}-{start + length - 1}")

    def _get(self, key: str, version: str | None, byte_range: str | None = None) -> BinaryIO:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version is not None:
            args["VersionId"] = version
        if byte_range is not None:
            args["Range"] = byte_range
        where = f"s3://{self.bucket}/{key}" + (f" (version {version})" if version else "")
        try:
            r = self.client.get_object(**args)
        except ClientError as e:
            if _code(e) in _MISSING:
                raise ObjectMissing(said(f"存储的原始文件 {where} 不见了", f"The stored original {where} is missing."),
                                    said("请从备份恢复；运行 liuhen verify 可列出所有缺失的原始文件。", "Restore it from backup; run `liuhen verify` to list every missing "
                                         "original.")) from e
            raise self._failed(e, said(f"读取 {key}", f"reading {key}"), _then(said("重新读取。", "read it again."))) from e
        except BotoCoreError as e:
            raise self._failed(e, said(f"读取 {key}", f"reading {key}"), _then(said("重新读取。", "read it again."))) from e
        return io.BufferedReader(_BodyReader(r["Body"], where), buffer_size=CHUNK)

    # ------------------------------------------------------------------ Object Lock

    def lock_enabled(self) -> bool:
        if self._lock_enabled is None:
            try:
                r = self.client.get_object_lock_configuration(Bucket=self.bucket)
                state = r.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
                self._lock_enabled = state == "Enabled"
            except ClientError as e:
                if _code(e) not in _NO_LOCK_CONFIG:
                    raise self._failed(e, said("读取存储桶的对象锁定配置", "reading the bucket's Object Lock configuration")) from e
                self._lock_enabled = False
            except BotoCoreError as e:
                raise self._failed(e, said("读取存储桶的对象锁定配置", "reading the bucket's Object Lock configuration")) from e
        return self._lock_enabled

    def _lock_args(self) -> dict[str, Any]:
        if self.object_lock_days <= 0:
            return {}
        if not self.lock_enabled():
            # Config promises locked originals; storing them unlocked would break that promise silently.
            raise ConfigError(
                said(f"s3.object_lock_days 为 {self.object_lock_days}，但存储桶 {self.bucket} 未启用对象锁定，原始文件无法锁定；未存储任何内容", f"s3.object_lock_days is {self.object_lock_days}, but bucket {self.bucket} has no Object Lock, "
                     "so originals could not be locked; nothing was stored."),
                said("请使用创建时已启用对象锁定的存储桶，或设置 s3.object_lock_days = 0 以不设保留期存储。", "Use a bucket created with Object Lock enabled, or set s3.object_lock_days = 0 to store "
                     "without retention."))
        until = datetime.now(UTC) + timedelta(days=self.object_lock_days)
        return {"ObjectLockMode": self.object_lock_mode, "ObjectLockRetainUntilDate": until}

    def _ensure_retention(self, key: str, version: str | None, lock: dict[str, Any]) -> None:
        """Confirm the new object carries its retention; set it where the server ignored the
        lock headers of the write (some servers do for multipart uploads)."""
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version is not None:
            args["VersionId"] = version
        doing = said(f"设置 {key} 的对象锁定保留期", f"setting the Object Lock retention of {key}")
        action = said(f"原始文件已存储但尚未锁定：请手动设置其保留期（{lock['ObjectLockMode']}，至 "
                      f"{lock['ObjectLockRetainUntilDate']:%Y-%m-%d}），并检查 S3 服务端地址和凭据。",
                      f"The original is stored but not yet locked: set its retention by hand "
                      f"({lock['ObjectLockMode']} until {lock['ObjectLockRetainUntilDate']:%Y-%m-%d}), "
                      "and check the S3 endpoint and credentials.")
        try:
            if self.client.head_object(**args).get("ObjectLockMode"):
                return
            self.client.put_object_retention(**args, Retention={
                "Mode": lock["ObjectLockMode"], "RetainUntilDate": lock["ObjectLockRetainUntilDate"]})
        except (ClientError, BotoCoreError) as e:
            raise self._failed(e, doing, action) from e

    def set_legal_hold(self, key: str, version: str | None, on: bool) -> None:
        """Put (``on=True``) or lift a legal hold on one stored object: while on, nobody can delete it."""
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key,
                                "LegalHold": {"Status": "ON" if on else "OFF"}}
        if version is not None:
            args["VersionId"] = version
        doing = said(f"{'设置' if on else '解除'} {key} 的保全", f"{'placing' if on else 'lifting'} a legal hold on {key}")
        again = said("重新设置保全。", "set the legal hold again.")
        action = _then(again)
        try:
            self.client.put_object_legal_hold(**args)
        except ClientError as e:
            if _code(e) in _MISSING:
                raise ObjectMissing(said(f"存储的原始文件 s3://{self.bucket}/{key} 不见了；未设置保全", f"The stored original s3://{self.bucket}/{key} is missing; no legal hold was "
                                         "set."), said("请从备份恢复；运行 liuhen verify。", "Restore it from backup; run `liuhen verify`.")) from e
            if _code(e) == "InvalidRequest":
                msg = e.response.get("Error", {}).get("Message", "")
                raise StoreError(said(f"S3 存储桶 {self.bucket} 拒绝{doing.zh}：{msg}",
                                      f"The S3 bucket {self.bucket} refused {doing.en}: {msg}"),
                                 said("保全需要创建时已启用对象锁定的存储桶；请将原始文件移到这样的存储桶。", "Legal holds need a bucket created with Object Lock enabled; move the "
                                      "originals to such a bucket.")) from e
            raise self._failed(e, doing, action, again) from e
        except BotoCoreError as e:
            raise self._failed(e, doing, action, again) from e

    def supports_lock(self) -> bool:
        return self.lock_enabled()

    def _version_args(self, key: str, version: str | None) -> dict[str, Any]:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version is not None:
            args["VersionId"] = version
        return args

    def _where(self, key: str, version: str | None) -> str:
        return f"s3://{self.bucket}/{key}" + (f" (version {version})" if version else "")

    def lock_state(self, key: str, version: str | None) -> LockState:
        """The object's legal hold and retention, from HeadObject (which AWS, MinIO and moto answer
        with them; moto's server has no GetObjectRetention). An account that may not read them
        (s3:GetObjectRetention, s3:GetObjectLegalHold) gets no lock headers on AWS: grant both."""
        action = _then(TRY_AGAIN)
        reading = said(f"读取 {key} 的对象锁定", f"reading the Object Lock of {key}")
        try:
            h = self.client.head_object(**self._version_args(key, version))
        except ClientError as e:
            if _code(e) in _MISSING:
                raise ObjectMissing(said(f"存储的对象 {self._where(key, version)} 不见了", f"The stored object {self._where(key, version)} is missing."),
                                    said("请运行 liuhen verify 列出所有缺失的对象。", "Run `liuhen verify` to list every missing object.")) from e
            raise self._failed(e, reading, action, TRY_AGAIN) from e
        except BotoCoreError as e:
            raise self._failed(e, reading, action, TRY_AGAIN) from e
        until = h.get("ObjectLockRetainUntilDate")
        mode = h.get("ObjectLockMode")
        return LockState(legal_hold=h.get("ObjectLockLegalHoldStatus") == "ON",
                         retain_until=until if isinstance(until, datetime) else None,
                         mode=str(mode) if mode else None)

    def extend_retention(self, key: str, version: str | None, until: datetime) -> datetime | None:
        """Make the object's retain-until date at least ``until`` (rounded up to the second), never
        shorter: the date is written only when ``until`` is later than the one in force, in the mode in
        force (``object_lock_mode`` where none was set). Returns the date read back; None where the
        bucket has no Object Lock. Never bypasses governance retention (extending needs no bypass)."""
        if until.tzinfo is None:
            raise ValueError("naive datetime given; a retain-until date must carry its time zone")
        if not self.lock_enabled():
            return None
        until = _whole_second_up(until.astimezone(UTC))
        now = self.lock_state(key, version)
        if now.retain_until is not None and now.retain_until >= until:
            return now.retain_until
        mode = now.mode or self.object_lock_mode
        doing = said(f"将 {key} 的对象锁定保留期延长至 {_when(until)}",
                     f"extending the Object Lock retention of {key} to {_when(until)}")
        again = said("重新延长保留期。", "extend the retention again.")
        action = _then(again)
        try:
            self.client.put_object_retention(**self._version_args(key, version),
                                             Retention={"Mode": mode, "RetainUntilDate": until})
        except ClientError as e:
            if _code(e) in _MISSING:
                raise ObjectMissing(said(f"存储的对象 {self._where(key, version)} 不见了；未设置保留期", f"The stored object {self._where(key, version)} is missing; no retention was "
                                         "set."), said("请运行 liuhen verify 列出所有缺失的对象。", "Run `liuhen verify` to list every missing object.")) from e
            raise self._failed(e, doing, action, again) from e
        except BotoCoreError as e:
            raise self._failed(e, doing, action, again) from e
        after = self.lock_state(key, version)
        if after.retain_until is None or after.retain_until < until:
            got = _when(after.retain_until) if after.retain_until else "no date"
            raise StoreError(said(f"S3 服务器接受了 {self._where(key, version)} 的保留截止日期 {_when(until)}，但读回的是 {got}", f"The S3 server accepted a retain-until date of {_when(until)} for "
                                  f"{self._where(key, version)}, but it reads back as {got}."),
                             said("请检查服务账户能否读取保留设置（s3:GetObjectRetention）以及存储桶是否启用对象锁定，然后再次延长保留期。", "Check that the service's account may read retention (s3:GetObjectRetention) "
                                  "and that the bucket has Object Lock enabled, then extend the retention again."))
        return after.retain_until

    # ------------------------------------------------------------------ disposal

    def _endpoint(self) -> str:
        return str(getattr(self.client.meta, "endpoint_url", None) or "the default S3 endpoint")

    def ping(self) -> None:
        """Whether the bucket can be used right now (HeadBucket), in words a records manager can act on."""
        where = f"The original store {self.describe()} at {self._endpoint()}"
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as e:
            code = _code(e)
            if code in {"404", "NoSuchBucket", "NotFound"}:
                raise StoreError(said(f"{where} 无法使用：其存储桶 {self.bucket} 不存在", f"{where} cannot be used: its bucket {self.bucket} does not exist."),
                                 said("请检查配置文件中的 s3.bucket 和 s3.endpoint_url；未做任何更改。", "Check s3.bucket and s3.endpoint_url in the config file; nothing was changed.")) from e
            if code in _DENIED:
                raise StoreError(said(f"{where} 无法使用：S3 服务器拒绝访问存储桶 {self.bucket}（{code}）", f"{where} cannot be used: the S3 server refused access to bucket {self.bucket} "
                                      f"({code})."), said("请检查 S3 凭据和存储桶策略；未做任何更改。", "Check the S3 credentials and the bucket's policy; nothing was "
                                      "changed.")) from e
            raise StoreError(said(f"{where} 暂时无法使用：服务器回答 {code}", f"{where} cannot be used right now: the server answered {code}."),
                             said("请检查 S3 服务器是否正常，然后重试；未做任何更改。", "Check that the S3 server is working, then try again; nothing was changed.")) from e
        except BotoCoreError as e:
            raise StoreError(said(f"无法连接 {where}：{e}", f"{where} cannot be reached: {e}."),
                             said("请检查到 S3 服务器的网络、服务器是否在运行，以及配置文件中的 s3.endpoint_url，然后重试；未做任何更改。", "Check the network to the S3 server, that the server is running, and "
                                  "s3.endpoint_url in the config file, then try again; nothing was changed.")) from e

    def _versions(self, key: str, doing: Said, then: Said) -> tuple[list[str], list[str]]:
        """The version ids of exactly ``key``: (object versions, delete markers), every page."""
        versions: list[str] = []
        markers: list[str] = []
        try:
            pages = self.client.get_paginator("list_object_versions").paginate(
                Bucket=self.bucket, Prefix=key,
                PaginationConfig={"PageSize": self.list_page} if self.list_page else {})
            for page in pages:
                versions += [str(v["VersionId"]) for v in page.get("Versions") or [] if v.get("Key") == key]
                markers += [str(m["VersionId"]) for m in page.get("DeleteMarkers") or [] if m.get("Key") == key]
        except (ClientError, BotoCoreError) as e:
            raise self._failed(e, doing, _then(then), then) from e
        return versions, markers

    def exists(self, key: str) -> bool:
        """Whether any version of ``key`` that is not a delete marker remains (on a bucket without
        versioning: whether the object is there)."""
        versions, _ = self._versions(key, said(f"查找 {key}", f"looking for {key}"), TRY_AGAIN)
        return bool(versions)

    def _refuse_if_locked(self, key: str, versions: list[str]) -> None:
        """Raise ``ObjectLocked`` before anything is deleted where a version is still locked."""
        now = datetime.now(UTC)
        for v in versions:
            try:
                state = self.lock_state(key, None if v == "null" else v)
            except ObjectMissing:
                continue  # gone meanwhile
            why = None
            if state.legal_hold:
                why = "is under a legal hold"
            elif state.mode and state.retain_until is not None and state.retain_until > now:
                why = f"is locked ({state.mode}) until {_when(state.retain_until)}"
            if why is not None:
                raise ObjectLocked(
                    f"s3://{self.bucket}/{key} (version {v}) {why}; nothing of it was deleted from "
                    f"{self.describe()}.",
                    said("锁定结束后即可销毁：解除保全，或等到保留截止日期，然后重新执行销毁（liuhen 从不绕过对象锁定）。", "It can be destroyed once the lock ends: lift the legal hold, or wait until the "
                         "retain-until date, then run the disposal again (liuhen never bypasses an Object Lock)."))

    def destroy(self, key: str) -> int:
        """Delete every version and delete marker of exactly ``key`` (a full key, prefix included, as in
        ``StoredObject.key``), versions first, in ``DeleteObjects`` batches; then check that no
        version is left. Returns how many were deleted (0 when none was there).

        On a bucket with Object Lock every version's lock is read first: while one is locked nothing
        is deleted and ``ObjectLocked`` says until when (the server refusing on its own raises it too)."""
        doing = said(f"销毁 {key}", f"destroying {key}")
        versions, markers = self._versions(key, doing, AGAIN_DISPOSAL)
        if not versions and not markers:
            return 0
        if versions and self.lock_enabled():
            self._refuse_if_locked(key, versions)
        todo = versions + markers
        removed = 0
        for i in range(0, len(todo), self.delete_batch):
            batch = todo[i:i + self.delete_batch]
            try:
                r = self.client.delete_objects(Bucket=self.bucket, Delete={
                    "Objects": [{"Key": key, "VersionId": v} for v in batch], "Quiet": False})
            except (ClientError, BotoCoreError) as e:
                raise self._failed(e, doing, self._so_far(removed, len(todo)), AGAIN_DISPOSAL) from e
            errors: list[dict[str, Any]] = list(r.get("Errors") or [])
            removed += len(batch) - len(errors)
            if errors:
                self._refused(key, errors, removed, len(todo))
        left, _ = self._versions(key, said(f"核对 {key} 已删除", f"checking that {key} is gone"), AGAIN_DISPOSAL)
        if left:
            raise StoreError(said(f"删除 {key} 的 {removed} 个版本后，{self.describe()} 中仍有 {len(left)} 个（其间被再次存储，或被服务器保留）", f"After {removed} versions of {key} were deleted, {len(left)} still remain in "
                                  f"{self.describe()} (stored again meanwhile, or kept by the server)."),
                             said("请重新执行销毁；如仍有剩余，请检查存储桶的版本控制和复制设置。", "Run the disposal again; if they remain, check the bucket's versioning and "
                                  "replication settings."))
        return removed

    @staticmethod
    def _so_far(removed: int, total: int) -> Said:
        action = _then(AGAIN_DISPOSAL)
        if removed == 0:
            return action
        return said(f"其 {total} 个版本和删除标记中已删除 {removed} 个。{action.zh}",
                    f"{removed} of its {total} versions and delete markers were already deleted. {action.en}")

    def _refused(self, key: str, errors: list[dict[str, Any]], removed: int, total: int) -> None:
        first = errors[0]
        code = str(first.get("Code", ""))
        msg = str(first.get("Message", "")) or code
        kept = f"{len(errors)} of its {total} versions and delete markers were kept"
        done = f"; {removed} were deleted" if removed else "; nothing of it was deleted"
        kept_zh = f"其 {total} 个版本和删除标记中保留了 {len(errors)} 个"
        done_zh = f"，已删除 {removed} 个" if removed else "，未删除任何内容"
        if code == "AccessDenied" and self.lock_enabled():
            raise ObjectLocked(
                said(f"S3 服务器因对象锁定拒绝删除 s3://{self.bucket}/{key}（{msg}）：{kept_zh}{done_zh}",
                     f"The S3 server refused to delete s3://{self.bucket}/{key} under its Object Lock ({msg}): "
                     f"{kept}{done}."),
                said("锁定结束后即可销毁：解除保全，或等到保留截止日期，然后重新执行销毁（liuhen 从不绕过对象锁定）。", "It can be destroyed once the lock ends: lift the legal hold, or wait until the retain-until "
                     "date, then run the disposal again (liuhen never bypasses an Object Lock)."))
        raise StoreError(said(f"S3 服务器拒绝删除 s3://{self.bucket}/{key}：{code} {msg}；{kept_zh}{done_zh}",
                              f"The S3 server refused to delete s3://{self.bucket}/{key}: {code} {msg}; {kept}{done}."),
                         said("请检查 S3 凭据和存储桶策略（s3:DeleteObjectVersion），然后重新执行销毁：会完成剩余部分。", "Check the S3 credentials and the bucket's policy (s3:DeleteObjectVersion), then run "
                              "the disposal again: it finishes what is left."))

    # ------------------------------------------------------------------ writes

    def put_file(self, src: Path, digest: Digest, size: int, *, consume: bool = False,
                 namespace: str = "originals", trusted: bool = False) -> StoredObject:
        """Upload ``src`` (``consume`` and ``trusted`` are ignored: S3 cannot take a local file over,
        so every byte is read, and hashed, on the way up)."""
        key = self.key_of(digest, namespace)
        existing = self._head_key(key, digest)
        if existing is None:
            try:
                lock = self._lock_args()
                if size > self.multipart_threshold:
                    version = self._put_multipart(src, key, digest, size, lock)
                else:
                    version = self._put_single(src, key, digest, size, lock)
                if lock:
                    self._ensure_retention(key, version, lock)
                return StoredObject(key, digest, size, version, created=True)
            except _AlreadyStored:
                existing = self._head_key(key, digest)
                if existing is None:
                    raise StoreError(said(f"S3 服务器说存储桶 {self.bucket} 中已有 {key}，但找不到它", f"The S3 server said {key} already exists in bucket {self.bucket}, "
                                          "but it cannot be found."), RETRY_OFFLOAD) from None
        if existing.size != size:
            raise StoreError(said(f"存储中已有 {key}，大小为 {existing.size} 字节，而不是 {size} 字节", f"The store already holds {key} with {existing.size} bytes, not {size}."),
                             said("请立即运行 liuhen verify：存储的原始文件可能已损坏。", "Run `liuhen verify` now: the stored original may be damaged."))
        return existing

    def _put_single(self, src: Path, key: str, digest: Digest, size: int, lock: dict[str, Any]) -> str | None:
        try:
            with open(src, "rb") as f:
                data = f.read(size + 1)
        except OSError as e:
            raise self._read_failed(e, src) from e
        got = Digest(hashlib.sha256(data).hexdigest())
        if got != digest or len(data) != size:
            raise self._mismatch(src, got, len(data), digest, size)
        try:
            r = self.client.put_object(
                Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*",
                ChecksumAlgorithm="SHA256", ChecksumSHA256=digest.b64,
                ContentType="application/octet-stream", Metadata={"sha256": digest.hex},
                **lock)
        except ClientError as e:
            if _code(e) in _CONDITION_FAILED:
                raise _AlreadyStored() from e
            if _code(e) in _BAD_DIGEST:
                raise self._server_bad_digest(src, digest) from e
            raise self._failed(e, said(f"存储 {src.name}", f"storing {src.name}")) from e
        except BotoCoreError as e:
            raise self._failed(e, said(f"存储 {src.name}", f"storing {src.name}")) from e
        return _version(r)

    def _put_multipart(self, src: Path, key: str, digest: Digest, size: int, lock: dict[str, Any]) -> str | None:
        chunk = max(self.multipart_chunk, math.ceil(size / MAX_PARTS))
        try:
            up = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ChecksumAlgorithm="SHA256",
                ContentType="application/octet-stream", Metadata={"sha256": digest.hex},
                **lock)
        except (ClientError, BotoCoreError) as e:
            raise self._failed(e, said(f"开始上传 {src.name}", f"starting the upload of {src.name}")) from e
        upload_id = up["UploadId"]
        try:
            parts = self._send_parts(src, key, upload_id, chunk, digest, size)
            return self._complete(src, key, digest, upload_id, parts)
        except BaseException:
            # Nothing of an aborted upload stays stored. If the abort itself fails, the parts are
            # invisible and never become an object; a bucket lifecycle rule removes them.
            with contextlib.suppress(ClientError, BotoCoreError):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise

    def _send_parts(self, src: Path, key: str, upload_id: str, chunk: int,
                    digest: Digest, size: int) -> list[dict[str, Any]]:
        whole = hashlib.sha256()
        n = 0
        parts: list[dict[str, Any]] = []
        try:
            with open(src, "rb") as f:
                while n <= size:
                    data = f.read(chunk)
                    if not data:
                        break
                    whole.update(data)
                    n += len(data)
                    parts.append(self._send_part(src, key, upload_id, len(parts) + 1, data, digest))
        except OSError as e:
            raise self._read_failed(e, src) from e
        got = Digest(whole.hexdigest())
        if got != digest or n != size:
            raise self._mismatch(src, got, n, digest, size)
        return parts

    def _send_part(self, src: Path, key: str, upload_id: str, number: int, data: bytes,
                   digest: Digest) -> dict[str, Any]:
        checksum = _b64(hashlib.sha256(data).digest())
        doing = said(f"上传 {src.name} 的第 {number} 部分", f"uploading part {number} of {src.name}")
        try:
            r = self.client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data,
                ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum)
        except ClientError as e:
            if _code(e) in _BAD_DIGEST:
                raise self._server_bad_digest(src, digest) from e
            raise self._failed(e, doing) from e
        except BotoCoreError as e:
            raise self._failed(e, doing) from e
        return {"PartNumber": number, "ETag": r["ETag"], "ChecksumSHA256": checksum}

    def _complete(self, src: Path, key: str, digest: Digest, upload_id: str,
                  parts: list[dict[str, Any]]) -> str | None:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "UploadId": upload_id,
                                "MultipartUpload": {"Parts": parts}}
        doing = said(f"完成 {src.name} 的上传", f"completing the upload of {src.name}")
        try:
            try:
                r = self.client.complete_multipart_upload(**args, IfNoneMatch="*")
            except ClientError as e:
                if _code(e) != "NotImplemented":
                    raise
                # A server without conditional completes: look once more, then complete plainly.
                if self._head_key(key, digest) is not None:
                    raise _AlreadyStored() from e
                r = self.client.complete_multipart_upload(**args)
        except ClientError as e:
            if _code(e) in _CONDITION_FAILED:
                raise _AlreadyStored() from e
            if _code(e) in _BAD_DIGEST:
                raise self._server_bad_digest(src, digest) from e
            raise self._failed(e, doing) from e
        except BotoCoreError as e:
            raise self._failed(e, doing) from e
        return _version(r)


__all__ = ["S3Store"]
