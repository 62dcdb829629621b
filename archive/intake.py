"""``LocalIntake``: the station's door into an archive in the same process (embedded default).

It calls the archive service directly; ``ingest.http_intake.HttpIntake`` sends the same calls to
a remote archive's ``/api/v1/intake``. The station cannot tell them apart (``ingest.wire.Intake``).

One difference in what is checked when: here the station and the archive share a process and a
disk, so the archive takes the station's streaming SHA-256 of the staged file (which it hard-links
into the store, without reading it again: ``verified_by: station-stream``) and queues its own
re-read as a fixity check; ``confirm`` runs that check (cold) before the station wipes a recorder
file. A remote station's upload is always re-hashed on receipt.
"""

from __future__ import annotations

from pathlib import Path

from archive.context import Archive
from archive.dock import store_report
from archive.service import receive, register_station, release, verify_received
from ingest.wire import Receipt, StationReport


class LocalIntake:
    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    def register(self, *, station_id: str, public_pem: str) -> None:
        register_station(self.archive, station_id=station_id, public_pem=public_pem)

    def submit(self, *, manifest: bytes, signature: bytes, path: Path) -> Receipt:
        return receive(self.archive, manifest_bytes=manifest, signature=signature, path=path, consume=True,
                       trusted=True)

    def confirm(self, *, manifest_id: str) -> bool:
        return verify_received(self.archive, manifest_id=manifest_id)

    def release(self, *, station_id: str, manifest_id: str, action: str) -> None:
        release(self.archive, manifest_id=manifest_id, action=action, station_id=station_id)

    def report_status(self, *, station_id: str, report: StationReport) -> None:
        store_report(self.archive, station_id=station_id, report=report)
