"""Running ffmpeg and ffprobe on untrusted media: bounded, recorded, never hanging.

Every command runs in its own process group with a wall-clock timeout (the whole group is
killed when it passes), optional CPU and address-space limits and no core dumps. The result
records the exact argument list and the tool's version line, so a derived file can always be
traced to the command that made it. A non-zero exit is data, not an exception: the caller
decides what it means.

Inputs are opened as ``file:`` URLs with ``protocol_whitelist=file`` and a whitelist of
demuxers, so a hostile upload (an HLS or concat playlist named ``.mp4``) cannot make ffmpeg
read other files or the network into a derived file.
"""

from __future__ import annotations

import functools
import os
import queue
import re
import resource
import select
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import ffmpeg as ffmpeg_python

from liuhen.words import said
from media.errors import MediaError

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"

# Demuxers we let ffmpeg open on an original. Playlist and indirection demuxers (hls, concat,
# ffconcat, image2 sequences of other files via patterns aside) are deliberately absent.
ALLOWED_DEMUXERS = (
    "mov", "mp4", "m4a", "3gp", "matroska", "webm", "avi", "mpegts", "mpeg", "asf", "flv",
    "mxf", "wav", "w64", "mp3", "aac", "flac", "ogg", "amr", "caf",
    "h264", "hevc", "m4v", "mjpeg",
    "image2", "jpeg_pipe", "png_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe",
)

# Put first on every ffmpeg command line: quiet except for errors, never read stdin, and
# overwrite the ``.part`` file a crashed earlier attempt may have left.
GLOBAL_ARGS = ("-hide_banner", "-nostdin", "-y", "-loglevel", "error")

STDERR_TAIL_BYTES = 4096
_COMPONENT = re.compile(r"^\[[^\]]* @ 0x[0-9a-fA-F]+\] ")
STDOUT_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class RunResult:
    """One finished (or killed) run of a tool: what ran, which version, how it ended."""

    args: list[str]
    tool: str
    tool_version: str
    exit_code: int
    stderr_tail: str
    seconds: float
    timed_out: bool
    stdout: bytes = field(default=b"", repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    @property
    def command(self) -> str:
        """The argument list as one shell-quoted line, for people and custody events."""
        return shlex.join(self.args)

    @property
    def last_line(self) -> str:
        """The last non-empty line of stderr: usually the error that ended the run."""
        lines = [ln.strip() for ln in self.stderr_tail.splitlines() if ln.strip()]
        return lines[-1] if lines else ""

    def reason(self, names: dict[str, str] | None = None) -> str:
        """Why the run failed, in ffmpeg's words, for a message.

        The last stderr line, preceded by the last component-specific line (``[mov,mp4 @ 0x..]
        moov atom not found``, pointer dropped) when that says more. ``names`` maps paths or
        URLs to what the message should show instead (the original's name, not the storage path).
        """
        if self.timed_out:
            return f"{self.tool} timed out after {self.seconds:.1f} s"
        lines = [ln.strip() for ln in self.stderr_tail.splitlines() if ln.strip()]
        if not lines:
            return f"{self.tool} exited with status {self.exit_code}"
        last = _COMPONENT.sub("", lines[-1])
        specific = next((_COMPONENT.sub("", ln) for ln in reversed(lines[:-1])
                         if _COMPONENT.match(ln)), None)
        text = f"{specific}; {last}" if specific and specific not in last else last
        for path, shown in sorted((names or {}).items(), key=lambda kv: -len(kv[0])):
            text = text.replace(path, shown)
        return text

    def record(self) -> dict[str, Any]:
        """A JSON-ready record of the run for a custody event (no stdout)."""
        return {
            "args": list(self.args),
            "command": self.command,
            "tool": self.tool,
            "tool_version": self.tool_version,
            "exit_code": self.exit_code,
            "stderr_tail": self.stderr_tail,
            "seconds": round(self.seconds, 3),
            "timed_out": self.timed_out,
        }


def _not_installed(binary: str) -> MediaError:
    return MediaError(
        said(f"媒体工具 {binary!r} 未安装或不在 PATH 中，任何媒体任务都无法运行", f"The media tool {binary!r} is not installed or not on PATH, so no media job can run."),
        said("请安装 ffmpeg（提供 ffmpeg 和 ffprobe；make setup 会安装），然后重试该任务。", "Install ffmpeg (it provides ffmpeg and ffprobe; `make setup` does this) and retry the job."),
    )


@functools.lru_cache(maxsize=8)
def tool_version(binary: str = FFMPEG) -> str:
    """The first line of ``binary -version`` (``--version`` for other tools), cached per binary."""
    for flag in ("-version", "--version"):
        try:
            cp = subprocess.run([binary, flag], stdin=subprocess.DEVNULL, capture_output=True,
                                timeout=10, check=False)
        except FileNotFoundError:
            raise _not_installed(binary) from None
        except (OSError, subprocess.TimeoutExpired):
            continue
        first = cp.stdout.decode("utf-8", "replace").strip().splitlines()
        if cp.returncode == 0 and first:
            return first[0].strip()
    return "unknown"


def input_stream(path: Path, **options: Any) -> Any:
    """An ffmpeg-python input for a local original, opened with the safe whitelists."""
    return ffmpeg_python.input(file_url(path), protocol_whitelist="file",
                               format_whitelist=",".join(ALLOWED_DEMUXERS), **options)


def input_args(path: Path) -> list[str]:
    """The same safe input options as a plain list (for ffprobe)."""
    return ["-protocol_whitelist", "file", "-format_whitelist", ",".join(ALLOWED_DEMUXERS),
            "-i", file_url(path)]


def file_url(path: Path) -> str:
    """``file:/abs/path``: a name such as ``concat:...`` or ``-x`` is never read as a protocol or option."""
    return "file:" + str(Path(path).absolute())


def compile_command(stream: Any, binary: str = FFMPEG) -> list[str]:
    """ffmpeg-python's argument list, with :data:`GLOBAL_ARGS` placed right after the binary."""
    args: list[str] = stream.compile(cmd=binary)
    return [args[0], *GLOBAL_ARGS, *args[1:]]


# ffmpeg and ffprobe run below normal CPU priority: an offload (the station's copy and hash) and
# the console's requests come first where they share the cores; on a host of their own, or an idle
# one, the tools get every cycle all the same
NICE = 10


def limits(cpu_s: int | None, mem_mb: int | None) -> Callable[[], None]:
    """A preexec_fn setting rlimits and ``NICE`` in the child; values are worked out here, in the parent."""
    wanted: list[tuple[int, int, int]] = [(resource.RLIMIT_CORE, 0, 0)]
    if mem_mb:
        b = int(mem_mb) * 1024 * 1024
        wanted.append((resource.RLIMIT_AS, b, b))
    if cpu_s:
        wanted.append((resource.RLIMIT_CPU, int(cpu_s), int(cpu_s) + 5))
    plan = []
    for which, soft, hard in wanted:
        _, cur_hard = resource.getrlimit(which)
        if cur_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, cur_hard), min(hard, cur_hard)
        plan.append((which, soft, hard))

    def apply() -> None:
        for which, soft, hard in plan:
            resource.setrlimit(which, (soft, hard))
        os.nice(NICE)

    return apply


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def read_tail(f: IO[bytes], out: list[bytes]) -> None:
    tail = bytearray()
    for chunk in iter(lambda: f.read1(65536), b""):  # type: ignore[attr-defined]
        tail += chunk
        if len(tail) > 2 * STDERR_TAIL_BYTES:
            del tail[: len(tail) - STDERR_TAIL_BYTES]
    out.append(bytes(tail[-STDERR_TAIL_BYTES:]))


def _read_capped(f: IO[bytes], out: list[bytes]) -> None:
    buf = bytearray()
    for chunk in iter(lambda: f.read1(65536), b""):  # type: ignore[attr-defined]
        if len(buf) < STDOUT_MAX_BYTES:
            buf += chunk[: STDOUT_MAX_BYTES - len(buf)]
    out.append(bytes(buf))


def _read_progress(f: IO[bytes], q: queue.Queue[float | None], duration_s: float | None) -> None:
    try:
        for raw in f:
            line = raw.strip()
            if line.startswith(b"out_time_us=") and duration_s and duration_s > 0:
                try:
                    us = int(line.split(b"=", 1)[1])
                except ValueError:  # "N/A" before the first frame
                    continue
                q.put(min(1.0, max(0.0, us / 1e6 / duration_s)))
            elif line == b"progress=end":
                q.put(1.0)
    finally:
        q.put(None)  # the pipe closed: the caller stops waiting at once, not after its next timeout


def _wait(proc: subprocess.Popen[bytes], timeout_s: float) -> bool:
    """Wait for ``proc`` to exit, at most ``timeout_s``; True if it did.

    ``Popen.wait(timeout)`` polls with sleeps of up to 50 ms, which added a median ~25 ms to
    every run; a pidfd (Linux 5.3+) is woken the moment the child exits.
    """
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # not Linux, or an old kernel: the polling wait
        try:
            proc.wait(timeout=timeout_s)
            return True
        except subprocess.TimeoutExpired:
            return False
    try:
        ready, _, _ = select.select([fd], [], [], max(0.0, timeout_s))
    finally:
        os.close(fd)
    if ready:
        proc.wait()
        return True
    return proc.poll() is not None


def tail_text(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    if len(raw) >= STDERR_TAIL_BYTES and "\n" in text:
        text = text.split("\n", 1)[1]  # drop the cut-off first line
    return text


def run(
    args: list[str],
    *,
    timeout_s: float,
    progress: Callable[[float], None] | None = None,
    duration_s: float | None = None,
    cpu_s: int | None = None,
    mem_mb: int | None = 2048,
    capture_stdout: bool = False,
) -> RunResult:
    """Run ``args`` bounded by ``timeout_s`` (wall clock), ``cpu_s`` and ``mem_mb``.

    With ``progress`` (for ffmpeg) ``-progress pipe:1 -nostats`` is added and ``progress`` is
    called, in the caller's thread, with the fraction done (``out_time`` / ``duration_s``); if
    it raises, the run is killed and the exception propagates. With ``capture_stdout`` the
    first 64 MiB of stdout are kept in ``RunResult.stdout``. Never raises for the tool's own
    failure or timeout; raises :class:`MediaError` only when the binary is missing.
    """
    args = [str(a) for a in args]
    tool = os.path.basename(args[0])
    version = tool_version(args[0])
    if progress is not None and tool == FFMPEG:
        args = [args[0], "-progress", "pipe:1", "-nostats", *args[1:]]
    want_stdout = progress is not None or capture_stdout
    env = None
    if mem_mb:
        # Fewer malloc arenas: their reserved address space otherwise counts against
        # RLIMIT_AS and grows with the core count, making the memory limit machine-dependent.
        env = {**os.environ, "MALLOC_ARENA_MAX": "4"}

    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if want_stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            # The hook only calls setrlimit and nice (no locks, no allocation-heavy Python), which is
            # what makes preexec_fn acceptable here despite the reader threads.
            preexec_fn=limits(cpu_s, mem_mb),  # noqa: PLW1509
            env=env,
        )
    except FileNotFoundError:
        raise _not_installed(args[0]) from None

    err: list[bytes] = []
    out: list[bytes] = []
    fractions: queue.Queue[float | None] = queue.Queue()
    assert proc.stderr is not None
    readers = [threading.Thread(target=read_tail, args=(proc.stderr, err), daemon=True)]
    if progress is not None:
        assert proc.stdout is not None
        readers.append(threading.Thread(target=_read_progress,
                                        args=(proc.stdout, fractions, duration_s), daemon=True))
    elif capture_stdout:
        assert proc.stdout is not None
        readers.append(threading.Thread(target=_read_capped, args=(proc.stdout, out), daemon=True))
    for t in readers:
        t.start()

    deadline = start + timeout_s
    timed_out = False
    try:
        if progress is None:
            timed_out = not _wait(proc, deadline - time.monotonic())
        else:
            last = -1.0
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = proc.poll() is None
                    break
                try:
                    frac = fractions.get(timeout=min(remaining, 0.2))
                except queue.Empty:
                    continue
                if frac is None:  # stdout closed: the tool has exited (or closed it and is ending)
                    timed_out = not _wait(proc, deadline - time.monotonic())
                    break
                if frac != last:
                    last = frac
                    progress(frac)
    finally:
        if proc.poll() is None:
            kill_group(proc)
        proc.wait()
        for t in readers:
            t.join(timeout=2)
        if any(t.is_alive() for t in readers):
            # A child of the tool still holds the pipes open: end the rest of the group.
            kill_group(proc)
            for t in readers:
                t.join(timeout=2)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()

    return RunResult(
        args=args,
        tool=tool,
        tool_version=version,
        exit_code=proc.returncode,
        stderr_tail=tail_text(err[0] if err else b""),
        seconds=time.monotonic() - start,
        timed_out=timed_out,
        stdout=out[0] if out else b"",
    )
