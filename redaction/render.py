"""The redacted copy: the original decoded, every planned box hidden, encoded again, with a log of it all.

:func:`render` reads the original (never writes next to it, never changes it) and a
:class:`~redaction.plan.Plan`, and writes one H.264 (+AAC) MP4 into ``out_dir``, first as
``<name>.part`` and then renamed, so a crash leaves no file that looks finished. Three processes
work as a pipeline::

    ffmpeg (decode the original, constant frame rate, raw yuv420p) → numpy (hide the boxes) → ffmpeg (encode)

Frame ``i`` is the picture showing at ``t = i / rate`` seconds from the start of the recording
(the rate is the original's, at most :data:`MAX_FPS`; a variable-rate original is resampled to it,
as the browser copy is, so the editor's ``currentTime`` and the render's ``t`` agree). Only the
pixels of the boxes are touched: each box of each track that is not rejected, at ``t``, grown by
``pad`` of its size on every side, is replaced by the means of at most ``cells`` cells across its
smaller side, smoothed across the cells (bilinear) — a face under it cannot be recognised; it is
never a light blur. A ``video`` range hides the whole picture (``black``, or ``blur``: the same
mosaic over the whole frame, ``cells`` across its height). An ``audio`` range is silenced
(``mute``) or replaced by a 1 kHz tone (``tone``) by ffmpeg's ``aeval`` in the encoder; where a mute
and a tone overlap, the mute wins. With no audio range an AAC original's audio is copied as it is.

The encoder settings live in one table, :data:`ENCODE_ARGS` (with :data:`AUDIO_ARGS` and
:data:`CONTAINER_ARGS`), so that ``bench/`` runs a bare decode + encode with exactly the same
settings (:func:`bare_transcode_args`). The output carries no metadata of the original (no GPS,
device or creation time: ``-map_metadata -1``) and is bit-exact for the same plan, original,
ffmpeg and x264 (x264's threads are fixed, not taken from the machine's core count).

The result, :class:`Redacted`, records the commands, the tool version and ``log``: every box as
pixel rectangles on frame ranges per track, and every range applied, so that what was hidden can be
audited without rendering again. :func:`preview_frame` hides one frame with the same code, for the
editor.
"""

from __future__ import annotations

import fcntl
import hashlib
import math
import os
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np

from liuhen.words import said
from media.errors import MediaError
from media.ffmpeg import (
    FFMPEG,
    GLOBAL_ARGS,
    RunResult,
    file_url,
    input_args,
    kill_group,
    limits,
    read_tail,
    run,
    tail_text,
    tool_version,
)
from media.probe import Probe, probe
from redaction.errors import OriginalUnreadable, PlanMismatch, RedactionError, RenderFailed, UnknownEncoder
from redaction.plan import Box, Plan, Range, Track

LOG_FORMAT = "liuhen-redaction-log/1"
ENCODER_GONE = "the encoder stopped before the last frame"
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
PIPE_BYTES = 1 << 20
MAX_FPS = Fraction(60)
TONE_HZ = 1000
TONE_LEVEL = 0.25  # amplitude of the replacing tone (full scale 1.0)

# The one table of encoder settings: the render and the bench's bare transcode both read it.
# x264's threads are fixed so that the same plan gives the same bytes on any machine (x264 is
# deterministic for a given thread count; its default count follows the cores).
ENCODE_ARGS: dict[str, tuple[str, ...]] = {
    "libx264": ("-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-threads", "4", "-pix_fmt", "yuv420p"),
    "h264_nvenc": ("-c:v", "h264_nvenc", "-preset", "p4", "-rc", "vbr", "-cq", "21", "-b:v", "0",
                   "-pix_fmt", "yuv420p"),
}
AUDIO_ARGS: tuple[str, ...] = ("-c:a", "aac", "-b:a", "128k")
CONTAINER_ARGS: tuple[str, ...] = ("-map_metadata", "-1", "-map_chapters", "-1", "-fflags", "+bitexact",
                                   "-movflags", "+faststart", "-f", "mp4")
# CUDA reserves far more address space than it uses: no address-space limit for NVENC
DEFAULT_MEM_MB: dict[str, int | None] = {"libx264": 2048, "h264_nvenc": None}


@dataclass(frozen=True)
class Redacted:
    """A redacted copy as made: where, its hash and size, how (commands, tool versions), and what was hidden."""

    path: Path
    sha256: str
    size: int
    commands: list[list[str]]
    tool_versions: dict[str, str]
    log: dict[str, Any] = field(repr=False)
    seconds: float = field(default=0.0, compare=False)


@dataclass(frozen=True)
class Geometry:
    """The decoded picture: upright, even-sized, at a constant rate."""

    width: int
    height: int
    rate: Fraction
    duration_s: float

    @property
    def frame_bytes(self) -> int:
        return self.width * self.height * 3 // 2

    def t(self, frame: int) -> float:
        return float(frame / self.rate)


# ---------------------------------------------------------------- hiding pixels


def _mosaic(region: np.ndarray, cells: int) -> None:
    """Replace ``region`` (one plane, in place) by the means of at most ``cells`` cells across its
    smaller side, smoothed across the cells."""
    h, w = region.shape
    if h < 1 or w < 1:
        return
    cell = max(1, math.ceil(min(h, w) / max(1, cells)))
    gw, gh = max(1, math.ceil(w / cell)), max(1, math.ceil(h / cell))
    small = cv2.resize(region, (gw, gh), interpolation=cv2.INTER_AREA)
    region[...] = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _even(rect: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int]:
    """``rect`` grown outwards to even edges (the chroma planes are half size)."""
    x0, y0, x1, y1 = rect
    return x0 - x0 % 2, y0 - y0 % 2, min(width, x1 + x1 % 2), min(height, y1 + y1 % 2)


def hidden_rect(box: Box, width: int, height: int, pad: float) -> tuple[int, int, int, int]:
    """The pixels a box hides in a ``width`` × ``height`` frame: padded, rounded outwards, even."""
    return _even(box.padded(pad).pixels(width, height), width, height)


def _planes(buf: Any, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = width * height
    y = np.frombuffer(buf, np.uint8, n).reshape(height, width)
    u = np.frombuffer(buf, np.uint8, n // 4, offset=n).reshape(height // 2, width // 2)
    v = np.frombuffer(buf, np.uint8, n // 4, offset=n + n // 4).reshape(height // 2, width // 2)
    return y, u, v


def _hide_rect(planes: Sequence[np.ndarray], rect: tuple[int, int, int, int], cells: int) -> None:
    x0, y0, x1, y1 = rect
    y, u, v = planes
    _mosaic(y[y0:y1, x0:x1], cells)
    for p in (u, v):
        _mosaic(p[y0 // 2:y1 // 2, x0 // 2:x1 // 2], cells)


def _hide_frame(planes: Sequence[np.ndarray], rects: list[tuple[int, int, int, int]], video: list[Range],
                cells: int) -> None:
    """Hide ``rects`` and apply the video ranges covering this frame (black wins over blur)."""
    y, u, v = planes
    if any(r.effect == "black" for r in video):
        y[...] = 16
        u[...] = 128
        v[...] = 128
        return
    for rect in rects:
        _hide_rect(planes, rect, cells)
    if video:  # blur: the whole frame as a mosaic of ``cells`` across its smaller side
        _hide_rect(planes, (0, 0, y.shape[1], y.shape[0]), cells)


def _hold(rate: Fraction, hold: float) -> float:
    # half a frame on each end: the frame nearest a track's first or last keyframe is hidden too,
    # even when the keyframe's time (rounded to 0.1 ms in the plan) falls a hair outside its own frame
    return hold + 0.5 / float(rate)


def _boxes(plan: Plan, t: float, geo: Geometry, pad: float, hold: float) -> list[tuple[Track, tuple[int, int, int, int]]]:
    return [(tr, hidden_rect(b, geo.width, geo.height, pad))
            for tr, b in plan.boxes_at(t, _hold(geo.rate, hold))]


# ---------------------------------------------------------------- the log


class _TrackLog:
    """Frame runs of one track: its rectangle at a run's first frame, at the frame each keyframe
    falls on, and at its last frame (linear in between, as the plan interpolates)."""

    def __init__(self, track: Track) -> None:
        self.track = track
        self.runs: list[dict[str, Any]] = []
        self._open: dict[str, Any] | None = None
        self._last: tuple[int, tuple[int, int, int, int]] | None = None
        self._key_times = [k.t for k in track.keys]
        self._next_key = 0

    def seen(self, frame: int, t: float, rect: tuple[int, int, int, int]) -> None:
        if self._open is not None and self._last is not None and self._last[0] != frame - 1:
            self._close()
        on_key = False
        while self._next_key < len(self._key_times) and self._key_times[self._next_key] <= t + 1e-9:
            self._next_key += 1
            on_key = True
        if self._open is None:
            self._open = {"from_frame": frame, "from_t": round(t, 4), "boxes": [[frame, *rect]]}
        elif on_key:
            self._open["boxes"].append([frame, *rect])
        self._last = (frame, rect)

    def _close(self) -> None:
        assert self._open is not None and self._last is not None
        frame, rect = self._last
        open_run = self._open
        if open_run["boxes"][-1][0] != frame:
            open_run["boxes"].append([frame, *rect])
        open_run["to_frame"] = frame
        self.runs.append(open_run)
        self._open = None

    def as_json(self, geo: Geometry) -> dict[str, Any]:
        if self._open is not None:
            self._close()
        for r in self.runs:
            r["to_t"] = round(geo.t(r["to_frame"]), 4)
        t = self.track
        return {"id": t.id, "kind": t.kind, "state": t.state, "source": t.source, "hidden": t.hidden,
                "frames": sum(r["to_frame"] - r["from_frame"] + 1 for r in self.runs),
                "runs": [{k: r[k] for k in ("from_frame", "to_frame", "from_t", "to_t", "boxes")} for r in self.runs]}


# ---------------------------------------------------------------- probing and commands


def _check_encoder(encoder: str) -> tuple[str, ...]:
    try:
        return ENCODE_ARGS[encoder]
    except KeyError:
        raise UnknownEncoder(said(f"未知的编码器 {encoder!r}：遮蔽副本只用 {', '.join(ENCODE_ARGS)} 编码",
                                  f"Unknown encoder {encoder!r}: a redacted copy is encoded only with {', '.join(ENCODE_ARGS)}."),
                             said("请选择上述编码器之一；不会悄悄换用其他编码器。",
                                  "Choose one of those; no other encoder is used in its place.")) from None


def _probe(original: Path) -> Probe:
    name = original.name
    try:
        p = probe(original, name=name)
    except MediaError as e:
        raise OriginalUnreadable(said(f"无法读取原始文件 {name}：{e.said.zh}", f"Could not read the original {name}: {e.said.en}"),
                                 said("原始文件未被改动。请核对该文件能否播放；若不能，则无法据此生成遮蔽副本。",
                                      "The original was not changed. Check that it plays; if it does not, no redacted copy can be made from it.")) from e
    if p.video is None:
        raise OriginalUnreadable(said(f"{name} 没有画面，无法生成遮蔽视频", f"{name} has no video stream, so there is no picture to redact."),
                                 said("音频的遮蔽请另行处理。", "Redact audio-only recordings separately."))
    return p


def _geometry(p: Probe) -> Geometry:
    assert p.video is not None
    w, h = p.video.display_size
    rate = Fraction(p.video.frame_rate) if p.video.frame_rate else Fraction(30)
    if rate <= 0 or rate > MAX_FPS:
        rate = MAX_FPS if rate > MAX_FPS else Fraction(30)
    return Geometry(width=w - w % 2, height=h - h % 2, rate=rate, duration_s=p.duration_s or 0.0)


def _vfilter(p: Probe, geo: Geometry) -> list[str]:
    assert p.video is not None
    w, h = p.video.display_size
    if (w, h) == (geo.width, geo.height):
        return []
    return ["-vf", f"crop={geo.width}:{geo.height}:0:0"]  # an odd size loses its last column/row


def _rate_arg(rate: Fraction) -> str:
    return f"{rate.numerator}/{rate.denominator}"


def decode_args(original: Path, p: Probe, geo: Geometry) -> list[str]:
    """The decoder: the original's video, upright, at a constant ``geo.rate``, as raw yuv420p on stdout."""
    assert p.video is not None
    return [FFMPEG, *GLOBAL_ARGS, *input_args(original), "-map", f"0:{p.video.index}", "-an", "-sn", "-dn",
            *_vfilter(p, geo), "-fps_mode", "cfr", "-r", _rate_arg(geo.rate),
            "-pix_fmt", "yuv420p", "-f", "rawvideo", "pipe:1"]


def _audio_filter(ranges: list[Range]) -> str:
    """An ``aeval`` expression: 0 in a mute range, a 1 kHz tone in a tone range, the sound elsewhere."""
    def any_of(rs: list[Range]) -> str:
        return "+".join(f"between(t,{r.start:.6f},{r.end:.6f})" for r in rs)

    mute = [r for r in ranges if r.effect == "mute"]
    tone = [r for r in ranges if r.effect == "tone"]
    expr = "val(ch)"
    if tone:
        expr = f"if({any_of(tone)},{TONE_LEVEL}*sin(2*PI*{TONE_HZ}*t),{expr})"
    if mute:
        expr = f"if({any_of(mute)},0,{expr})"
    return f"aeval=exprs='{expr}':channel_layout=same"


def encode_args(original: Path, p: Probe, geo: Geometry, part: Path, encoder: str, ranges: list[Range]) -> list[str]:
    """The encoder: raw frames from stdin, the original's audio (filtered where ranges say), into ``part``."""
    args = [FFMPEG, *GLOBAL_ARGS, "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{geo.width}x{geo.height}",
            "-r", _rate_arg(geo.rate), "-i", "pipe:0"]
    if p.audio is not None:
        args += [*input_args(original), "-map", "0:v:0", "-map", f"1:{p.audio.index}"]
    else:
        args += ["-map", "0:v:0"]
    args += list(_check_encoder(encoder))
    if p.audio is not None:
        if ranges:
            args += ["-af", _audio_filter(ranges), *AUDIO_ARGS]
        elif p.audio.codec == "aac":
            args += ["-c:a", "copy"]
        else:
            args += list(AUDIO_ARGS)
    return [*args, *CONTAINER_ARGS, file_url(part)]


def bare_transcode_args(original: Path, out: Path, *, encoder: str = "libx264") -> list[str]:
    """A plain decode + encode of ``original`` into ``out`` with the render's settings and nothing hidden
    (one ffmpeg, no pipe): the bench's baseline, and the tests' reference for encoder noise."""
    original = Path(original)
    p = _probe(original)
    geo = _geometry(p)
    assert p.video is not None
    args = [FFMPEG, *GLOBAL_ARGS, *input_args(original), "-map", f"0:{p.video.index}"]
    if p.audio is not None:
        args += ["-map", f"0:{p.audio.index}"]
    args += [*_vfilter(p, geo), "-fps_mode", "cfr", "-r", _rate_arg(geo.rate), *_check_encoder(encoder)]
    if p.audio is not None:
        args += ["-c:a", "copy"] if p.audio.codec == "aac" else list(AUDIO_ARGS)
    return [*args, *CONTAINER_ARGS, file_url(out)]


def _sha256(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        while k := f.readinto(buf):
            h.update(view[:k])
            n += k
    return h.hexdigest(), n


# ---------------------------------------------------------------- the pipeline


class _Proc:
    """One ffmpeg of the pipeline: its process group, limits and the tail of its stderr."""

    def __init__(self, args: list[str], *, stdin: bool, stdout: bool, cpu_s: int | None, mem_mb: int | None) -> None:
        self.args = args
        self.start = time.monotonic()
        env = {**os.environ, "MALLOC_ARENA_MAX": "4"} if mem_mb else None
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE if stdout else subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  start_new_session=True, preexec_fn=limits(cpu_s, mem_mb),  # noqa: PLW1509
                                  env=env)
        for pipe in (self.p.stdin, self.p.stdout):
            if pipe is not None:
                _widen(pipe)
        self._err: list[bytes] = []
        assert self.p.stderr is not None
        self._reader = threading.Thread(target=read_tail, args=(self.p.stderr, self._err), daemon=True)
        self._reader.start()

    def kill(self) -> None:
        if self.p.poll() is None:
            kill_group(self.p)

    def finish(self, timed_out: bool, timeout_s: float) -> RunResult:
        try:
            self.p.wait(timeout=max(1.0, timeout_s))
        except subprocess.TimeoutExpired:
            kill_group(self.p)
            self.p.wait()
            timed_out = True
        self._reader.join(timeout=5)
        for pipe in (self.p.stdin, self.p.stdout, self.p.stderr):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass
        return RunResult(args=self.args, tool=FFMPEG, tool_version=tool_version(FFMPEG), exit_code=self.p.returncode,
                         stderr_tail=tail_text(self._err[0] if self._err else b""),
                         seconds=time.monotonic() - self.start, timed_out=timed_out)


def _widen(pipe: IO[bytes]) -> None:
    """A larger pipe buffer (1 MiB where allowed): fewer wake-ups per 1.4 MB frame."""
    try:
        fcntl.fcntl(pipe.fileno(), F_SETPIPE_SZ, PIPE_BYTES)
    except OSError:  # above /proc/sys/fs/pipe-max-size for this user, or not Linux: the default
        pass


def _read_frame(f: IO[bytes], view: memoryview) -> int:
    got = 0
    while got < len(view):
        k = f.readinto(view[got:])  # type: ignore[attr-defined]
        if not k:
            break
        got += k
    return got


def render(
    original: Path,
    plan: Plan,
    out_dir: Path,
    *,
    encoder: str = "libx264",
    pad: float = 0.2,
    cells: int = 8,
    hold: float = 0.0,
    name: str = "redacted.mp4",
    progress: Callable[[float], None] | None = None,
    cpu_s: int | None = None,
    mem_mb: int | None = None,
    timeout_s: float | None = None,
) -> Redacted:
    """Render ``plan`` over ``original`` into ``out_dir / name``.

    ``hold`` widens every track by that many seconds at both ends (the detector's sampling interval,
    so a face leaving between two samples stays covered); half a frame is always added. ``mem_mb``
    defaults to 2 GiB per ffmpeg for libx264 and none for NVENC; ``timeout_s`` to 120 s + 4 × the
    duration. Raises :class:`OriginalUnreadable`, :class:`PlanMismatch`, :class:`UnknownEncoder` or
    :class:`RenderFailed`; on any failure no file named ``name`` is left behind (nor its ``.part``).
    """
    started = time.monotonic()
    original = Path(original)
    out_dir = Path(out_dir)
    _check_encoder(encoder)
    if pad < 0 or cells < 1:
        raise RedactionError(said("pad 不能为负，cells 至少为 1", "pad cannot be negative and cells must be at least 1"))
    if not original.is_file():
        raise OriginalUnreadable(said(f"找不到原始文件 {original.name}", f"The original {original.name} is not there."),
                                 said("请确认档案库的存储已挂载且可读，然后重试。", "Check that the archive's storage is mounted and readable, then retry."))
    if out_dir.resolve() == original.parent.resolve():
        raise RedactionError(said(f"遮蔽副本不能写在原始文件 {original.name} 旁边", f"A redacted copy is never written next to the original {original.name}."),
                             said("请指定另一个输出目录。", "Give another output folder."))
    original_sha, _ = _sha256(original)
    if original_sha != plan.original_sha256:
        raise PlanMismatch(said(f"遮蔽方案属于另一个文件（SHA-256 {plan.original_sha256[:12]}…），不是 {original.name}（{original_sha[:12]}…）",
                                f"The plan belongs to another file (SHA-256 {plan.original_sha256[:12]}…), not to {original.name} ({original_sha[:12]}…)."),
                           said("请用该录像自己的遮蔽方案。", "Use this recording's own plan."))
    p = _probe(original)
    geo = _geometry(p)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / name
    part = out.with_name(out.name + ".part")
    audio_ranges = plan.audio_ranges() if p.audio is not None else []
    dec_args = decode_args(original, p, geo)
    enc_args = encode_args(original, p, geo, part, encoder, audio_ranges)
    limit_mb = DEFAULT_MEM_MB[encoder] if mem_mb is None else mem_mb
    timeout = timeout_s if timeout_s is not None else 120.0 + 4.0 * geo.duration_s
    expected = max(1, round(geo.duration_s * geo.rate))

    tracks = {t.id: _TrackLog(t) for t in plan.tracks}
    video_frames: dict[str, list[int]] = {r.id: [] for r in plan.ranges if r.kind == "video"}
    frames = 0
    failure: str | None = None
    timed_out = threading.Event()
    dec = _Proc(dec_args, stdin=False, stdout=True, cpu_s=cpu_s, mem_mb=limit_mb)
    enc = _Proc(enc_args, stdin=True, stdout=False, cpu_s=cpu_s, mem_mb=limit_mb)

    def expire() -> None:
        timed_out.set()
        dec.kill()
        enc.kill()

    watchdog = threading.Timer(timeout, expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        buf = bytearray(geo.frame_bytes)
        view = memoryview(buf)
        planes = _planes(buf, geo.width, geo.height)
        assert dec.p.stdout is not None and enc.p.stdin is not None
        while True:
            got = _read_frame(dec.p.stdout, view)
            if got == 0:
                break
            if got < len(buf):
                failure = f"the decoder stopped in the middle of frame {frames}"
                break
            t = geo.t(frames)
            boxes = _boxes(plan, t, geo, pad, hold)
            video = plan.video_ranges_at(t)
            _hide_frame(planes, [r for _, r in boxes], video, cells)
            for tr, rect in boxes:
                tracks[tr.id].seen(frames, t, rect)
            for r in video:
                video_frames[r.id].append(frames)
            try:
                enc.p.stdin.write(view)
            except (BrokenPipeError, ValueError):
                failure = ENCODER_GONE
                break
            frames += 1
            if progress is not None and frames % 15 == 0:
                progress(min(1.0, frames / expected))
        try:
            enc.p.stdin.close()
        except (BrokenPipeError, OSError):
            failure = failure or ENCODER_GONE
        if failure is not None:  # the encoder is gone (or the decoder broke off): stop the decoder too
            dec.kill()
        remaining = timeout - (time.monotonic() - started)
        dec_run = dec.finish(timed_out.is_set(), remaining)
        enc_run = enc.finish(timed_out.is_set(), remaining)
    except BaseException:  # anything unforeseen (or Ctrl-C): no half-written copy stays behind
        dec.kill()
        enc.kill()
        enc.p.wait()
        part.unlink(missing_ok=True)
        raise
    finally:
        watchdog.cancel()
        dec.kill()
        enc.kill()
    names = {file_url(original): original.name, str(original.absolute()): original.name,
             file_url(part): out.name}
    trailer_failed = "Error writing trailer" in enc_run.stderr_tail
    reason: str | None = None
    if timed_out.is_set():
        reason = f"ffmpeg timed out after {timeout:.0f} s"
    elif not dec_run.ok and failure != ENCODER_GONE:  # (a failed encoder gets the decoder killed: its own reason first)
        reason = f"decoding: {dec_run.reason(names)}"
    elif not enc_run.ok or trailer_failed:
        reason = f"encoding: {enc_run.reason(names)}"
    elif failure is not None:
        reason = failure
    elif frames == 0:
        reason = "no frame of the original could be decoded"
    elif not part.exists() or part.stat().st_size == 0:
        reason = "the encoder wrote nothing"
    if reason is not None:
        part.unlink(missing_ok=True)
        raise RenderFailed(said(f"无法生成 {original.name} 的遮蔽副本：{reason}", f"Could not make the redacted copy of {original.name}: {reason}."),
                           said("原始文件未被改动。请重试；如再次失败，请连同此信息报告。",
                                "The original was not changed. Retry; if it fails again, report it with this message."))
    os.replace(part, out)
    sha, size = _sha256(out)
    log = _log(plan, original_sha, geo, frames, encoder, pad, cells, hold, tracks, video_frames, p, audio_ranges)
    if progress is not None:
        progress(1.0)
    return Redacted(path=out, sha256=sha, size=size, commands=[dec_run.args, enc_run.args],
                    tool_versions={FFMPEG: dec_run.tool_version}, log=log, seconds=time.monotonic() - started)


def _log(plan: Plan, original_sha: str, geo: Geometry, frames: int, encoder: str, pad: float, cells: int,
         hold: float, tracks: dict[str, _TrackLog], video_frames: dict[str, list[int]], p: Probe,
         audio_ranges: list[Range]) -> dict[str, Any]:
    ranges = []
    for r in plan.ranges:
        entry: dict[str, Any] = {"id": r.id, "kind": r.kind, "effect": r.effect, "start": round(r.start, 4),
                                 "end": round(r.end, 4), "by": r.by, "why": r.why}
        if r.kind == "video":
            fs = video_frames[r.id]
            entry.update(from_frame=fs[0] if fs else None, to_frame=fs[-1] if fs else None, frames=len(fs))
        else:
            entry["applied"] = r in audio_ranges
        ranges.append(entry)
    return {
        "format": LOG_FORMAT,
        "original_sha256": original_sha,
        "plan_sha256": plan.sha256,
        "width": geo.width,
        "height": geo.height,
        "fps": _rate_arg(geo.rate),
        "frames": frames,
        "frame_time": "t = frame / fps seconds from the start of the recording",
        "encoder": encoder,
        "encode_args": list(ENCODE_ARGS[encoder]),
        "audio": None if p.audio is None else ("copy" if not audio_ranges and p.audio.codec == "aac" else "aac"),
        "metadata": "not copied",
        "tool_version": tool_version(FFMPEG),
        "pad": pad,
        "cells": cells,
        "hold": hold,
        "box": "[frame, x0, y0, x1, y1]: pixels hidden (padded, x1/y1 exclusive), linear between listed frames",
        "tracks": [tracks[t.id].as_json(geo) for t in plan.tracks],
        "ranges": ranges,
    }


# ---------------------------------------------------------------- one frame, for the editor


def preview_frame(
    original: Path,
    plan: Plan,
    t: float,
    *,
    max_width: int = 1280,
    pad: float = 0.2,
    cells: int = 8,
    hold: float = 0.0,
    quality: int = 85,
    timeout_s: float = 30.0,
) -> bytes:
    """A JPEG of the frame the render shows at ``t`` (the frame ``round(t × rate)``), hidden by the
    render's own code, at most ``max_width`` wide."""
    original = Path(original)
    p = _probe(original)
    geo = _geometry(p)
    last = max(0, math.ceil(geo.duration_s * geo.rate) - 1)
    frame = min(last, max(0, round(t * geo.rate)))
    at = max(0.0, (frame - 0.5) / float(geo.rate))
    assert p.video is not None
    args = [FFMPEG, *GLOBAL_ARGS, "-ss", f"{at:.6f}", *input_args(original), "-map", f"0:{p.video.index}",
            *_vfilter(p, geo), "-frames:v", "1", "-pix_fmt", "yuv420p", "-f", "rawvideo", "pipe:1"]
    r = run(args, timeout_s=timeout_s, capture_stdout=True)
    if not r.ok or len(r.stdout) < geo.frame_bytes:
        why = r.reason({file_url(original): original.name}) if not r.ok else f"no frame at {t:.3f} s"
        raise RenderFailed(said(f"无法读取 {original.name} 在 {t:.3f} 秒处的画面：{why}",
                                f"Could not read the picture of {original.name} at {t:.3f} s: {why}."),
                           said("请换一个时间点，或检查该文件能否播放。", "Try another time, or check that the file plays."))
    buf = bytearray(r.stdout[:geo.frame_bytes])
    planes = _planes(buf, geo.width, geo.height)
    ft = geo.t(frame)
    _hide_frame(planes, [rect for _, rect in _boxes(plan, ft, geo, pad, hold)], plan.video_ranges_at(ft), cells)
    yuv = np.frombuffer(buf, np.uint8).reshape(geo.height * 3 // 2, geo.width)
    bgr = cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR_I420)
    if geo.width > max_width:
        h = max(2, round(geo.height * max_width / geo.width))
        bgr = cv2.resize(bgr, (max_width, h), interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", bgr, [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise RenderFailed(said("无法编码预览图", "Could not encode the preview picture."), "")
    return bytes(jpeg.tobytes())


__all__ = ["AUDIO_ARGS", "CONTAINER_ARGS", "ENCODE_ARGS", "Redacted", "bare_transcode_args", "hidden_rect",
           "preview_frame", "render"]
