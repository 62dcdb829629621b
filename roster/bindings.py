"""The roster's rows bound to the custody log (``hashing.binding``): officers and recorder assignments.

A recorder's docking (last station, bay, time) is a picture, not an assignment: it is not bound."""

from __future__ import annotations

from hashing.binding import Binding
from roster.models import Certificate, Officer, Recorder

OFFICER = Binding("officers", Officer, ("officer_no", "name", "unit_id", "active", "created_at"))
RECORDER = Binding("recorders", Recorder, ("officer_no", "assigned_at", "assigned_by"), key="device_id",
                   blank_ok=True)
CERTIFICATE = Binding("officer_certificates", Certificate, ("officer_id", "number", "category", "area", "valid_from",
                                                           "valid_until", "revoked_at", "created_at", "created_by"))
BINDINGS = (OFFICER, RECORDER, CERTIFICATE)
