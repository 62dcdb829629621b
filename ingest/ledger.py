"""The station's durable queue and memory: which recorder files are staged, acknowledged, released.

A small SQLite file of the station's own (the station is a separate program from the archive
and needs no archive database). A file's identity on a recorder is
(recorder, raw path, size, mtime): the same file docked again is recognised; a file rewritten
in place is a new file.

States: ``staged`` (copied, hashed, manifest signed; waiting for the archive) → ``acked``
(the archive holds it durably) → ``released`` (the station let go: kept or wiped).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liuhen.durable import private_file

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
  recorder TEXT NOT NULL,
  path_hex TEXT NOT NULL,
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  fingerprint TEXT NOT NULL,
  bay TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('staged', 'acked', 'released')),
  manifest_id TEXT NOT NULL UNIQUE,
  sha256 TEXT NOT NULL,
  evidence_id INTEGER,
  status TEXT,
  reason TEXT,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (recorder, path_hex, size, mtime_ns, fingerprint)
);
"""


@dataclass(frozen=True)
class FileKey:
    recorder: str
    path_hex: str
    size: int
    mtime_ns: int
    fingerprint: str


@dataclass(frozen=True)
class Entry:
    key: FileKey
    bay: str
    state: str
    manifest_id: str
    sha256: str
    evidence_id: int | None
    status: str | None
    reason: str | None
    updated_at: str


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class Ledger:
    def __init__(self, path: Path) -> None:
        private_file(path)  # 0600 in a 0700 folder; SQLite gives its -wal and -shm the same mode
        self.db = sqlite3.connect(path, isolation_level=None, timeout=60, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        self._lock = threading.Lock()  # the station stages in one thread and sends in another

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self.db.execute(sql, args).fetchall()

    def close(self) -> None:
        self.db.close()

    @staticmethod
    def _entry(row: tuple[Any, ...]) -> Entry:
        return Entry(FileKey(row[0], row[1], row[2], row[3], row[4]), row[5], row[6], row[7], row[8], row[9],
                     row[10], row[11], row[12])

    _COLS = "recorder, path_hex, size, mtime_ns, fingerprint, bay, state, manifest_id, sha256, evidence_id, status, reason, updated_at"

    def get(self, key: FileKey) -> Entry | None:
        rows = self._run(f"SELECT {self._COLS} FROM files WHERE recorder=? AND path_hex=? AND size=? AND mtime_ns=? "
                         "AND fingerprint=?", (key.recorder, key.path_hex, key.size, key.mtime_ns, key.fingerprint))
        return self._entry(rows[0]) if rows else None

    def by_state(self, state: str) -> list[Entry]:
        rows = self._run(f"SELECT {self._COLS} FROM files WHERE state=? ORDER BY updated_at", (state,))
        return [self._entry(r) for r in rows]

    def manifest_ids(self) -> set[str]:
        return {r[0] for r in self._run("SELECT manifest_id FROM files")}

    def staged(self, key: FileKey, *, bay: str, manifest_id: str, sha256: str) -> None:
        self._run(
            "INSERT INTO files (recorder, path_hex, size, mtime_ns, fingerprint, bay, state, manifest_id, sha256,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, 'staged', ?, ?, ?)",
            (key.recorder, key.path_hex, key.size, key.mtime_ns, key.fingerprint, bay, manifest_id, sha256, _now()))

    def acked(self, manifest_id: str, *, evidence_id: int, status: str, reason: str | None) -> None:
        self._run("UPDATE files SET state='acked', evidence_id=?, status=?, reason=?, updated_at=? "
                        "WHERE manifest_id=?", (evidence_id, status, reason, _now(), manifest_id))

    def released(self, manifest_id: str) -> None:
        self._run("UPDATE files SET state='released', updated_at=? WHERE manifest_id=?", (_now(), manifest_id))

    def forget_staged(self, manifest_id: str) -> None:
        """Drop a staged entry whose file the archive refused for good (it stays on the recorder)."""
        self._run("DELETE FROM files WHERE manifest_id=? AND state='staged'", (manifest_id,))
