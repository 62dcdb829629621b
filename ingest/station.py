"""The station agent (采集站): offload docked recorders into the archive, losing nothing.

For each stable file in each bay: recognise its layout → copy into staging while hashing →
sign a manifest → record it as ``staged`` in the station's ledger → hand it to the archive →
on the archive's acknowledgement record ``acked`` → (wipe from the recorder only if config
says so) → tell the archive the file was released → ``released``. A crash at any point
resumes from the ledger: staged files are re-sent (the archive treats a re-sent manifest as
the same sighting), acknowledged ones are released, half-copied ones resume.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import liuhen
from ingest.wire import IntakeRefused, StoreFull
from hashing import digest as digesting
from hashing import keys
from ingest.errors import FileRefused, RecorderGone, StagingFull, StationError
from ingest.wire import Intake
from ingest.layouts import Recogniser
from ingest.ledger import Entry, FileKey, Ledger
from ingest.wire import Manifest, display_path
from ingest.scan import Candidate, Refusal, list_bays, scan_bay
from ingest.staging import buffers as staging_buffers
from ingest.staging import copy_and_hash, open_recorder_file
from liuhen.config import StationSettings
from liuhen.durable import fsync_path, write_durable
from liuhen.errors import LiuhenError

TOOL = "liuhen-station"
Listener = Callable[[dict[str, Any]], None]


class IngestHalted(LiuhenError):
    """Intake stopped for everything (e.g. a full disk); carries what was done before."""

    code = "ingest_halted"

    def __init__(self, cause: LiuhenError, results: list["FileResult"]) -> None:
        super().__init__(cause.detail, cause.action)
        self.code = cause.code
        self.results = results


@dataclass(frozen=True)
class FileResult:
    bay: str
    path: str  # "<bay>/<path in bay>", readable
    status: str  # archived | duplicate | refused | queued | interrupted
    path_hex: str | None = None  # raw bytes of the path when it is not UTF-8
    sha256: str | None = None
    size: int | None = None
    evidence_id: int | None = None
    reason: str | None = None
    device_id: str | None = None
    officer_id: str | None = None
    media_state: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fingerprint(fd: int, size: int) -> str:
    """SHA-256 of the first and last 64 KiB: tells two files with equal name, size and time apart."""
    h = hashlib.sha256()
    h.update(os.pread(fd, 65536, 0))
    if size > 65536:
        h.update(os.pread(fd, 65536, max(65536, size - 65536)))
    return h.hexdigest()[:32]






class Station:
    def __init__(self, settings: StationSettings, intake: Intake, *, listener: Listener | None = None) -> None:
        self.settings = settings
        self.intake = intake
        self.listener = listener or (lambda event: None)
        settings.state_path.mkdir(parents=True, exist_ok=True)
        self.key = keys.load_or_create(settings.state_path / "station.ed25519")
        self.ledger = Ledger(settings.state_path / "ledger.db")
        self.recogniser = Recogniser(settings)
        self.staging = settings.staging_path
        (self.staging / "partial").mkdir(parents=True, exist_ok=True)
        self._registered = False
        self._ring = staging_buffers(settings.chunk_mb << 20)  # reused by every copy (one at a time)
        self._answered: set[str] = set()
        self._offline: LiuhenError | None = None  # why the archive could not be reached this run  # manifests already reported in this run (by recover)

    def close(self) -> None:
        self.ledger.close()

    # ------------------------------------------------------------------ recovery

    def register(self) -> None:
        if not self._registered:
            self.intake.register(station_id=self.settings.id, public_pem=self.key.public_pem)
            self._registered = True

    def _try_register(self) -> None:
        """Register if the archive answers; if it does not, keep staging (the station works offline)."""
        try:
            self.register()
        except IntakeRefused:
            raise
        except LiuhenError as e:
            self._offline = e

    def recover(self) -> list[FileResult]:
        """Finish what a previous run left: re-send staged files, release acknowledged ones."""
        self._try_register()
        known = self.ledger.manifest_ids()
        for d in self.staging.iterdir():
            if d.name != "partial" and d.name not in known:
                shutil.rmtree(d)  # staged but never recorded in the ledger: it was never sent
        results = []
        for e in self.ledger.by_state("staged"):
            results.append(self.emit(self._send(e)))
            self._answered.add(e.manifest_id)
        for e in self.ledger.by_state("acked"):
            self._release(e)
        for e in self.ledger.by_state("released"):
            d = self.staging / e.manifest_id
            if d.exists():
                shutil.rmtree(d)
        return results

    # ------------------------------------------------------------------ one pass

    def offload_once(self, dock_root: Path, *, unstable_timeout: float = 120.0) -> list[FileResult]:
        """Offload everything docked now; return when every file is archived or answered.

        Staging (copy + hash + sign, in this thread) and sending (the archive's re-hash, store and
        commit, in a sender thread) overlap: file N is sent while file N+1 is copied. Each file's
        state machine is the same as in ``offload_file``, so a crash anywhere is recovered alike.
        """
        results: list[FileResult | tuple[Future[FileResult], Entry]] = list(self.recover())
        done: set[tuple[str, bytes]] = set()
        seen: dict[tuple[str, bytes], tuple[int, int, float]] = {}
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="station-send") as sender:
            inflight: list[Future[FileResult]] = []
            try:
                while True:
                    waiting = False
                    counts: dict[str, int] = {}
                    for bay, bay_path in list_bays(dock_root):
                        items = list(scan_bay(bay, bay_path))
                        counts[bay] = len(items)
                        for item in items:
                            ident = (item.bay, item.rel)
                            if ident in done:
                                continue
                            if isinstance(item, Refusal):
                                done.add(ident)
                                results.append(self.refusal_result(item))
                                continue
                            now = time.monotonic()
                            prev = seen.get(ident)
                            if prev is None or prev[:2] != (item.size, item.mtime_ns):
                                if prev is None:
                                    self.seen(item)
                                seen[ident] = (item.size, item.mtime_ns, now)
                                waiting = True
                                continue
                            if now - prev[2] < self.settings.stable_seconds:
                                waiting = True
                                continue
                            done.add(ident)
                            for f in [f for f in inflight if f.done()]:
                                f.result()  # a full store halts intake here, before staging more
                                inflight.remove(f)
                            try:
                                staged = self.stage(item)
                            except StagingFull as e:
                                results.append(self.emit(self._result(item, "refused", reason=e.diagnostics())))
                                raise
                            if isinstance(staged, Entry):
                                while len(inflight) >= 2:
                                    inflight.pop(0).result()
                                fut = sender.submit(lambda e: self.emit(self._send(e)), staged)
                                inflight.append(fut)
                                results.append((fut, staged))
                            elif staged is not None:
                                results.append(self.emit(staged))
                    self.listener({"event": "bays", "bays": counts})
                    if not waiting:
                        break
                    if time.monotonic() - started > unstable_timeout:
                        for (bay, rel), _ in seen.items():
                            if (bay, rel) not in done:
                                done.add((bay, rel))
                                results.append(self.emit(FileResult(
                                    bay, f"{bay}/{display_path(rel)[0]}", "refused", path_hex=self._hex(bay, rel),
                                    reason=f"the file was still being written after {unstable_timeout:.0f} s; "
                                           "run the offload again once the recorder has finished writing")))
                        break
                    time.sleep(self.settings.poll_seconds)
                return self._resolve(results)
            except (StagingFull, StoreFull) as e:
                raise IngestHalted(e, self._resolve(results, halted=True)) from e

    def _resolve(self, results: list[FileResult | tuple[Future[FileResult], Entry]],
                 halted: bool = False) -> list[FileResult]:
        out = []
        for r in results:
            if isinstance(r, tuple):
                fut, e = r
                try:
                    r = fut.result()
                except (StagingFull, StoreFull) as err:
                    if not halted:
                        raise
                    r = FileResult(e.bay, f"{e.bay}/{display_path(bytes.fromhex(e.key.path_hex))[0]}", "queued",
                                   path_hex=self._hex(e.bay, bytes.fromhex(e.key.path_hex)), sha256=e.sha256,
                                   size=e.key.size, reason=f"{err.diagnostics()} The file is kept staged on the "
                                   "station and sent on the next offload.")
            out.append(r)
        return out

    # ------------------------------------------------------------------ one file

    def offload_file(self, c: Candidate) -> FileResult | None:
        """Offload one stable file; None if this run already reported it (re-sent by ``recover``)."""
        staged = self.stage(c)
        if isinstance(staged, Entry):
            return self.emit(self._send(staged))
        return self.emit(staged) if staged is not None else None

    def stage(self, c: Candidate) -> Entry | FileResult | None:
        """Copy, hash, sign and record one file as staged (the durable half of an offload).

        Returns the ledger entry to send, or a final answer for this file (refused, interrupted,
        already offloaded), or None if this run already reported it."""
        display = f"{c.bay}/{c.display}"
        try:
            fd = open_recorder_file(c.abs, c.size, c.mtime_ns, display)
        except FileRefused as e:
            return self._result(c, "refused", reason=e.diagnostics())
        except RecorderGone as e:
            return self._result(c, "interrupted", reason=e.diagnostics())
        try:
            rel_text, encoding = display_path(c.rel)
            rec = self.recogniser.recognise(c.bay, rel_text)
            key = FileKey(rec.device_id or f"bay:{c.bay}", c.rel.hex(), c.size, c.mtime_ns,
                          _fingerprint(fd, c.size))
            prior = self.ledger.get(key)
            if prior is not None:
                return self._known(c, prior, device_id=rec.device_id, officer_id=rec.officer_id)
            self.listener({"event": "file_started", "bay": c.bay, "path": display, "size": c.size})
            part = self.staging / "partial" / (hashlib.sha256(repr(key).encode()).hexdigest()[:32] + ".part")
            limit = self.settings.read_limit_mb_s * (1 << 20)
            t0 = time.monotonic()

            def progress(n: int) -> None:
                self.listener({"event": "progress", "bay": c.bay, "path": display, "done": n, "size": c.size})
                if limit > 0:  # [station] read_limit_mb_s: spare a USB hub shared by many bays
                    ahead = n / limit - (time.monotonic() - t0)
                    if ahead > 0:
                        time.sleep(ahead)

            try:
                digest = copy_and_hash(fd, part, c.size, display, ring=self._ring, progress=progress)
            except RecorderGone as e:
                return self._result(c, "interrupted", reason=e.diagnostics())
            st = os.fstat(fd)
            if st.st_size != c.size or st.st_mtime_ns != c.mtime_ns:
                part.unlink(missing_ok=True)
                return self._result(c, "interrupted", reason=f"{display} changed while it was copied; "
                                    "it is offloaded again once the recorder stops writing it")
        finally:
            os.close(fd)

        now = dt.datetime.now(dt.timezone.utc)
        m = Manifest(
            manifest_id=str(uuid.uuid4()), station_id=self.settings.id, station_key_id=self.key.key_id,
            bay=c.bay, layout=rec.layout, original_path=rel_text, original_path_hex=c.rel.hex(),
            path_encoding=encoding, sha256=digest.hex, size=c.size,
            file_mtime=dt.datetime.fromtimestamp(c.mtime_ns / 1e9, dt.timezone.utc).isoformat(),
            staged_at=now.isoformat(), tool=TOOL, tool_version=liuhen.__version__,
            hash_tool=f"{digesting.TOOL} ({digesting.TOOL_VERSION})", device_id=rec.device_id,
            officer_id=rec.officer_id, recorded_at=rec.recorded_at.isoformat() if rec.recorded_at else None,
            extra={**rec.extra, "fingerprint": key.fingerprint},
        )
        body = m.to_bytes()
        d = self.staging / m.manifest_id
        try:
            d.mkdir()
            os.rename(part, d / "data")
            write_durable(d / "manifest.json", body)
            write_durable(d / "manifest.sig", self.key.sign(body))
            fsync_path(d)
            fsync_path(self.staging)
        except OSError as e:
            shutil.rmtree(d, ignore_errors=True)
            raise StagingFull(f"The station could not stage {display}: {e.strerror}.",
                              "Free space on the station disk, then offload again; the file is still on the "
                              "recorder.") from e
        self.ledger.staged(key, bay=c.bay, manifest_id=m.manifest_id, sha256=digest.hex)
        entry = self.ledger.get(key)
        assert entry is not None
        return entry

    # ------------------------------------------------------------------ talking to the archive

    def _send(self, e: Entry, display: str | None = None) -> FileResult:
        d = self.staging / e.manifest_id
        display = display or f"{e.bay}/{display_path(bytes.fromhex(e.key.path_hex))[0]}"
        base = dict(bay=e.bay, path=display, path_hex=self._hex(e.bay, bytes.fromhex(e.key.path_hex)),
                    sha256=e.sha256, size=e.key.size)
        if not (d / "manifest.json").exists():
            self.ledger.forget_staged(e.manifest_id)
            return FileResult(status="interrupted", reason="the staged copy was missing; it is copied again "
                              "from the recorder on the next offload", **base)  # type: ignore[arg-type]
        body = (d / "manifest.json").read_bytes()
        sig = (d / "manifest.sig").read_bytes()
        m = Manifest.parse(body)
        if self._offline is not None:
            return FileResult(status="queued", reason=f"{self._offline.diagnostics()} The file is kept on the "
                              "station and sent on the next offload.", device_id=m.device_id,
                              officer_id=m.officer_id, **base)  # type: ignore[arg-type]
        try:
            receipt = self.intake.submit(manifest=body, signature=sig, path=d / "data")
        except IntakeRefused as err:
            shutil.rmtree(d, ignore_errors=True)
            self.ledger.forget_staged(e.manifest_id)
            return FileResult(status="refused", reason=err.diagnostics(), device_id=m.device_id,
                              officer_id=m.officer_id, **base)  # type: ignore[arg-type]
        except StoreFull:
            raise
        except LiuhenError as err:
            return FileResult(status="queued", reason=f"{err.diagnostics()} The file is kept on the station and "
                              "sent on the next offload.", device_id=m.device_id, officer_id=m.officer_id,
                              **base)  # type: ignore[arg-type]
        if receipt.sha256 != m.sha256 or receipt.manifest_id != m.manifest_id or receipt.size != m.size:
            return FileResult(status="queued", reason=f"The archive acknowledged {display} with digest "
                              f"{receipt.sha256}, not the station's {m.sha256}; the file is kept on the station. "
                              "Report this to the archive administrator.", device_id=m.device_id,
                              officer_id=m.officer_id, **base)  # type: ignore[arg-type]
        self.ledger.acked(e.manifest_id, evidence_id=receipt.evidence_id, status=receipt.status,
                          reason=receipt.reason)
        self.listener({"event": "file_done", "bay": e.bay, "path": display, "status": receipt.status})
        acked = self.ledger.get(e.key)
        assert acked is not None
        self._release(acked)
        return FileResult(status=receipt.status, evidence_id=receipt.evidence_id, reason=receipt.reason,
                          device_id=m.device_id, officer_id=m.officer_id, media_state=receipt.media_state,
                          **base)  # type: ignore[arg-type]

    def _release(self, e: Entry) -> None:
        action = "kept"
        if self.settings.delete_after_offload:
            action = "wiped"
            self._wipe(e)
        try:
            self.intake.release(station_id=self.settings.id, manifest_id=e.manifest_id, action=action)
        except StationError:
            return  # archive unreachable: released on the next run; the file is safe either way
        self.ledger.released(e.manifest_id)
        shutil.rmtree(self.staging / e.manifest_id, ignore_errors=True)

    def _wipe(self, e: Entry) -> None:
        """Delete the recorder's copy, only if it is still exactly the file the archive acknowledged."""
        path = os.path.join(os.fsencode(self.settings.dock_root), os.fsencode(e.bay), bytes.fromhex(e.key.path_hex))
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return  # already gone (or a re-docked recorder elsewhere): nothing to wipe here
        try:
            st = os.fstat(fd)
            same = (st.st_size, st.st_mtime_ns) == (e.key.size, e.key.mtime_ns) and \
                _fingerprint(fd, st.st_size) == e.key.fingerprint
        finally:
            os.close(fd)
        if same:
            os.unlink(path)

    # ------------------------------------------------------------------ results

    @staticmethod
    def _hex(bay: str, rel: bytes) -> str | None:
        """Raw bytes of "<bay>/<path>" when the name is not UTF-8 (so it can be found exactly)."""
        try:
            rel.decode("utf-8")
            return None
        except UnicodeDecodeError:
            return (bay.encode() + b"/" + rel).hex()

    def _result(self, c: Candidate, status: str, **kw: Any) -> FileResult:
        return FileResult(c.bay, f"{c.bay}/{c.display}", status, path_hex=self._hex(c.bay, c.rel), size=c.size, **kw)

    def refusal_result(self, r: Refusal) -> FileResult:
        return self.emit(FileResult(r.bay, f"{r.bay}/{r.display}", "refused", path_hex=self._hex(r.bay, r.rel),
                                    reason=f"{r.bay}/{r.display}: {r.reason}. {r.action}"))

    def emit(self, r: FileResult) -> FileResult:
        """Tell the listener (progress bars, the dock report) a file's answer; returns it."""
        self.listener({"event": "file_result", **r.to_dict()})
        return r

    def seen(self, c: Candidate) -> None:
        """Tell the listener a file was found in a bay (it is offloaded once stable), with the recorder
        and officer its layout names, so the dashboard shows who is docked before anything is copied."""
        rec = self.recogniser.recognise(c.bay, display_path(c.rel)[0])
        self.listener({"event": "file_seen", "bay": c.bay, "path": f"{c.bay}/{c.display}", "size": c.size,
                       "device_id": rec.device_id, "officer_id": rec.officer_id})

    def _known(self, c: Candidate, prior: Entry, *, device_id: str | None = None,
               officer_id: str | None = None) -> FileResult | None:
        if prior.manifest_id in self._answered:
            return None
        if prior.state == "staged":
            return self._send(prior)
        if prior.state == "acked":
            self._release(prior)
        return self._result(c, "duplicate", sha256=prior.sha256, evidence_id=prior.evidence_id,
                            device_id=device_id, officer_id=officer_id,
                            reason=f"already offloaded at {prior.updated_at} as evidence {prior.evidence_id}")
