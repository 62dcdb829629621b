"""Anchors: places outside the database where every signed checkpoint is also written, and that the
database cannot rewrite. ``liuhen verify`` reads them back and proves the log consistent with each.

An ``Anchor`` has a name, ``put`` (write one checkpoint note; return a receipt saying where it lies;
raise ``AnchorFailed`` saying why not) and ``notes`` (every checkpoint note it holds; None where it
keeps nothing to read back). Two kinds:

* ``WitnessFolder``: a folder, meant to be on another disk or host; each checkpoint is a new file,
  created exclusively (never overwritten), mode 0400, fsynced with its folder.
* ``S3Anchor``: an S3 bucket with Object Lock; each checkpoint is put with a retention
  (COMPLIANCE or GOVERNANCE) until a date, and every version under the prefix is read back.
* ``TimestampAuthority``: an RFC 3161 time-stamping authority; the query is built by
  ``openssl ts -query`` over the note, POSTed, and the reply (checked with ``openssl ts -verify``
  when a CA file is configured) is the receipt, kept base64 in ``custody_anchorings``: proof that
  the checkpoint existed by then. It holds nothing to read back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any, Protocol

from hashing.errors import AnchorFailed
from liuhen.config import Settings
from liuhen.durable import write_new
from liuhen.words import said


class Anchor(Protocol):
    name: str

    def put(self, size: int, root: bytes, note: bytes) -> str: ...

    def notes(self) -> list[tuple[str, bytes]] | None: ...  # None: it keeps nothing to read back


def file_name(size: int, root: bytes) -> str:
    return f"checkpoint-{size:012d}-{root.hex()[:16]}.note"


class WitnessFolder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.name = f"witness:{folder}"

    def put(self, size: int, root: bytes, note: bytes) -> str:
        if not self.folder.is_dir():
            raise AnchorFailed(said(f"见证文件夹 {self.folder} 不存在或不是文件夹，检查点 {size} 无法锚定到该处", f"The witness folder {self.folder} does not exist or is not a folder, so checkpoint "
                                    f"{size} could not be anchored there."),
                               said("请挂载见证磁盘（或创建该文件夹），然后运行 liuhen log checkpoint。", "Mount the witness disk (or create the folder) and run `liuhen log checkpoint`."))
        path = self.folder / file_name(size, root)
        try:
            write_new(path, note, 0o400)
        except FileExistsError:
            try:
                same = path.read_bytes() == note
            except OSError as e:
                raise AnchorFailed(said(f"见证文件 {path} 存在但无法读取：{e}", f"The witness file {path} exists but cannot be read: {e}."),
                                   said("请检查见证文件夹的权限。", "Check the witness folder's permissions.")) from e
            if not same:
                raise AnchorFailed(said(f"见证文件 {path} 已保存了另一个检查点 {size}", f"The witness file {path} already holds a different checkpoint {size}."),
                                   said("两份不同的日志声称同样的大小：请调查；切勿删除该文件。", "Two different logs claim the same size: investigate; never delete the file.")) from None
        except OSError as e:
            raise AnchorFailed(said(f"无法将检查点 {size} 写入见证文件夹 {self.folder}：{e}", f"Checkpoint {size} could not be written to the witness folder {self.folder}: {e}."),
                               said("请释放见证磁盘空间或修正其权限，然后运行 liuhen log checkpoint。", "Free space or fix permissions on the witness disk, then run `liuhen log checkpoint`.")) from e
        return str(path)

    def notes(self) -> list[tuple[str, bytes]]:
        if not self.folder.is_dir():
            raise AnchorFailed(said(f"无法读取见证文件夹 {self.folder}", f"The witness folder {self.folder} cannot be read."),
                               said("请挂载见证磁盘，然后重新运行 liuhen verify。", "Mount the witness disk and run `liuhen verify` again."))
        try:
            return [(str(p), p.read_bytes()) for p in sorted(self.folder.glob("checkpoint-*.note"))]
        except OSError as e:
            raise AnchorFailed(said(f"无法读取见证文件夹 {self.folder}：{e}", f"The witness folder {self.folder} cannot be read: {e}."),
                               said("请修正见证磁盘的权限，然后重新运行 liuhen verify。", "Fix the witness disk's permissions and run `liuhen verify` again.")) from e


class S3Anchor:
    def __init__(self, client: Any, bucket: str, prefix: str, *, mode: str = "COMPLIANCE", days: int = 3650) -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix
        self.mode, self.days = mode, days
        self.name = f"s3://{bucket}/{prefix}"

    def put(self, size: int, root: bytes, note: bytes) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        key = self.prefix + file_name(size, root)
        until = dt.datetime.now(dt.UTC) + dt.timedelta(days=self.days)
        try:
            resp = self.client.put_object(
                Bucket=self.bucket, Key=key, Body=note, ContentType="text/plain; charset=utf-8",
                ContentMD5=_md5_b64(note), ObjectLockMode=self.mode, ObjectLockRetainUntilDate=until)
        except (BotoCoreError, ClientError) as e:
            raise AnchorFailed(said(f"无法将检查点 {size} 存入 {self.name}：{e}", f"Checkpoint {size} could not be put to {self.name}: {e}."),
                               said("请检查存储桶（已启用对象锁定）、凭据和网络，然后运行 liuhen log checkpoint。", "Check the bucket (Object Lock enabled), the credentials and the network, then "
                                    "run `liuhen log checkpoint`.")) from e
        return f"{self.name}{file_name(size, root)}?versionId={resp.get('VersionId')}"

    def notes(self) -> list[tuple[str, bytes]]:
        from botocore.exceptions import BotoCoreError, ClientError

        out: list[tuple[str, bytes]] = []
        try:
            pages = self.client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=self.prefix)
            for page in pages:
                for v in page.get("Versions", []):
                    body = self.client.get_object(Bucket=self.bucket, Key=v["Key"], VersionId=v["VersionId"])["Body"]
                    out.append((f"s3://{self.bucket}/{v['Key']}?versionId={v['VersionId']}", body.read()))
        except (BotoCoreError, ClientError) as e:
            raise AnchorFailed(said(f"无法读取 {self.name} 中的检查点：{e}", f"The checkpoints in {self.name} cannot be read: {e}."),
                               said("请检查凭据和网络，然后重新运行 liuhen verify。", "Check the credentials and the network, then run `liuhen verify` again.")) from e
        return out


def _md5_b64(data: bytes) -> str:
    import base64

    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


class TimestampAuthority:
    def __init__(self, url: str, *, ca_file: Path | None = None, timeout_s: float = 15.0) -> None:
        self.url, self.ca_file, self.timeout_s = url, ca_file, timeout_s
        self.name = f"tsa:{url}"

    def put(self, size: int, root: bytes, note: bytes) -> str:
        import base64
        import subprocess
        import tempfile
        import urllib.error
        import urllib.request

        with tempfile.TemporaryDirectory(prefix="liuhen-tsa-") as tmp:
            data, query, reply = Path(tmp) / "note", Path(tmp) / "query.tsq", Path(tmp) / "reply.tsr"
            data.write_bytes(note)
            try:
                _openssl("ts", "-query", "-data", str(data), "-sha256", "-cert", "-out", str(query))
                req = urllib.request.Request(self.url, data=query.read_bytes(), method="POST",
                                             headers={"Content-Type": "application/timestamp-query"})
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    reply.write_bytes(resp.read())
                status = _openssl("ts", "-reply", "-in", str(reply), "-text")
                if "Status: Granted" not in status:
                    raise AnchorFailed(said(f"时间戳服务 {self.url} 拒绝了检查点 {size}：{status.strip()[:300]}", f"The time-stamping authority {self.url} refused checkpoint {size}: "
                                            f"{status.strip()[:300]}"), said("请检查时间戳服务的策略和请求。", "Check the TSA's policy and the request."))
                if self.ca_file is not None:
                    _openssl("ts", "-verify", "-data", str(data), "-in", str(reply), "-CAfile", str(self.ca_file))
                token = reply.read_bytes()
            except (OSError, urllib.error.URLError, subprocess.CalledProcessError) as e:
                detail = getattr(e, "stderr", "") or str(e)
                raise AnchorFailed(said(f"检查点 {size} 无法由 {self.url} 加盖时间戳：{detail}".strip(), f"Checkpoint {size} could not be time-stamped by {self.url}: {detail}".strip()),
                                   said("请检查时间戳服务能否访问（以及 anchors.tsa_ca_file 是否为其 CA），然后运行 liuhen log checkpoint。", "Check that the TSA is reachable (and anchors.tsa_ca_file is its CA), then run "
                                        "`liuhen log checkpoint`.")) from e
        return base64.b64encode(token).decode()

    def notes(self) -> None:
        return None  # a TSA keeps nothing to read back; its tokens are the receipts


def _openssl(*args: str) -> str:
    import subprocess

    return subprocess.run(["openssl", *args], check=True, capture_output=True, text=True, timeout=60).stdout


def from_settings(settings: Settings) -> tuple[Anchor, ...]:
    """The anchors ``[anchors]`` configures (S3 connection details from ``[s3]``)."""
    a = settings.anchors
    out: list[Anchor] = []
    if a.witness_dir is not None:
        out.append(WitnessFolder(a.witness_dir))
    if a.s3_bucket:
        import boto3
        from botocore.config import Config

        s3 = settings.s3
        client = boto3.session.Session().client(
            "s3", endpoint_url=s3.endpoint_url, region_name=s3.region, aws_access_key_id=s3.access_key_id,
            aws_secret_access_key=s3.secret_access_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"}))
        out.append(S3Anchor(client, a.s3_bucket, a.s3_prefix, mode=a.s3_lock_mode, days=a.s3_lock_days))
    if a.tsa_url:
        out.append(TimestampAuthority(a.tsa_url, ca_file=a.tsa_ca_file))
    return tuple(out)
