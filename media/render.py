"""Files derived from one original: a browser proxy, a waveform, a poster, a thumbnail sprite.

Each function reads the original, writes only into ``out_dir`` (first to ``<name>.part``, then
renamed, so a retry after a crash starts clean) and returns a frozen :class:`Rendered` with the
exact commands and tool versions that made the file. None of them changes the original. When
ffmpeg fails they raise :class:`Unplayable` with ffmpeg's own last error line.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg as ffmpeg_python

from media.errors import MediaError, Unplayable
from media.ffmpeg import RunResult, compile_command, file_url, input_stream, run
from media.probe import Probe
from media.probe import probe as probe_file

ENCODERS = ("libx264", "h264_nvenc")
MAX_PROXY_FPS = Fraction(30)
PHOTO_MAX_PX = 1280
POSTER_MAX_HEIGHT = 360
WAVEFORM_SIZE = "1200x200"
SPRITE_COLUMNS = 10


@dataclass(frozen=True)
class Rendered:
    path: Path
    kind: str  # "proxy" | "preview" | "waveform" | "poster" | "thumbnails"
    mime: str
    run: RunResult | list[RunResult]
    extra: dict[str, Any] = field(default_factory=dict)


def _default_timeout(probe: Probe, per_media_second: float, base: float = 60.0) -> float:
    return base + per_media_second * (probe.duration_s or 0.0)


def _even_height(limit: int) -> str:
    """A scale height: the input's, capped at ``limit``, rounded down to even (yuv420p needs it)."""
    return f"trunc(min(ih,{limit})/2)*2"


def _render(
    src: Path,
    stream: Any,
    out: Path,
    probe: Probe,
    what: str,
    *,
    timeout_s: float,
    progress: Callable[[float], None] | None = None,
    mem_mb: int | None = 2048,
) -> RunResult:
    """Run one ffmpeg command writing ``out``.part, then move it into place."""
    part = out.with_name(out.name + ".part")
    args = compile_command(stream)
    r = run(args, timeout_s=timeout_s, progress=progress, duration_s=probe.duration_s,
            mem_mb=mem_mb)
    made = part.exists() and part.stat().st_size > 0
    if r.ok and made:
        os.replace(part, out)
        return r
    part.unlink(missing_ok=True)
    if r.ok:
        reason = "ffmpeg finished but wrote nothing (no frame could be decoded)"
    else:
        reason = r.reason({file_url(part): out.name, file_url(src): probe.name})
    raise Unplayable(f"Could not make the {what} of {probe.name}: {reason}.", reason=reason, run=r)


def _output(out: Path) -> str:
    return file_url(out.with_name(out.name + ".part"))


def _need(probe: Probe, stream: str, what: str) -> None:
    if getattr(probe, stream) is None:
        raise MediaError(f"{probe.name} has no {stream} stream, so it gets no {what}.",
                         "Nothing to do: other derived files are made as usual.")


# ---------------------------------------------------------------- proxy


def proxy(
    src: Path,
    out_dir: Path,
    probe: Probe,
    *,
    max_height: int = 720,
    remux_max_height: int | None = None,
    encoder: str = "libx264",
    timeout_s: float | None = None,
    progress: Callable[[float], None] | None = None,
) -> Rendered:
    """A file any browser plays: MP4 for video, M4A for audio, a JPEG preview for a photo.

    Video that is already H.264 yuv420p / AAC in MP4, upright and no taller than
    ``remux_max_height`` (default: ``max_height``) is only remuxed (streams copied, index moved to the front); anything else
    is transcoded to H.264/AAC at constant frame rate, upright, at most ``max_height`` tall.
    """
    if encoder not in ENCODERS:
        raise ValueError(f"encoder must be one of {ENCODERS}, not {encoder!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if probe.kind == "photo":
        return _photo_preview(Path(src), out_dir, probe, timeout_s=timeout_s or 60.0)
    if probe.kind == "audio":
        return _audio_proxy(Path(src), out_dir, probe,
                            timeout_s=timeout_s or _default_timeout(probe, 1.0), progress=progress)
    _need(probe, "video", "video proxy")
    assert probe.video is not None
    timeout = timeout_s or _default_timeout(probe, 3.0, base=120.0)
    out = out_dir / "proxy.mp4"
    inp = input_stream(src)
    streams: list[Any] = []
    # Variable frame rate is transcoded too: it is where browsers drift out of lip sync.
    remux_limit = max_height if remux_max_height is None else remux_max_height
    if probe.browser_safe and probe.video.height <= remux_limit and not probe.video.vfr:
        streams.append(inp[str(probe.video.index)])
        if probe.audio is not None:
            streams.append(inp[str(probe.audio.index)])
        cmd = _mp4(streams, out, c="copy")
        r = _render(src, cmd, out, probe, "browser copy", timeout_s=timeout, progress=progress)
        return Rendered(out, "proxy", "video/mp4", r, {"path": "remux"})

    # ffmpeg turns the picture upright itself (autorotate) before our filters see it, and
    # writes no display matrix on the output; ``ih`` below is the upright height.
    v = inp[str(probe.video.index)].filter("scale", -2, _even_height(max_height))
    v = v.filter("format", "yuv420p")
    streams.append(v)
    if probe.audio is not None:
        streams.append(inp[str(probe.audio.index)])
    rate = Fraction(probe.video.frame_rate) if probe.video.frame_rate else MAX_PROXY_FPS
    rate = min(rate, MAX_PROXY_FPS)
    if encoder == "h264_nvenc":
        venc: dict[str, Any] = {"c:v": "h264_nvenc", "preset": "p4", "cq": 23}
    else:
        venc = {"c:v": "libx264", "preset": "veryfast", "crf": 23}
    audio_opts = {"c:a": "aac", "b:a": "128k", "ac": 2} if probe.audio is not None else {}
    cmd = _mp4(streams, out, **venc, pix_fmt="yuv420p", fps_mode="cfr",
               r=f"{rate.numerator}/{rate.denominator}", **audio_opts)
    # CUDA reserves far more address space than it uses: no RLIMIT_AS for NVENC.
    r = _render(src, cmd, out, probe, "browser copy", timeout_s=timeout, progress=progress,
                mem_mb=None if encoder == "h264_nvenc" else 2048)
    return Rendered(out, "proxy", "video/mp4", r,
                    {"path": "transcode", "encoder": encoder, "fps": float(rate)})


def _mp4(streams: list[Any], out: Path, **opts: Any) -> Any:
    return ffmpeg_python.output(*streams, _output(out), f="mp4", movflags="+faststart", **opts)


def _audio_proxy(src: Path, out_dir: Path, probe: Probe, *, timeout_s: float,
                 progress: Callable[[float], None] | None) -> Rendered:
    assert probe.audio is not None
    out = out_dir / "proxy.m4a"
    a = input_stream(src)[str(probe.audio.index)]
    if probe.browser_safe:
        cmd, path = _mp4([a], out, c="copy"), "remux"
    else:
        cmd, path = _mp4([a], out, **{"c:a": "aac", "b:a": "128k", "ac": 2}), "transcode"
    r = _render(src, cmd, out, probe, "browser copy", timeout_s=timeout_s, progress=progress)
    return Rendered(out, "proxy", "audio/mp4", r, {"path": path})


def _jpeg(stream: Any, out: Path, quality: int = 3) -> Any:
    return stream.output(_output(out), f="image2", vcodec="mjpeg", update=1,
                         **{"frames:v": 1, "q:v": quality})


def _photo_preview(src: Path, out_dir: Path, probe: Probe, *, timeout_s: float) -> Rendered:
    assert probe.video is not None
    out = out_dir / "preview.jpg"
    v = input_stream(src)[str(probe.video.index)].filter(
        "scale", f"min(iw,{PHOTO_MAX_PX})", f"min(ih,{PHOTO_MAX_PX})",
        force_original_aspect_ratio="decrease")
    r = _render(src, _jpeg(v, out), out, probe, "preview", timeout_s=timeout_s)
    return Rendered(out, "preview", "image/jpeg", r, {"max_px": PHOTO_MAX_PX})


# ---------------------------------------------------------------- stills


def waveform(src: Path, out_dir: Path, probe: Probe, *, timeout_s: float | None = None) -> Rendered:
    """A 1200×200 PNG of the audio's waveform."""
    _need(probe, "audio", "waveform")
    assert probe.audio is not None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / "waveform.png"
    w = input_stream(src)[str(probe.audio.index)].filter("showwavespic", s=WAVEFORM_SIZE)
    cmd = w.output(_output(out), f="image2", vcodec="png", update=1, **{"frames:v": 1})
    r = _render(src, cmd, out, probe, "waveform", timeout_s=timeout_s or _default_timeout(probe, 0.5))
    return Rendered(out, "waveform", "image/png", r, {"size": WAVEFORM_SIZE})


def poster(src: Path, out_dir: Path, probe: Probe, *, timeout_s: float = 60.0) -> Rendered:
    """One upright JPEG frame at min(1 s, half the duration), at most 360 px tall."""
    _need(probe, "video", "poster")
    assert probe.video is not None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / "poster.jpg"
    at = round(min(1.0, (probe.duration_s or 0.0) / 2), 3)
    v = input_stream(src, ss=at)[str(probe.video.index)].filter(
        "scale", -2, _even_height(POSTER_MAX_HEIGHT))
    r = _render(src, _jpeg(v, out), out, probe, "poster", timeout_s=timeout_s)
    return Rendered(out, "poster", "image/jpeg", r, {"at_s": at})


# ---------------------------------------------------------------- thumbnails


def _vtt_time(s: float) -> str:
    ms = round(s * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    sec, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{sec:02d}.{ms:03d}"


def thumbnails(
    src: Path,
    out_dir: Path,
    probe: Probe,
    *,
    every_s: int = 10,
    tile_height: int = 90,
    timeout_s: float | None = None,
) -> Rendered:
    """A JPEG sprite of one frame every ``every_s`` seconds, and a WebVTT file pointing into it.

    The sprite is ``10`` tiles wide and ``ceil(n / 10)`` tall; cue ``i`` covers
    ``[i * every_s, (i + 1) * every_s)`` and shows the frame at ``i * every_s``.
    """
    _need(probe, "video", "thumbnails")
    assert probe.video is not None
    if every_s <= 0 or tile_height <= 0:
        raise ValueError("every_s and tile_height must be positive")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / "sprite.jpg"
    duration = probe.duration_s or 0.0
    n = max(1, math.ceil(duration / every_s - 1e-9))
    rows = math.ceil(n / SPRITE_COLUMNS)
    v = (input_stream(src)[str(probe.video.index)]
         # round=up: output frame i is the last input frame at or before i * every_s,
         # i.e. the frame showing at that moment (the default picks one ~every_s/2 later).
         .filter("fps", fps=f"1/{every_s}", round="up")
         .filter("trim", end_frame=n)
         .filter("scale", -2, tile_height)
         .filter("tile", f"{SPRITE_COLUMNS}x{rows}"))
    r = _render(src, _jpeg(v, out, quality=4), out, probe, "thumbnail sprite",
                timeout_s=timeout_s or _default_timeout(probe, 1.0))

    sprite = probe_file(out, name=f"the thumbnail sprite of {probe.name}")
    assert sprite.video is not None
    tile_w, tile_h = sprite.video.width // SPRITE_COLUMNS, sprite.video.height // rows

    times = [float(i * every_s) for i in range(n)]
    lines = ["WEBVTT", ""]
    for i, t in enumerate(times):
        end = min(t + every_s, duration) if duration > t else t + every_s
        x, y = (i % SPRITE_COLUMNS) * tile_w, (i // SPRITE_COLUMNS) * tile_h
        lines += [f"{_vtt_time(t)} --> {_vtt_time(end)}",
                  f"{out.name}#xywh={x},{y},{tile_w},{tile_h}", ""]
    vtt = out_dir / "thumbnails.vtt"
    part = vtt.with_name(vtt.name + ".part")
    part.write_text("\n".join(lines), encoding="utf-8")
    os.replace(part, vtt)
    return Rendered(out, "thumbnails", "image/jpeg", [r, sprite.run],
                    {"vtt": vtt, "times": times, "tile": [tile_w, tile_h],
                     "columns": SPRITE_COLUMNS, "rows": rows})


__all__ = ["Rendered", "poster", "proxy", "thumbnails", "waveform"]
