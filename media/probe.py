"""What an original is, as ffprobe sees it.

:func:`probe` runs ffprobe once, bounded by a timeout, and turns its JSON into a frozen
:class:`Probe`; :func:`from_report` rebuilds the same from a stored report without a process. Anything ffprobe cannot read raises :class:`Unplayable` with the reason: the
original stays archived as it is, it only gets no derived files.
(GPS sidecars are ``media.gps``'s.)
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from liuhen.words import said
from media.errors import MediaError, Unplayable
from media.ffmpeg import FFPROBE, RunResult, file_url, input_args, run

Kind = Literal["video", "audio", "photo", "unknown"]

PHOTO_CODECS = {"mjpeg", "png", "webp", "bmp", "tiff", "jpegls", "jpeg2000"}
MP4_FAMILY = {"mov", "mp4", "m4a", "3gp", "3g2"}
VFR_TOLERANCE = 0.02  # r_frame_rate and avg_frame_rate further apart than 2%: variable


@dataclass(frozen=True)
class VideoInfo:
    index: int  # the stream's index in the file (for ``-map 0:<index>``)
    codec: str
    width: int
    height: int
    fps: float | None
    frame_rate: str | None  # the same rate as ffprobe's rational, e.g. "30000/1001"
    rotation: int  # 0/90/180/270, counter-clockwise, as ffprobe reports the display matrix
    pix_fmt: str | None
    vfr: bool

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as shown, after the rotation a player applies."""
        if self.rotation in (90, 270):
            return self.height, self.width
        return self.width, self.height


@dataclass(frozen=True)
class AudioInfo:
    index: int
    codec: str
    channels: int | None
    sample_rate: int | None


@dataclass(frozen=True)
class Probe:
    name: str  # the original's name, used in every message about it
    container: str  # ffprobe's format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    duration_s: float | None
    video: VideoInfo | None
    audio: AudioInfo | None
    creation_time: datetime | None
    kind: Kind
    raw: dict[str, Any] = field(repr=False, compare=False)
    run: RunResult | None = field(repr=False, compare=False)  # None: rebuilt from a stored report

    @property
    def mp4_family(self) -> bool:
        return bool(MP4_FAMILY & set(self.container.split(",")))

    @property
    def browser_safe(self) -> bool:
        """True when a browser plays the streams as they are, so a remux is enough."""
        v, a = self.video, self.audio
        video_ok = v is None or (v.codec == "h264" and v.pix_fmt == "yuv420p" and v.rotation == 0)
        audio_ok = a is None or a.codec == "aac"
        return self.mp4_family and video_ok and audio_ok and (v is not None or a is not None)


# ---------------------------------------------------------------- ffprobe


_NOT_ALLOWED = re.compile(r"\[(\w+) @ [^\]]*\] Format not on whitelist")


def _reason(r: RunResult, path: Path, name: str) -> str:
    """ffprobe's own reason, with the storage path replaced by the original's name."""
    refused = _NOT_ALLOWED.search(r.stderr_tail)
    if refused:
        return f"it is in the {refused.group(1)} format, which the archive does not open"
    return r.reason({file_url(path): name, str(Path(path).absolute()): name, str(path): name})


def _int(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _float(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _rate(v: Any) -> Fraction | None:
    try:
        r = Fraction(str(v))
    except (ValueError, ZeroDivisionError):
        return None
    return r if r > 0 else None


def _rotation(stream: dict[str, Any]) -> int:
    deg: float | None = None
    for sd in stream.get("side_data_list") or []:
        if isinstance(sd, dict) and "rotation" in sd:
            deg = _float(sd.get("rotation"))
            break
    if deg is None:
        tag = _float((stream.get("tags") or {}).get("rotate"))
        if tag is not None:
            deg = -tag  # the legacy tag is clockwise; the display matrix counter-clockwise
    if deg is None:
        return 0
    return round(deg / 90.0) * 90 % 360


def _creation_time(data: dict[str, Any], streams: list[dict[str, Any]]) -> datetime | None:
    candidates = [(data.get("format") or {}).get("tags") or {}]
    candidates += [s.get("tags") or {} for s in streams]
    for tags in candidates:
        text = tags.get("creation_time") if isinstance(tags, dict) else None
        if not isinstance(text, str):
            continue
        try:
            dt = datetime.fromisoformat(text.strip())
        except ValueError:
            continue
        # MP4/MOV store creation time in UTC; a bare value is UTC.
        return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt
    return None


def _pick(streams: list[dict[str, Any]], codec_type: str) -> dict[str, Any] | None:
    for s in streams:
        if s.get("codec_type") != codec_type or not s.get("codec_name"):
            continue
        if (s.get("disposition") or {}).get("attached_pic") == 1:
            continue  # cover art in an MP3 or M4A is not a video
        return s
    return None


def probe(path: Path, *, name: str, timeout_s: float = 30) -> Probe:
    """Probe one local file with ffprobe. Raises :class:`Unplayable` with the reason."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise MediaError(said(f"无法打开 {name} 进行探测：{e.strerror or e}", f"{name} could not be opened for probing: {e.strerror or e}."),
                         said("请确认档案库的存储已挂载且可读，然后重试该任务。", "Check that the archive's storage is mounted and readable, then retry the job.")) from None
    if size == 0:
        raise Unplayable(said(f"{name} 无法播放：文件为空（0 字节）", f"{name} cannot be played: the file is empty (0 bytes)."),
                         reason="the file is empty (0 bytes)")

    args = [FFPROBE, "-hide_banner", "-v", "error", "-print_format", "json",
            "-show_format", "-show_streams", *input_args(path)]
    r = run(args, timeout_s=timeout_s, capture_stdout=True)

    def fail(reason: str) -> Unplayable:
        return Unplayable(said(f"{name} 无法播放：{reason}", f"{name} cannot be played: {reason}."), reason=reason, run=r)

    if r.timed_out:
        raise fail(f"ffprobe timed out after {timeout_s:g} s")
    if r.exit_code != 0:
        raise fail(f"ffprobe could not read it ({_reason(r, path, name)})")
    try:
        data = json.loads(r.stdout.decode("utf-8", "replace"))
    except ValueError:
        raise fail("ffprobe's report on it could not be read") from None
    return from_report(data, name=name, run=r)


def from_report(data: Any, *, name: str, run: RunResult | None = None) -> Probe:
    """A :class:`Probe` from ffprobe's JSON report (``Probe.raw``), e.g. the one a probe job stored.

    The jobs after the probe job read the original's streams from its stored report instead of
    starting ffprobe again: the original never changes, so neither does the report.
    ``run`` is the ffprobe run that made the report, when there is one.
    """
    r = run

    def fail(reason: str) -> Unplayable:
        return Unplayable(said(f"{name} 无法播放：{reason}", f"{name} cannot be played: {reason}."), reason=reason, run=r)

    if not isinstance(data, dict):
        raise fail("ffprobe's report on it could not be read")
    streams = [s for s in data.get("streams") or [] if isinstance(s, dict)]
    fmt = data.get("format") or {}
    container = str(fmt.get("format_name") or "")

    vs, as_ = _pick(streams, "video"), _pick(streams, "audio")
    if vs is None and as_ is None:
        raise fail("ffprobe found no audio or video stream")

    video = None
    if vs is not None:
        width, height = _int(vs.get("width")), _int(vs.get("height"))
        if not width or not height or width <= 0 or height <= 0:
            raise fail("ffprobe found a video stream without a picture size")
        avg, real = _rate(vs.get("avg_frame_rate")), _rate(vs.get("r_frame_rate"))
        rate = avg or real
        vfr = bool(avg and real and abs(real - avg) / real > VFR_TOLERANCE)
        video = VideoInfo(
            index=int(vs.get("index", 0)),
            codec=str(vs["codec_name"]),
            width=width,
            height=height,
            fps=float(rate) if rate else None,
            frame_rate=f"{rate.numerator}/{rate.denominator}" if rate else None,
            rotation=_rotation(vs),
            pix_fmt=vs.get("pix_fmt"),
            vfr=vfr,
        )
    audio = None
    if as_ is not None:
        audio = AudioInfo(index=int(as_.get("index", 0)), codec=str(as_["codec_name"]),
                          channels=_int(as_.get("channels")), sample_rate=_int(as_.get("sample_rate")))

    image_container = container == "image2" or container.endswith("_pipe")
    kind: Kind
    if video is not None and audio is None and image_container and video.codec in PHOTO_CODECS:
        kind = "photo"
        video = replace(video, vfr=False)
    elif video is not None:
        kind = "video"
    elif audio is not None:
        kind = "audio"
    else:
        kind = "unknown"

    duration = _float(fmt.get("duration"))
    if duration is None or duration <= 0:
        durations = [d for s in streams if (d := _float(s.get("duration"))) is not None and d > 0]
        duration = max(durations) if durations else None
    if kind in ("video", "audio") and duration is None:
        raise fail("ffprobe could not find how long it is (no duration)")

    return Probe(name=name, container=container, duration_s=duration, video=video, audio=audio,
                 creation_time=_creation_time(data, streams), kind=kind, raw=data, run=r)
