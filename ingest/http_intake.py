"""``HttpIntake``: the ``Intake`` of a station that offloads to a remote archive over HTTP.

It speaks ``/api/v1/intake`` (``api/intake.py``): open the upload (the archive checks the
signature before any byte is sent), ask how many bytes it already holds, send the rest in
offset-checked chunks, then ask it to complete. A dropped connection is resumed from the
archive's offset after a short backoff, so accepted bytes are never sent twice. The archive's
``{"code", "detail"}`` errors come back as the same ``LiuhenError`` classes the in-process
``LocalIntake`` raises, so the station cannot tell the two apart; an archive that cannot be
reached is ``ArchiveUnreachable``.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self, TypeVar

import httpx
import tenacity

import liuhen
from hashing.errors import BadSignature
from ingest.errors import ArchiveUnreachable, StationError, UploadChanged
from ingest.wire import (
    DigestMismatch,
    IntakeRefused,
    Manifest,
    ManifestInvalid,
    ObjectMissing,
    Receipt,
    StationMismatch,
    StationNotEnrolled,
    StationReport,
    StoreError,
    StoreFull,
    TokenRefused,
    UploadConflict,
)
from liuhen.errors import ConfigError, LiuhenError, NotFound
from liuhen.words import said

PREFIX = "/api/v1/intake"
T = TypeVar("T")
# what is retried after a backoff: the connection dropped, or the upload changed on the archive
_RETRIED = (httpx.TransportError, UploadChanged)
_KNOWN: dict[str, type[LiuhenError]] = {
    cls.code: cls
    for cls in (IntakeRefused, DigestMismatch, StoreError, StoreFull, ObjectMissing, TokenRefused,
                StationMismatch, StationNotEnrolled, ManifestInvalid, BadSignature, NotFound, ConfigError)
}


def _receipt(data: dict[str, Any]) -> Receipt:
    return Receipt(**{f.name: data[f.name] for f in dataclasses.fields(Receipt) if f.name in data})


class HttpIntake:
    def __init__(self, base_url: str, token: str, *, chunk_bytes: int = 8 * 1024 * 1024,
                 timeout: float = 60.0, complete_timeout: float = 1800.0, retries: int = 5, backoff: float = 0.5,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.chunk_bytes = chunk_bytes
        self.timeout = timeout
        self.complete_timeout = complete_timeout  # the archive re-hashes (and may copy) the whole file
        self.retries = retries
        self.backoff = backoff
        self.client = httpx.Client(
            base_url=self.base_url, transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"Authorization": f"Bearer {token}", "User-Agent": f"liuhen-station/{liuhen.__version__}"})

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ Intake

    def register(self, *, station_id: str, public_pem: str) -> None:
        self._retried(lambda: self._call("POST", "/register",
                                          json={"station_id": station_id, "public_key_pem": public_pem}))

    def release(self, *, station_id: str, manifest_id: str, action: str) -> None:
        self._retried(lambda: self._call("POST", "/release", json={"station_id": station_id,
                                                                    "manifest_id": manifest_id, "action": action}))

    def confirm(self, *, manifest_id: str) -> bool:
        """A remote archive re-hashes every upload when it completes it, before it answers with the
        receipt (``archive.uploads`` → ``archive.service.receive``): an acknowledged file is checked."""
        return True

    def report_status(self, *, station_id: str, report: StationReport) -> None:
        """Send the bays' state for the dock dashboard (once; a lost report is replaced by the next)."""
        self._call("POST", "/status", json=report.model_dump(mode="json"))

    def submit(self, *, manifest: bytes, signature: bytes, path: Path) -> Receipt:
        m = Manifest.parse(manifest)
        try:
            local = path.stat().st_size
        except FileNotFoundError:
            raise DigestMismatch(said(f"{m.original_path} 的暂存副本不见了；未发送", f"The staged copy of {m.original_path} is missing; it was not sent."),
                                 said("下次采集时会从记录仪重新复制。", "It is copied again from the recorder on the next offload.")) from None
        if local != m.size:
            raise DigestMismatch(said(f"{m.original_path} 的暂存副本有 {local} 字节，而不是清单所说的 {m.size} 字节；未发送", f"The staged copy of {m.original_path} has {local} bytes, not the {m.size} its "
                                      "manifest promises; it was not sent."), said("请从记录仪重新采集该文件。", "Offload the file again from the recorder."))
        body = {"manifest_b64": base64.b64encode(manifest).decode(),
                "signature_b64": base64.b64encode(signature).decode()}
        # Consecutive failures are counted since the archive last accepted a chunk: a long upload
        # over a flaky link keeps going as long as it makes progress.
        progressed = 0  # the attempt before the one in which the archive last accepted bytes
        try:
            for attempt in self._retrying(since=lambda: progressed):  # noqa: B023 - the value now, on purpose
                with attempt:
                    up = self._call("POST", "/uploads", json=body).json()
                    if up.get("receipt"):
                        return _receipt(up["receipt"])
                    uid = up["upload_id"]
                    offset = self.offset(uid)  # resume after what the archive holds: no byte is sent twice
                    with open(path, "rb") as f:
                        while offset < m.size:
                            f.seek(offset)
                            chunk = f.read(min(self.chunk_bytes, m.size - offset))
                            if not chunk:
                                raise DigestMismatch(said(f"{m.original_path} 的暂存副本在发送时于第 {offset} 字节处结束", f"The staged copy of {m.original_path} ended at byte "
                                                          f"{offset} while being sent."),
                                                     said("请从记录仪重新采集该文件。", "Offload the file again from the recorder."))
                            offset = self._patch(uid, offset, chunk)
                            progressed = attempt.retry_state.attempt_number - 1
                    done = self._call("POST", f"/uploads/{uid}/complete",
                                      timeout=httpx.Timeout(self.timeout, read=self.complete_timeout))
                    return _receipt(done.json())
        except _RETRIED as e:
            raise self._unreachable(e) from e
        except OSError as e:
            raise StationError(said(f"读取 {m.original_path} 的暂存副本失败：{e.strerror}", f"Reading the staged copy of {m.original_path} failed: {e.strerror}."),
                               said("文件保留在暂存区，下次采集时发送。", "The file stays staged and is sent on the next offload.")) from e
        raise AssertionError("unreachable: tenacity either returns or raises")

    # ------------------------------------------------------------------ protocol

    def offset(self, upload_id: str) -> int:
        """How many bytes of the upload the archive holds (``HEAD``, header ``Upload-Offset``)."""
        r = self._call("HEAD", f"/uploads/{upload_id}")
        return int(r.headers["Upload-Offset"])

    def _patch(self, upload_id: str, offset: int, chunk: bytes) -> int:
        r = self._call("PATCH", f"/uploads/{upload_id}", content=chunk,
                       headers={"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})
        return int(r.headers["Upload-Offset"])

    def _call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        r = self.client.request(method, PREFIX + path, **kw)
        if r.is_success:
            return r
        raise self._error(r)

    def _retrying(self, *, since: Callable[[], int] = lambda: 0) -> tenacity.Retrying:
        """Retry a dropped connection or a changed upload ``retries`` times, waiting ``backoff``,
        2 × ``backoff``, 4 × ... in between; the last failure is re-raised. Failures are counted
        after attempt ``since()`` (the upload moves it on whenever the archive accepts bytes)."""

        def failures(state: tenacity.RetryCallState) -> int:
            return state.attempt_number - since()

        return tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_RETRIED),
            stop=lambda state: failures(state) > self.retries,
            wait=lambda state: self.backoff * 2 ** (failures(state) - 1),
            reraise=True)

    def _retried(self, fn: Callable[[], T]) -> T:
        try:
            return self._retrying()(fn)
        except _RETRIED as e:
            raise self._unreachable(e) from e

    def _error(self, r: httpx.Response) -> Exception:
        if r.request.method == "HEAD":
            # A HEAD answer carries no body: ask again with GET to learn what went wrong.
            again = self.client.get(r.request.url)
            return UploadChanged("the upload changed meanwhile") if again.is_success else self._error(again)
        try:
            data = r.json()
            code, detail = str(data["code"]), str(data["detail"])
        except (ValueError, KeyError, TypeError):
            return ArchiveUnreachable(
                said(f"位于 {self.base_url} 的档案库回答 HTTP {r.status_code} {r.reason_phrase}，但不是档案库的错误。文件安全地保留在采集站上，待其正常回答后发送", f"The archive at {self.base_url} answered HTTP {r.status_code} {r.reason_phrase} without an "
                     "archive error. The files stay safely on the station and will be sent when it answers properly."),
                said("请检查采集站 config.toml 中的 [station] archive_url（应为档案库的基本地址，例如 http://archive:8000）以及中间的代理。", "Check [station] archive_url in the station's config.toml (it should be the archive's base "
                     "address, e.g. http://archive:8000) and any proxy in between."))
        if code == UploadConflict.code or (code == NotFound.code and "/uploads/" in r.request.url.path):
            return UploadChanged(detail)
        cls = _KNOWN.get(code)
        if cls is None:
            err = LiuhenError(detail)
            err.code = code
            return err
        return cls(detail)

    def _unreachable(self, e: Exception) -> ArchiveUnreachable:
        why = str(e) or type(e).__name__
        return ArchiveUnreachable(
            said(f"无法连接位于 {self.base_url} 的档案库：{why}。文件安全地保留在采集站上，恢复连接后发送", f"The archive at {self.base_url} cannot be reached: {why}. The files stay safely on the station and "
                 "will be sent when it is back."),
            said("请检查网线以及档案库是否在运行；采集站在下次采集时重试。", "Check the network cable and that the archive is running; the station retries on the next offload."))
