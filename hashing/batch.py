"""Group commit of custody events: many requests' events in one transaction, one sync to disk.

A read (a search, a page, a play) must leave its custody event before its answer leaves, but it
need not hold the database's write lock while it reads. ``CustodyWriter.append`` hands the event
to one writer thread (per archive, per process) and waits until the transaction holding it has
committed; the thread takes every event waiting at that moment, appends them to the log
(``CustodyLog.record``, in arrival order) and commits once. A request whose event could not be
committed in time, or whose batch failed, gets ``CustodyUnavailable`` and is refused (503): no read
is served without its event. (An event whose waiter gave up may still commit later: it then
records a read that was not answered, which the log may hold; the reverse it never holds.)

On PostgreSQL the same holds: ``record`` locks the head row, so batches of several processes
serialise there as they do on SQLite's write lock.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from hashing.custody import CustodyLog
from liuhen.errors import LiuhenError
from liuhen.words import said

log = logging.getLogger(__name__)


class CustodyUnavailable(LiuhenError):
    code = "custody_unavailable"


@dataclass
class _Pending:
    fields: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    seq: int | None = None


class CustodyWriter:
    """Appends events handed over by many threads in batches; ``append`` returns once committed."""

    def __init__(self, sessions: sessionmaker[Session], custody: CustodyLog, *, timeout_s: float = 30.0,
                 max_batch: int = 500) -> None:
        self.sessions = sessions
        self.custody = custody
        self.timeout_s = timeout_s
        self.max_batch = max_batch
        self._queue: deque[_Pending] = deque()
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.batches = 0  # committed transactions (for tests and the benchmark)
        self.handed = 0  # events handed over

    def append(self, **fields: Any) -> int:
        """Write one custody event (``CustodyLog.record``'s arguments) and return its sequence number once
        the transaction holding it has committed; ``CustodyUnavailable`` if it did not (the caller must not
        serve what the event records)."""
        item = _Pending(fields)
        with self._cv:
            if self._closed:
                raise self._refusal("the archive is shutting down")
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="liuhen-custody-writer", daemon=True)
                self._thread.start()
            self._queue.append(item)
            self.handed += 1
            self._cv.notify()
        if not item.done.wait(self.timeout_s):
            raise self._refusal(f"it was not written within {self.timeout_s:g} s (the database is busy or "
                                "unreachable)")
        if item.error is not None:
            raise self._refusal(f"writing it failed: {type(item.error).__name__}: {item.error}") from item.error
        assert item.seq is not None
        return item.seq

    @staticmethod
    def _refusal(why: str) -> CustodyUnavailable:
        return CustodyUnavailable(
            said("无法记录本次访问，故不予提供", "This read was refused because its custody event could not be "
                 f"recorded: {why}."),
            said("请稍后重试；若持续出现，请管理员检查数据库与日志", "Retry in a moment; if it persists, the "
                 "administrator checks the database (disk space, locks) and the archive's log."))

    def _take(self) -> list[_Pending] | None:
        with self._cv:
            while not self._queue and not self._closed:
                self._cv.wait()
            if not self._queue:
                return None
            n = min(len(self._queue), self.max_batch)
            return [self._queue.popleft() for _ in range(n)]

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            try:
                self._commit(batch)
                self.batches += 1
            except BaseException as e:  # noqa: BLE001 - every waiter learns why; the thread goes on
                log.error("custody batch of %d events not committed: %s: %s", len(batch), type(e).__name__, e)
                for item in batch:
                    item.error = e
                    item.seq = None
            finally:
                for item in batch:
                    item.done.set()

    def _commit(self, batch: list[_Pending]) -> None:
        with self.sessions.begin() as db:
            for item in batch:
                item.seq = self.custody.record(db, **item.fields).seq

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=self.timeout_s)
