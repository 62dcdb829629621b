"""``LocalIntake``: the station's door into an archive in the same process (embedded default).

It calls the archive service directly; ``ingest.http_intake.HttpIntake`` sends the same calls to
a remote archive's ``/api/v1/intake``. The station cannot tell them apart (``ingest.wire.Intake``).
"""

from __future__ import annotations

from pathlib import Path

from archive.context import Archive
from archive.dock import store_report
from archive.service import receive, register_station, release
from ingest.wire import Receipt, StationReport


class LocalIntake:
    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    def register(self, *, station_id: str, public_pem: str) -> None:
        register_station(self.archive, station_id=station_id, public_pem=public_pem)

    def submit(self, *, manifest: bytes, signature: bytes, path: Path) -> Receipt:
        return receive(self.archive, manifest_bytes=manifest, signature=signature, path=path, consume=True)

    def release(self, *, station_id: str, manifest_id: str, action: str) -> None:
        release(self.archive, manifest_id=manifest_id, action=action, station_id=station_id)

    def report_status(self, *, station_id: str, report: StationReport) -> None:
        store_report(self.archive, station_id=station_id, report=report)
