"""Recorder layouts: what a docked recorder's files tell about device, officer and time.

Recognisers are tried in order on each file's path relative to its bay:

* ``pattern`` — a configurable file-name pattern, by default
  ``<device>_<officer>_<YYYYMMDDhhmmss>_<seq>.MP4`` (the common 执法记录仪 naming, in the
  station's local time zone);
* ``axis`` — the Axis body-worn layout
  ``<UserID>_<BWCSerial>_<TriggerOnTime>/<StartTime>_<RecordingID>.mp4|mkv`` with its
  ``*_gpstrail.json`` and bookmark files in the same folder;
* ``dcim`` — a generic ``DCIM/`` tree; the recorder is the one bound to the bay in config;
* ``unrecognised`` — anything else is still archived, with the bay's binding if any.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from liuhen.config import BaySettings, StationSettings


@dataclass(frozen=True)
class Recognised:
    layout: str
    device_id: str | None = None
    officer_id: str | None = None
    recorded_at: dt.datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_TIME_FORMATS = ("%Y%m%d%H%M%S", "%Y%m%dT%H%M%S", "%Y-%m-%dT%H-%M-%S", "%Y-%m-%dT%H%M%S", "%Y%m%d_%H%M%S")


def parse_time(text: str, tz: ZoneInfo) -> dt.datetime | None:
    """A recorder timestamp: UTC if it ends in Z, else the station's local time."""
    utc = text.endswith(("Z", "z"))
    core = text[:-1] if utc else text
    for fmt in _TIME_FORMATS:
        try:
            t = dt.datetime.strptime(core, fmt)
        except ValueError:
            continue
        return t.replace(tzinfo=dt.UTC if utc else tz)
    return None


_AXIS_DIR = re.compile(r"^(?P<user>[^_/]+)_(?P<serial>[A-Za-z0-9-]+)_(?P<trigger>\d{8}T?\d{6}Z?)$")
_AXIS_CLIP = re.compile(r"^(?P<start>\d{8}T?\d{6}Z?)_(?P<rec>[A-Za-z0-9-]+)\.(?i:mp4|mkv)$")
_AXIS_SIDE = re.compile(r"^(?P<stem>.+)_(?P<kind>gpstrail|bookmarks?)\.json$", re.IGNORECASE)


class Recogniser:
    def __init__(self, settings: StationSettings) -> None:
        self.tz = ZoneInfo(settings.timezone)
        self.pattern = re.compile(settings.filename_pattern)
        self.bays = settings.bays

    def recognise(self, bay: str, rel: str) -> Recognised:
        """``rel`` is the path inside the bay, '/'-separated, decoded for display."""
        binding = self.bays.get(bay, BaySettings())
        parts = rel.split("/")
        name = parts[-1]

        m = self.pattern.match(name)
        if m:
            g = m.groupdict()
            extra = {k: v for k, v in g.items() if k not in {"device", "officer", "start"} and v is not None}
            return Recognised("pattern", g.get("device") or binding.device, g.get("officer") or binding.officer,
                              parse_time(g["start"], self.tz) if g.get("start") else None, extra)

        if len(parts) >= 2:
            d = _AXIS_DIR.match(parts[-2])
            if d:
                base = {"recording_folder": parts[-2], "bwc_serial": d["serial"],
                        "trigger_on": d["trigger"]}
                c = _AXIS_CLIP.match(name)
                if c:
                    return Recognised("axis", d["serial"], d["user"], parse_time(c["start"], self.tz),
                                      {**base, "recording_id": c["rec"], "role": "clip"})
                s = _AXIS_SIDE.match(name)
                role = "gpstrail" if s and s["kind"].lower() == "gpstrail" else ("bookmarks" if s else "other")
                return Recognised("axis", d["serial"], d["user"], parse_time(d["trigger"], self.tz),
                                  {**base, "role": role})

        if parts[0].upper() == "DCIM":
            return Recognised("dcim", binding.device, binding.officer, None, {})

        return Recognised("unrecognised", binding.device, binding.officer, None, {})
