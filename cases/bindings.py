"""The case rows bound to the custody log (``hashing.binding``): cases, parties, steps, links, text
records and their versions. A party's ID number, phone and address enter their hash as an HMAC
under the archive key's secret (``hashing.binding.personal_secret``)."""

from __future__ import annotations

from cases.models import Case, EvidenceLink, Party, Step, TextRecord, TextRecordVersion
from hashing.binding import Binding

CASE = Binding("cases", Case, ("number", "year", "seq", "category", "title", "unit_id", "status", "source",
                               "created_at", "created_by", "closed_at"))
PARTY = Binding("case_parties", Party, ("case_id", "kind", "name", "id_number", "phone", "address"),
                personal=frozenset({"id_number", "phone", "address"}))
STEP = Binding("case_steps", Step, ("case_id", "kind", "place", "started_at", "ended_at", "officers", "note",
                                    "created_at", "created_by"))
LINK = Binding("case_links", EvidenceLink, ("step_id", "evidence_id", "start_s", "end_s", "linked_at", "linked_by",
                                            "unlinked_at", "unlinked_by"))
TEXT_RECORD = Binding("text_records", TextRecord, ("case_id", "step_id", "kind", "title", "created_at",
                                                   "created_by"))
TEXT_RECORD_VERSION = Binding("text_record_versions", TextRecordVersion, (
    "record_id", "version", "sha256", "size", "mime", "file_name", "store_key", "store_version", "form", "manifest",
    "signature", "key_id", "created_at", "created_by"))
BINDINGS = (CASE, PARTY, STEP, LINK, TEXT_RECORD, TEXT_RECORD_VERSION)
