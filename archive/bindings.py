"""The archive's rows bound to the custody log (``hashing.binding``): evidence metadata, sightings
and derived files (with their SHA-256). What users add (tags, notes, the important mark) and the
search index are not: they have their own events and change nothing the evidence proves."""

from __future__ import annotations

from archive.models import DerivedFile, Evidence, Sighting
from hashing.binding import Binding

EVIDENCE = Binding("evidence", Evidence, (
    "sha256", "size", "store_key", "store_version", "file_name", "media_kind", "media_state", "media_note",
    "device_id", "officer_id", "recorded_at", "unit_id", "created_at", "recorded_at_source", "playback",
    "playback_note", "duration_s", "width", "height", "video_codec", "audio_codec", "probe_json", "gps_json"))
SIGHTING = Binding("sightings", Sighting, (
    "evidence_id", "manifest_id", "station_id", "bay", "device_id", "officer_id", "layout", "original_path",
    "original_path_hex", "recorded_at", "file_mtime", "manifest", "signature", "station_key_id", "received_at",
    "released_at", "release_action"))
DERIVED = Binding("derived_files", DerivedFile, (
    "evidence_id", "source_sha256", "kind", "sha256", "size", "mime", "store_key", "store_version", "tool",
    "tool_version", "command", "detail", "created_at"))
BINDINGS = (EVIDENCE, SIGHTING, DERIVED)
