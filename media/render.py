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

from liuhen.words import said
from media import mp4
from media.errors import MediaError, Unplayable
from media.ffmpeg import RunResult, compile_command, file_url, input_stream, run
from media.probe import Probe

ENCODERS = ("libx264", "h264_nvenc")
MAX_PROXY_FPS = Fraction(30)
PHOTO_MAX_PX = 1280
POSTER_MAX_HEIGHT = 360
WAVEFORM_SIZE = "1200x200"
SPRITE_COLUMNS = 10
MOOV_BYTES_PER_SAMPLE = 40
MOOV_RESERVE_BASE = 64 * 1024


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
    # ffmpeg (5.1) exits 0 even when it could not finish the file (its trailer: an MP4's index)
    trailer_failed = "Error writing trailer" in r.stderr_tail
    if r.ok and made and not trailer_failed:
        os.replace(part, out)
        return r
    part.unlink(missing_ok=True)
    if r.ok and trailer_failed:
        reason = f"ffmpeg could not finish the file ({r.reason()})"
    elif r.ok:
        reason = "ffmpeg finished but wrote nothing (no frame could be decoded)"
    else:
        reason = r.reason({file_url(part): out.name, file_url(src): probe.name})
    raise Unplayable(said(f"无法生成 {probe.name} 的{what}：{reason}", f"Could not make the {what} of {probe.name}: {reason}."), reason=reason, run=r)


def _output(out: Path) -> str:
    return file_url(out.with_name(out.name + ".part"))


def _need(probe: Probe, stream: str, what: str) -> None:
    if getattr(probe, stream) is None:
        raise MediaError(said(f"{probe.name} 没有{stream}流，因此不生成{what}", f"{probe.name} has no {stream} stream, so it gets no {what}."),
                         said("无需处理：其他派生文件照常生成。", "Nothing to do: other derived files are made as usual."))


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
    ``remux_max_height`` (default: ``max_height``) is only remuxed (streams copied, the index
    written first into room reserved for it, ``-moov_size``; with ``+faststart``'s second pass
    when the sample counts are unknown or the room was too small); anything else
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
        indexes = [probe.video.index]
        if probe.audio is not None:
            streams.append(inp[str(probe.audio.index)])
            indexes.append(probe.audio.index)
        reserve = _moov_reserve(probe, indexes)
        if reserve is not None:
            # the index written into room reserved before the media data: the index is first
            # without +faststart's second pass, which reads and rewrites the whole file
            try:
                r = _render(src, _mp4(streams, out, c="copy", moov_size=reserve), out, probe, "browser copy",
                            timeout_s=timeout, progress=progress)
                return Rendered(out, "proxy", "video/mp4", r, {"path": "remux", "moov_reserved": reserve})
            except Unplayable as e:
                if e.run is None or "reserved_moov_size is too small" not in e.run.stderr_tail:
                    raise
                first = e.run.record()  # the room was too small: remux again with +faststart
        else:
            first = None
        r = _render(src, _mp4(streams, out, c="copy", movflags="+faststart"), out, probe, "browser copy",
                    timeout_s=timeout, progress=progress)
        return Rendered(out, "proxy", "video/mp4", r,
                        {"path": "remux", **({"moov_reserve_failed": first} if first else {})})

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
    if "moov_size" not in opts:
        opts.setdefault("movflags", "+faststart")
    return ffmpeg_python.output(*streams, _output(out), f="mp4", **opts)


def _moov_reserve(probe: Probe, indexes: list[int]) -> int | None:
    """Bytes to reserve for a remux's index: generous per sample (its tables take ~8 bytes a
    sample; 40 covers the worst case of every table at full size), None if a count is unknown."""
    counts = {s.get("index"): s.get("nb_frames") for s in probe.raw.get("streams") or [] if isinstance(s, dict)}
    total = 0
    for i in indexes:
        try:
            n = int(counts.get(i) or 0)
        except (TypeError, ValueError):
            return None
        if n <= 0:
            return None
        total += n
    return MOOV_BYTES_PER_SAMPLE * total + MOOV_RESERVE_BASE


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


# Containers whose index lets ffmpeg seek straight to a keyframe; others are decoded through.
SEEKABLE = {"mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm"}
# Seeked inputs in one ffmpeg: each holds a decoder and a thread, and the run has 2 GiB of
# address space; 50 1080p inputs failed for want of it, 30 did not. Fewer for larger pictures.
SEEK_INPUTS_MAX = 30
SEEK_PIXELS_MAX = 30 * 1920 * 1080
# Decoding every keyframe in one pass costs ~5 ms a keyframe here, a seeked input ~30 ms (its
# own open, index and decoder): with up to 4 keyframes a tile, one pass is the faster.
KEYFRAMES_PER_TILE_MAX = 4


def _jpeg_size(path: Path) -> tuple[int, int]:
    """Width and height from a JPEG's frame header (SOFn), read here instead of by ffprobe."""
    with open(path, "rb") as f:
        data = f.read(1 << 20)
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            h = int.from_bytes(data[pos + 5:pos + 7], "big")
            w = int.from_bytes(data[pos + 7:pos + 9], "big")
            return w, h
        pos += 2 + length
    raise MediaError(said(f"{path.name} 不是可读出尺寸的 JPEG", f"{path.name} is not a JPEG whose size could be read."),
                     said("请重试该任务；如再次失败，请连同该任务的保管事件一并报告。", "Retry the job; if it fails again, report it with the job's custody event."))


def _seeked_tiles(src: Path, probe: Probe, times: list[float], tile_height: int) -> Any:
    """One input per time, each seeked to the keyframe at or before it, one frame each, in a tile row."""
    assert probe.video is not None
    tiles = []
    for t in times:
        # -ss before -i seeks in the index; -noaccurate_seek keeps the keyframe it lands on
        # (the frame showing at or before t) instead of decoding on to t; -skip_frame nokey
        # and one thread keep each input to one decoded picture and a small decoder.
        inp = input_stream(src, ss=f"{t:.3f}", noaccurate_seek=None, skip_frame="nokey", threads=1)
        tiles.append(inp[str(probe.video.index)].filter("trim", end_frame=1)
                     .filter("scale", -2, tile_height).filter("setsar", 1))
    return ffmpeg_python.concat(*tiles, n=len(tiles), v=1, a=0) if len(tiles) > 1 else tiles[0]


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
    ``[i * every_s, (i + 1) * every_s)``. In an MP4/MOV/Matroska original, tile ``i`` is the
    keyframe at or before ``i * every_s``, and no other frame is decoded: ``extra["method"]``
    is ``"keyframes"`` when the clip has at most 4 keyframes a tile (all of them are decoded in
    one pass, the rest skipped) and ``"seeks"`` otherwise (one seek in the index per tile).
    Other containers are decoded through and tile ``i`` is the frame showing at ``i * every_s``
    (``"decode"``).
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
    times = [float(i * every_s) for i in range(n)]
    timeout = timeout_s or _default_timeout(probe, 1.0)
    runs: list[RunResult] = []
    keys = mp4.keyframe_count(src) if probe.mp4_family else None
    if keys is not None and keys[0] > 0 and keys[0] <= KEYFRAMES_PER_TILE_MAX * n:
        method = "keyframes"  # few keyframes: decode each of them, in one pass, and nothing else
    elif SEEKABLE & set(probe.container.split(",")):
        method = "seeks"  # many (or unknown): seek to each tile's keyframe
    else:
        method = "decode"
    if method in ("decode", "keyframes"):
        # the demuxer drops every video packet but keyframes, and the decoder skips any left
        opts = {"discard:v": "nokey", "skip_frame": "nokey"} if method == "keyframes" else {}
        v = input_stream(src, **opts)[str(probe.video.index)]
        if method == "keyframes":  # times after the last keyframe show it (fps stops where it ends)
            v = v.filter("tpad", stop=-1, stop_mode="clone")
        # round=up: output frame i is the last input frame at or before i * every_s,
        # i.e. the frame showing at that moment (the default picks one ~every_s/2 later).
        v = (v.filter("fps", fps=f"1/{every_s}", round="up")
             .filter("trim", end_frame=n)
             .filter("scale", -2, tile_height)
             .filter("tile", f"{SPRITE_COLUMNS}x{rows}"))
        runs.append(_render(src, _jpeg(v, out, quality=4), out, probe, "thumbnail sprite", timeout_s=timeout))
    else:
        per = max(1, min(SEEK_INPUTS_MAX, SEEK_PIXELS_MAX // max(1, probe.video.width * probe.video.height))
                  // SPRITE_COLUMNS) * SPRITE_COLUMNS  # whole rows at a time
        if n <= per:
            v = _seeked_tiles(src, probe, times, tile_height).filter("tile", f"{SPRITE_COLUMNS}x{rows}")
            runs.append(_render(src, _jpeg(v, out, quality=4), out, probe, "thumbnail sprite", timeout_s=timeout))
        else:
            # a long clip: strips of whole rows (raw YUV, as the tiles are), then one JPEG of them stacked
            strips = []
            for k in range(0, n, per):
                part_times = times[k:k + per]
                strip = out_dir / f"sprite-strip{k // per:04d}.y4m"
                v = _seeked_tiles(src, probe, part_times, tile_height).filter(
                    "tile", f"{SPRITE_COLUMNS}x{math.ceil(len(part_times) / SPRITE_COLUMNS)}")
                cmd = v.output(_output(strip), f="yuv4mpegpipe", pix_fmt="yuv420p", **{"frames:v": 1})
                runs.append(_render(src, cmd, strip, probe, "thumbnail sprite", timeout_s=timeout))
                strips.append(strip)
            # (our own intermediate files: read as what they are, not through the originals' whitelist)
            stacked = ffmpeg_python.filter(
                [ffmpeg_python.input(file_url(s), f="yuv4mpegpipe", protocol_whitelist="file")["0"] for s in strips],
                "vstack", inputs=len(strips))
            runs.append(_render(src, _jpeg(stacked, out, quality=4), out, probe, "thumbnail sprite",
                                timeout_s=timeout))
            for s in strips:
                s.unlink(missing_ok=True)

    width, height = _jpeg_size(out)
    tile_w, tile_h = width // SPRITE_COLUMNS, height // rows

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
    extra: dict[str, Any] = {"vtt": vtt, "times": times, "tile": [tile_w, tile_h],
                             "columns": SPRITE_COLUMNS, "rows": rows, "method": method}
    if len(runs) > 1:  # runs[-1] stacked the strips the others made: their commands go with the file
        extra["strips"] = [r.record() for r in runs[:-1]]
    return Rendered(out, "thumbnails", "image/jpeg", runs[-1], extra)


__all__ = ["Rendered", "poster", "proxy", "thumbnails", "waveform"]
