"""The roster's rows bound to the custody log (``hashing.binding``): officers and recorder assignments.

A recorder's docking (last station, bay, time) is a picture, not an assignment: it is not bound."""

from __future__ import annotations

from hashing.binding import Binding
from roster.models import Officer, Recorder

OFFICER = Binding("officers", Officer, ("officer_no", "name", "unit_id", "active", "created_at"))
RECORDER = Binding("recorders", Recorder, ("officer_no", "assigned_at", "assigned_by"), key="device_id",
                   blank_ok=True)
BINDINGS = (OFFICER, RECORDER)
