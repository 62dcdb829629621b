"""The station's door into the archive: one interface, in-process or over HTTP.

``LocalIntake`` calls the archive service directly (embedded default: station and archive in
one process). ``HttpIntake`` (``ingest/http_intake.py``) sends the same three calls to a remote
archive's ``/api/v1/intake`` with resumable, offset-checked chunked uploads. The station cannot
tell them apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from archive.dock import StationReport
    from archive.service import Receipt
    from liuhen.runtime import Archive


class Intake(Protocol):
    def register(self, *, station_id: str, public_pem: str) -> None:
        """Make the station's public key known to the archive (first use binds it)."""

    def submit(self, *, manifest: bytes, signature: bytes, path: Path) -> "Receipt":
        """Hand one staged file to the archive; return only when the archive holds it durably.

        Raises ``IntakeRefused`` (file-specific, final) or another ``LiuhenError`` (archive
        unreachable, store full: transient, retry later; the station keeps the file staged).
        """

    def release(self, *, station_id: str, manifest_id: str, action: str) -> None:
        """Tell the archive the station let go of the recorder file ("kept" or "wiped")."""

    def report_status(self, *, station_id: str, report: "StationReport") -> None:
        """Tell the archive what the bays hold now, for the dock dashboard (not evidence: may be lost)."""


class LocalIntake:
    def __init__(self, archive: "Archive") -> None:
        self.archive = archive

    def register(self, *, station_id: str, public_pem: str) -> None:
        from archive.service import register_station

        register_station(self.archive, station_id=station_id, public_pem=public_pem)

    def submit(self, *, manifest: bytes, signature: bytes, path: Path) -> "Receipt":
        from archive.service import receive

        return receive(self.archive, manifest_bytes=manifest, signature=signature, path=path, consume=True)

    def release(self, *, station_id: str, manifest_id: str, action: str) -> None:
        from archive.service import release

        release(self.archive, manifest_id=manifest_id, action=action, station_id=station_id)

    def report_status(self, *, station_id: str, report: "StationReport") -> None:
        from archive.dock import store_report

        store_report(self.archive, station_id=station_id, report=report)
