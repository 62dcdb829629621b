"""The station agent (采集站): offload docked recorders into the archive, losing nothing.

For each stable file in each bay: recognise its layout → copy into staging while hashing →
sign a manifest → record it as ``staged`` in the station's ledger → hand it to the archive →
on the archive's acknowledgement record ``acked`` → (wipe from the recorder only if config
says so) → tell the archive the file was released → ``released``. A crash at any point
resumes from the ledger: staged files are re-sent (the archive treats a re-sent manifest as
the same sighting), acknowledged ones are released, half-copied ones resume.

One loop (``_Loop``) walks the dock for both ``liuhen ingest --once`` (``Station.offload_once``,
one pass) and ``liuhen station watch`` (``Station.watch``, passes until stopped); in both several
files are copied and hashed at once (``[station] parallel``, one per core by default), each while
the ones before it are sent, and a full disk halts intake with a message naming the disk and what
to do: ``--once`` then exits 1, the watcher waits and tries again. A file whose last change is
already older than ``stable_seconds`` is offloaded without waiting again.

Wiping (``delete_after_offload``): a recorder file is deleted only once the archive has itself
re-read the stored original and found it whole (``Intake.confirm``). A remote archive re-hashes
every upload before it acknowledges it; the embedded archive stores the station's own stream
digest (one hash pass) and re-reads the original, cold, when the station asks, which it does
after the pass's copies are done, so that the wipe waits for that check and the copies do not.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
import queue
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import liuhen
from hashing import digest as digesting
from hashing import keys
from ingest.errors import (
    FileRefused,
    IngestHalted,
    RecorderGone,
    StagingFull,
    StationError,
)
from ingest.layouts import Recogniser
from ingest.ledger import Entry, FileKey, Ledger
from ingest.scan import Candidate, Refusal, list_bays, scan_bay
from ingest.staging import WINDOW, copy_and_hash, open_recorder_file
from ingest.staging import buffers as staging_buffers
from ingest.wire import Intake, IntakeRefused, Manifest, StoreFull, display_path
from liuhen.config import StationSettings
from liuhen.durable import fsync_path, private_dir, write_durable
from liuhen.errors import LiuhenError
from liuhen.words import said

TOOL = "liuhen-station"
Listener = Callable[[dict[str, Any]], None]
Ident = tuple[str, bytes]  # (bay, raw path in the bay)
Sig = tuple[int, int]  # (size, mtime_ns): a file rewritten in place is a new file


# A full disk (the station's staging disk, the archive's store) stops intake for every file, not
# one: the loop halts, lets the sends in flight finish, and ``offload_once`` raises
# ``IngestHalted`` while ``watch`` waits and tries again.
HALTING = (StagingFull, StoreFull)
FULL_RETRY_SECONDS = 30.0

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
    earlier: bool = False  # archived in an earlier run (known from the station's ledger): evidence_id is it
    # why, as a stable code (an error's ``code`` or one of REASON_CODES): the console shows its word
    reason_code: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


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
        private_dir(settings.state_path)
        self.key = keys.load_or_create(settings.state_path / "station.ed25519")
        self.ledger = Ledger(settings.state_path / "ledger.db")
        self.recogniser = Recogniser(settings)
        self.staging = settings.staging_path
        private_dir(self.staging / "partial")
        self._registered = False
        limit = settings.read_limit_mb_s > 0  # a throttled station is not CPU-bound: one file at a time
        self.parallel = 1 if limit else (settings.parallel or _cores())
        # one ring of buffers per pipeline, reused by every copy
        self._rings: queue.Queue[list[bytearray]] = queue.Queue()
        for _ in range(self.parallel):
            self._rings.put(staging_buffers(settings.chunk_mb << 20))
        self._awaiting: list[Entry] = []  # acknowledged, to be wiped once the archive confirms its check
        self._lock = threading.Lock()
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
        results: list[FileResult] = []
        self._recover(results.append)
        return results

    def _recover(self, report: Callable[[FileResult], None]) -> None:
        self._offline = None  # ask the archive again
        self._try_register()
        known = self.ledger.manifest_ids()
        for d in self.staging.iterdir():
            if d.name != "partial" and d.name not in known:
                shutil.rmtree(d)  # staged but never recorded in the ledger: it was never sent
        for e in self.ledger.by_state("staged"):
            self._answered.add(e.manifest_id)
            try:
                r = self._send(e)
            except StoreFull as err:
                report(self.emit(self._queued(e, err)))
                raise
            report(self.emit(r))
        for e in self.ledger.by_state("acked"):
            self._release(e)
        for e in self.ledger.by_state("released"):
            d = self.staging / e.manifest_id
            if d.exists():
                shutil.rmtree(d)

    # ------------------------------------------------------------------ the station loop

    def offload_once(self, dock_root: Path, *, unstable_timeout: float = 120.0) -> list[FileResult]:
        """Offload everything docked now; return when every file is archived or answered.

        One pass of the station loop (``_Loop``): it ends when no file is still being written, or
        gives such files up after ``unstable_timeout`` seconds. A full disk raises ``IngestHalted``
        carrying every answer given before (``liuhen ingest --once`` exits 1): the file being
        copied stays on the recorder, files already staged stay queued on the station.
        """
        loop = _Loop(self, dock_root, once=True)
        try:
            loop.recover()
            started = time.monotonic()
            while loop.scan():
                if time.monotonic() - started > unstable_timeout:
                    loop.give_up_settling(unstable_timeout)
                    break
                time.sleep(self.settings.poll_seconds)
            loop.collect(keep=0)
            loop.idle()  # the wipes that waited for the archive's own check
            return loop.answers()
        except HALTING as e:
            loop.drain()
            raise IngestHalted(e, loop.answers()) from e
        finally:
            loop.close()

    def watch(self, dock_root: Path, *, stop: threading.Event, on_result: Callable[[FileResult], None],
              changed: Callable[[], set[str]] = set, rescan_seconds: float = 10.0,
              full_retry_seconds: float = FULL_RETRY_SECONDS) -> None:
        """Offload recorders as they are docked, until ``stop`` is set.

        The station loop again, pass after pass: bays named by ``changed()`` (e.g. file-system
        events) are rescanned at once, every bay every ``rescan_seconds`` and while a file
        settles. A file interrupted (recorder unplugged) is offloaded again when it is back and
        stable. A full disk does not stop the station: the halting file's answer says what is
        full and what to do, and after ``full_retry_seconds`` the station re-sends what it holds
        staged and copies again what it could not.
        """
        loop = _Loop(self, dock_root, once=False, on_result=on_result, stop=stop,
                     retry_note=f" The station tries again by itself every {full_retry_seconds:g} s.")
        try:
            recovering = True
            last_full = -math.inf
            while not stop.is_set():
                try:
                    if recovering:
                        loop.recover()
                        recovering = False
                    bays = changed()
                    now = time.monotonic()
                    full = now - last_full > rescan_seconds or bool(loop.settling)
                    if full:
                        last_full = now
                    loop.scan(None if full else bays)
                    loop.collect()
                    loop.idle()
                except HALTING:
                    loop.drain()
                    stop.wait(full_retry_seconds)
                    recovering = True  # re-send what the full disk left staged
                    last_full = -math.inf
                    continue
                stop.wait(self.settings.poll_seconds)
            loop.drain()
        finally:
            loop.close()

    # ------------------------------------------------------------------ one file

    def offload_file(self, c: Candidate) -> FileResult | None:
        """Offload one stable file; None if this run already reported it (re-sent by ``recover``)."""
        staged = self.stage(c)
        if isinstance(staged, Entry):
            r = self.emit(self._send(staged))
            self.release_awaiting()
            return r
        return self.emit(staged) if staged is not None else None

    def stage(self, c: Candidate) -> Entry | FileResult | None:
        """Copy, hash, sign and record one file as staged (the durable half of an offload).

        Returns the ledger entry to send, or a final answer for this file (refused, interrupted,
        already offloaded), or None if this run already reported it."""
        display = f"{c.bay}/{c.display}"
        try:
            fd = open_recorder_file(c.abs, c.size, c.mtime_ns, display)
        except FileRefused as e:
            return self._result(c, "refused", reason=e.diagnostics(), reason_code=e.code)
        except RecorderGone as e:
            return self._result(c, "interrupted", reason=e.diagnostics(), reason_code=e.code)
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

            ring = self._rings.get()
            try:
                # throttled: steps of ~1/8 s at the limit (pauses between small steps, progress that moves)
                window = max(64 << 10, int(limit) // 8) if limit > 0 else WINDOW
                digest = copy_and_hash(fd, part, c.size, display, ring=ring, progress=progress, window=window)
            except RecorderGone as e:
                return self._result(c, "interrupted", reason=e.diagnostics(), reason_code=e.code)
            finally:
                self._rings.put(ring)
            st = os.fstat(fd)
            if st.st_size != c.size or st.st_mtime_ns != c.mtime_ns:
                part.unlink(missing_ok=True)
                return self._result(c, "interrupted", reason=f"{display} changed while it was copied; "
                                    "it is offloaded again once the recorder stops writing it",
                                    reason_code="changed_while_copied")
        finally:
            os.close(fd)

        now = dt.datetime.now(dt.UTC)
        m = Manifest(
            manifest_id=str(uuid.uuid4()), station_id=self.settings.id, station_key_id=self.key.key_id,
            bay=c.bay, layout=rec.layout, original_path=rel_text, original_path_hex=c.rel.hex(),
            path_encoding=encoding, sha256=digest.hex, size=c.size,
            file_mtime=dt.datetime.fromtimestamp(c.mtime_ns / 1e9, dt.UTC).isoformat(),
            staged_at=now.isoformat(), tool=TOOL, tool_version=liuhen.__version__,
            hash_tool=f"{digesting.TOOL} ({digesting.TOOL_VERSION})", device_id=rec.device_id,
            officer_id=rec.officer_id, recorded_at=rec.recorded_at.isoformat() if rec.recorded_at else None,
            extra={**rec.extra, "fingerprint": key.fingerprint},
        )
        body = m.to_bytes()
        d = self.staging / m.manifest_id
        try:
            d.mkdir(mode=0o700)
            os.rename(part, d / "data")
            write_durable(d / "manifest.json", body)
            write_durable(d / "manifest.sig", self.key.sign(body))
            fsync_path(d)
            fsync_path(self.staging)
        except OSError as e:
            shutil.rmtree(d, ignore_errors=True)
            raise StagingFull(said(f"采集站无法暂存 {display}：{e.strerror}", f"The station could not stage {display}: {e.strerror}."),
                              said("请释放采集站磁盘空间，然后重新采集；文件仍在记录仪上。", "Free space on the station disk, then offload again; the file is still on the "
                                   "recorder.")) from e
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
                              "from the recorder on the next offload", reason_code="staged_missing", **base)  # type: ignore[arg-type]
        body = (d / "manifest.json").read_bytes()
        sig = (d / "manifest.sig").read_bytes()
        m = Manifest.parse(body)
        if self._offline is not None:
            return FileResult(status="queued", reason=f"{self._offline.diagnostics()} The file is kept on the "
                              "station and sent on the next offload.", device_id=m.device_id,
                              officer_id=m.officer_id, reason_code=self._offline.code, **base)  # type: ignore[arg-type]
        try:
            receipt = self.intake.submit(manifest=body, signature=sig, path=d / "data")
        except IntakeRefused as err:
            shutil.rmtree(d, ignore_errors=True)
            self.ledger.forget_staged(e.manifest_id)
            return FileResult(status="refused", reason=err.diagnostics(), device_id=m.device_id,
                              officer_id=m.officer_id, reason_code=err.code, **base)  # type: ignore[arg-type]
        except StoreFull:
            raise
        except LiuhenError as err:
            return FileResult(status="queued", reason=f"{err.diagnostics()} The file is kept on the station and "
                              "sent on the next offload.", device_id=m.device_id, officer_id=m.officer_id,
                              reason_code=err.code, **base)  # type: ignore[arg-type]
        if receipt.sha256 != m.sha256 or receipt.manifest_id != m.manifest_id or receipt.size != m.size:
            return FileResult(status="queued", reason=f"The archive acknowledged {display} with digest "
                              f"{receipt.sha256}, not the station's {m.sha256}; the file is kept on the station. "
                              "Report this to the archive administrator.", device_id=m.device_id,
                              officer_id=m.officer_id, reason_code="ack_mismatch", **base)  # type: ignore[arg-type]
        self.ledger.acked(e.manifest_id, evidence_id=receipt.evidence_id, status=receipt.status,
                          reason=receipt.reason)
        self.listener({"event": "file_done", "bay": e.bay, "path": display, "status": receipt.status})
        acked = self.ledger.get(e.key)
        assert acked is not None
        if self.settings.delete_after_offload and receipt.verified_by != "archive-rehash":
            with self._lock:  # wiped after the archive's own check (release_awaiting), not before
                self._awaiting.append(acked)
        else:
            self._release(acked)
        return FileResult(status=receipt.status, evidence_id=receipt.evidence_id, reason=receipt.reason,
                          device_id=m.device_id, officer_id=m.officer_id, media_state=receipt.media_state,
                          **base)  # type: ignore[arg-type]

    def release_awaiting(self) -> None:
        """Wipe and release the acknowledged files that waited for the archive's own check."""
        with self._lock:
            todo, self._awaiting = self._awaiting, []
        for e in todo:
            self._release(e)

    def _confirmed(self, e: Entry) -> bool:
        """Has the archive re-read the stored original and found it whole? Asked before a wipe; if it
        cannot say now, the file stays on the recorder and acknowledged in the ledger (asked again
        by ``recover``: when the station next starts, or after a full disk's halt)."""
        try:
            return self.intake.confirm(manifest_id=e.manifest_id)
        except LiuhenError:
            return False

    def _release(self, e: Entry) -> None:
        action = "kept"
        if self.settings.delete_after_offload:
            if not self._confirmed(e):
                return  # stays "acked": the recorder keeps its copy until the check has passed
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

    def _queued(self, e: Entry, err: LiuhenError, note: str = "") -> FileResult:
        """The answer for a staged file the archive could not take now (e.g. its store is full)."""
        rel = bytes.fromhex(e.key.path_hex)
        return FileResult(e.bay, f"{e.bay}/{display_path(rel)[0]}", "queued", path_hex=self._hex(e.bay, rel),
                          sha256=e.sha256, size=e.key.size, reason=f"{err.diagnostics()} The file is kept staged "
                          f"on the station and sent on the next offload.{note}", reason_code=err.code)

    def refusal_result(self, r: Refusal) -> FileResult:
        return self.emit(FileResult(r.bay, f"{r.bay}/{r.display}", "refused", path_hex=self._hex(r.bay, r.rel),
                                    reason=f"{r.bay}/{r.display}: {r.reason}. {r.action}", reason_code=r.code))

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
                            device_id=device_id, officer_id=officer_id, earlier=True,
                            reason=f"already offloaded at {prior.updated_at} as evidence {prior.evidence_id}",
                            reason_code="already_offloaded")


@dataclass
class _Flight:
    """One file on its way: staged (copy + hash) in a pipeline thread, then sent by the sender."""

    ident: Ident
    sig: Sig
    candidate: Candidate
    future: Future[Entry | FileResult | None] | Future[FileResult]
    slot: int | None  # where its answer goes among a pass's answers
    entry: Entry | None = None  # set once staged: then ``future`` is the send


class _Loop:
    """The station loop, shared by ``offload_once`` (one pass) and ``watch`` (passes until stopped).

    It scans the bays, and offloads each file once it has kept its size and time for
    ``stable_seconds`` (at once when its last change is older than that): up to
    ``Station.parallel`` files are staged at the same time (copy + hash + sign, each in its own
    pipeline thread with its own buffers, so every core hashes), and a sender thread hands the
    staged ones to the archive, at most two staged files waiting for it. Each file's state machine
    is ``Station.stage`` then ``Station._send``, so a crash anywhere is recovered alike. A full disk
    (``HALTING``) raises out of ``scan``/``collect``/``recover`` after the file concerned is
    answered: refused and still on the recorder when the station's staging disk is full, queued
    and kept staged when the archive's store is; the files in flight are finished and answered
    (``drain``).

    ``once``: every file is answered once per pass and the answers are kept in scan order.
    Otherwise (watching) nothing is kept, an interrupted file is tried again when it is back,
    and a file rewritten in place is a new file.
    """

    def __init__(self, station: Station, dock_root: Path, *, once: bool,
                 on_result: Callable[[FileResult], None] | None = None, stop: threading.Event | None = None,
                 retry_note: str = "") -> None:
        self.station = station
        self.dock_root = dock_root
        self.once = once
        self.on_result = on_result or (lambda r: None)
        self.stop = stop
        self.retry_note = retry_note  # appended to a full disk's answer: what the station does next
        self.settling: dict[Ident, tuple[int, int, float]] = {}  # size, mtime, since when unchanged
        self.answered: dict[Ident, Sig] = {}
        self.flights: list[_Flight] = []
        self._answers: list[FileResult | None] = []
        self.stagers = ThreadPoolExecutor(max_workers=station.parallel, thread_name_prefix="station-stage")
        self.sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="station-send")
        self._changed = threading.Condition()

    def close(self) -> None:
        self.stagers.shutdown(wait=True)
        self.sender.shutdown(wait=True)

    def answers(self) -> list[FileResult]:
        return [r for r in self._answers if r is not None]

    def answer(self, r: FileResult, ident: Ident | None = None, sig: Sig = (-1, -1),
               slot: int | None = None) -> None:
        if ident is not None and (self.once or r.status != "interrupted"):
            self.answered[ident] = sig
        if self.once:
            if slot is None:
                self._answers.append(r)
            else:
                self._answers[slot] = r
        self.on_result(r)

    def recover(self) -> None:
        self.station._recover(self.answer)

    def idle(self) -> None:
        """Nothing in flight: wipe what waited for the archive's own check (``delete_after_offload``)."""
        if not self.flights:
            self.station.release_awaiting()

    # ------------------------------------------------------------------ scanning

    def scan(self, bays: set[str] | None = None) -> bool:
        """Look at every bay (or only ``bays``) and offload each file that has settled; True while
        some file is still being written."""
        counts: dict[str, int] = {}
        found: set[Ident] = set()
        for bay, bay_path in list_bays(self.dock_root):
            if bays is not None and bay not in bays:
                continue
            items = list(scan_bay(bay, bay_path))
            counts[bay] = len(items)
            for item in items:
                if self.stop is not None and self.stop.is_set():
                    return False
                found.add((item.bay, item.rel))
                self._consider(item)
        if bays is None:
            for gone in set(self.settling) - found:
                del self.settling[gone]  # it vanished (recorder unplugged) before it settled
            self.station.listener({"event": "bays", "bays": counts})
        return bool(self.settling)

    def _is_answered(self, ident: Ident, sig: Sig) -> bool:
        return ident in self.answered if self.once else self.answered.get(ident) == sig

    def _consider(self, item: Candidate | Refusal) -> None:
        ident = (item.bay, item.rel)
        if isinstance(item, Refusal):
            if ident not in self.answered:
                self.answer(self.station.refusal_result(item), ident)
            return
        sig = (item.size, item.mtime_ns)
        if self._is_answered(ident, sig) or any(f.ident == ident for f in self.flights):
            return
        now = time.monotonic()
        stable = self.station.settings.stable_seconds
        prev = self.settling.get(ident)
        if prev is None or prev[:2] != sig:
            if prev is None:
                self.station.seen(item)
            quiet_ns = time.time_ns() - item.changed_ns  # how long ago it last changed, by the file's times
            if prev is None and item.changed_ns and quiet_ns >= stable * 1e9:
                self._offload(item, ident, sig)  # already still for longer than the wait would prove
                return
            self.settling[ident] = (*sig, now)
            return
        if now - prev[2] < stable:
            return
        del self.settling[ident]
        self._offload(item, ident, sig)

    def _offload(self, c: Candidate, ident: Ident, sig: Sig) -> None:
        # room for one more: at most ``parallel`` files staging and two staged waiting for the sender;
        # a full disk halts here, before more is staged
        self._wait(lambda: self._staging() < self.station.parallel and self._sending() <= 2)
        slot = None
        if self.once:
            self._answers.append(None)
            slot = len(self._answers) - 1
        fut = self.stagers.submit(self.station.stage, c)
        fut.add_done_callback(self._notify)
        self.flights.append(_Flight(ident, sig, c, fut, slot))

    def give_up_settling(self, after: float) -> None:
        """Answer the files still being written after ``after`` seconds (``offload_once``)."""
        for (bay, rel), (size, mtime_ns, _) in list(self.settling.items()):
            self.answer(self.station.emit(FileResult(
                bay, f"{bay}/{display_path(rel)[0]}", "refused", path_hex=self.station._hex(bay, rel),
                reason=f"the file was still being written after {after:.0f} s; "
                       "run the offload again once the recorder has finished writing",
                reason_code="still_writing")), (bay, rel), (size, mtime_ns))
        self.settling.clear()

    # ------------------------------------------------------------------ in flight

    def _notify(self, _: object) -> None:
        with self._changed:
            self._changed.notify_all()

    def _staging(self) -> int:
        return sum(f.entry is None for f in self.flights)

    def _sending(self) -> int:
        return sum(f.entry is not None for f in self.flights)

    def _wait(self, ready: Callable[[], bool]) -> None:
        """Answer what has finished until ``ready()``; a full disk raises here (``collect``)."""
        while True:
            self.collect()
            if ready():
                return
            with self._changed:
                if not any(f.future.done() for f in self.flights):
                    self._changed.wait(0.5)

    def collect(self, *, keep: int | None = None) -> None:
        """Answer the files whose staging or sending has finished (staged ones go on to the
        sender); with ``keep``, first wait until at most ``keep`` are in flight. A full disk raises
        here, after its file is answered: refused when staging failed, queued when sending did."""
        if keep is not None:
            self._wait(lambda: len(self.flights) <= keep)
            return
        for f in [f for f in self.flights if f.future.done()]:
            self.flights.remove(f)
            if f.entry is None:
                self._staged(f)
            else:
                self._sent(f)

    def _staged(self, f: _Flight) -> None:
        c = f.candidate
        try:
            staged = f.future.result()
        except StagingFull as e:  # the file stays on the recorder; it is copied again after the halt
            self.answer(self.station.emit(self.station._result(
                c, "refused", reason=f"{e.diagnostics()}{self.retry_note}", reason_code=e.code)), slot=f.slot)
            raise
        except StoreFull as e:  # staged before, re-sent now (Station._known): it stays queued
            self.answer(self.station.emit(self.station._result(
                c, "queued", reason=f"{e.diagnostics()} The file is kept staged on the station and sent on "
                f"the next offload.{self.retry_note}", reason_code=e.code)), f.ident, f.sig, f.slot)
            raise
        if isinstance(staged, Entry):
            f.entry = staged
            f.future = self.sender.submit(lambda e: self.station.emit(self.station._send(e)), staged)
            f.future.add_done_callback(self._notify)
            self.flights.append(f)
        elif staged is None:
            self.answered[f.ident] = f.sig  # this run answered it already (re-sent by recover)
        else:
            self.answer(self.station.emit(staged), f.ident, f.sig, f.slot)

    def _sent(self, f: _Flight) -> None:
        assert f.entry is not None
        try:
            r = f.future.result()
        except HALTING as e:
            self.answer(self.station.emit(self.station._queued(f.entry, e, self.retry_note)),
                        f.ident, f.sig, f.slot)
            raise
        assert isinstance(r, FileResult)
        self.answer(r, f.ident, f.sig, f.slot)

    def drain(self) -> None:
        """Wait for every file in flight; after a halt a full disk is one more answered file, not an error."""
        while self.flights:
            try:
                self.collect(keep=0)
            except HALTING:
                pass
