"""The GPS track in a recorder's sidecar file.

:func:`gps_track` reads the three sidecar formats body cameras write (Axis-style
``*_gpstrail.json``, NMEA ``$GPRMC`` logs, GPX) into one list of points. A sidecar that cannot be
read raises :class:`MediaError` with the reason; the sidecar stays archived as it is.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from liuhen.words import said
from media.errors import MediaError
from media.probe import _float

SIDECAR_MAX_BYTES = 64 * 1024 * 1024
_NMEA_RMC = re.compile(r"\$(?:GP|GN|GL|GA|GB)RMC,([^*\r\n]*)(?:\*([0-9A-Fa-f]{2}))?")


def _bad(name: str, what: str) -> MediaError:
    return MediaError(
        said(f"无法读取 GPS 附属文件 {name}：{what}", f"The GPS sidecar {name} could not be read: {what}."),
        said("附属文件作为证据原样保存；录像显示时不带地图轨迹。", "The sidecar is kept unchanged as evidence; the recording is shown without a map track."),
    )


def _point(t: datetime | None, lat: float, lon: float) -> dict[str, Any]:
    return {"time": t.astimezone(UTC).isoformat() if t else None, "lat": lat, "lon": lon}


def _coord(v: Any, limit: float) -> float | None:
    if isinstance(v, bool):
        return None
    f = _float(v)
    return f if f is not None and -limit <= f <= limit else None


def _when(v: Any) -> datetime | None:
    """An ISO time (a bare one is UTC) or Unix seconds/milliseconds; None when absent."""
    if v is None:
        return None
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        secs = v / 1000 if v > 1e11 else v
        return datetime.fromtimestamp(secs, UTC)
    dt = datetime.fromisoformat(str(v).strip())
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def _from_json(data: Any, name: str) -> list[dict[str, Any]]:
    if isinstance(data, dict):
        data = data.get("positions")
    if not isinstance(data, list):
        raise _bad(name, 'it is JSON but has no "positions" list')
    points = []
    for i, p in enumerate(data):
        if not isinstance(p, dict):
            raise _bad(name, f"position {i} is not an object")
        lat = _coord(p.get("lat", p.get("latitude")), 90)
        lon = _coord(p.get("lon", p.get("longitude")), 180)
        if lat is None or lon is None:
            raise _bad(name, f"position {i} has no valid lat/lon")
        try:
            t = _when(p.get("time", p.get("timestamp")))
        except (ValueError, OverflowError, OSError):
            raise _bad(name, f"position {i} has an unreadable time {p.get('time')!r}") from None
        points.append(_point(t, lat, lon))
    return points


def _nmea_deg(value: str, hemi: str, degree_digits: int) -> float:
    deg = int(value[:degree_digits])
    minutes = float(value[degree_digits:])
    if minutes >= 60:
        raise ValueError(value)
    out = deg + minutes / 60.0
    return -out if hemi in ("S", "W") else out


def _from_nmea(text: str, name: str) -> list[dict[str, Any]]:
    points = []
    seen = 0
    for line in text.splitlines():
        m = _NMEA_RMC.search(line)
        if not m:
            continue
        seen += 1
        body, checksum = m.group(1), m.group(2)
        if checksum is not None:
            calc = 0
            for ch in m.group(0)[1: m.group(0).index("*")].encode("ascii", "replace"):
                calc ^= ch
            if calc != int(checksum, 16):
                continue  # a garbled sentence: skip it, like a receiver would
        f = body.split(",")
        if len(f) < 9 or f[1] != "A":
            continue  # "V": no fix at this moment
        try:
            hh, mm, ss = int(f[0][0:2]), int(f[0][2:4]), float(f[0][4:])
            dd, mo, yy = int(f[8][0:2]), int(f[8][2:4]), int(f[8][4:6])
            whole = int(ss)
            t = datetime.combine(
                date(2000 + yy if yy < 80 else 1900 + yy, mo, dd),
                time(hh, mm, whole, round((ss - whole) * 1e6) % 1_000_000, tzinfo=UTC),
            )
            lat = _nmea_deg(f[2], f[3], 2)
            lon = _nmea_deg(f[4], f[5], 3)
        except (ValueError, IndexError):
            continue
        if -90 <= lat <= 90 and -180 <= lon <= 180:
            points.append(_point(t, lat, lon))
    if not seen:
        raise _bad(name, "it has no $GPRMC/$GNRMC sentences (they carry the date and position)")
    return points


def _from_gpx(text: str, name: str) -> list[dict[str, Any]]:
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise _bad(name, "GPX with a DTD or entities is not accepted")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise _bad(name, f"it is not well-formed XML ({e})") from None
    points = []
    for i, el in enumerate(e for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "trkpt"):
        lat, lon = _coord(el.get("lat"), 90), _coord(el.get("lon"), 180)
        if lat is None or lon is None:
            raise _bad(name, f"track point {i} has no valid lat/lon")
        t_el = next((c for c in el if c.tag.rsplit("}", 1)[-1] == "time"), None)
        try:
            t = _when(t_el.text) if t_el is not None and t_el.text else None
        except (ValueError, OverflowError):
            raise _bad(name, f"track point {i} has an unreadable time {t_el.text if t_el is not None else None!r}") from None
        points.append(_point(t, lat, lon))
    return points


def gps_track(sidecar_path: Path, *, name: str | None = None) -> list[dict[str, Any]]:
    """Points ``{"time": ISO-8601 UTC or None, "lat", "lon"}`` from a JSON, NMEA or GPX sidecar.

    Raises :class:`MediaError` for anything it cannot read; never anything else.
    """
    path = Path(sidecar_path)
    name = name or path.name
    try:
        with open(path, "rb") as f:
            raw = f.read(SIDECAR_MAX_BYTES + 1)
    except OSError as e:
        raise _bad(name, f"it could not be opened ({e.strerror or e})") from None
    if len(raw) > SIDECAR_MAX_BYTES:
        raise _bad(name, f"it is larger than {SIDECAR_MAX_BYTES // (1024 * 1024)} MiB")
    text = raw.decode("utf-8-sig", "replace").strip()
    if not text:
        raise _bad(name, "it is empty")
    if text[0] in "[{":
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as e:
            raise _bad(name, f"it is not valid JSON ({e})") from None
        return _from_json(data, name)
    if text[0] == "<":
        return _from_gpx(text, name)
    if "$" in text:
        return _from_nmea(text, name)
    raise _bad(name, "it is neither gpstrail JSON, NMEA nor GPX")
