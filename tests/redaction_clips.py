"""Test clips for redaction: real face photographs moving over a textured background, with the truth.

:func:`make_clip` writes an H.264/AAC MP4 (real ffmpeg; raw frames piped from numpy) in which
``faces`` face images move across a scrolling texture along different straight paths, at sizes
from about 20 px to about 200 px high (each grows or shrinks linearly), some entering or leaving
the frame. The audio is a steady 440 Hz tone, so that a muted stretch is measurable as silence
and a replaced one as 1 kHz.

The faces are two photographs shipped with scikit-image, both free to redistribute:
``skimage.data.astronaut()`` (Eileen Collins, NASA, public domain) and ``skimage.data.camera()``
(the cameraman, CC0 by Lav Varshney); each face is a crop of the head, flipped, tinted or turned
grey for variety.

The returned :class:`Truth` says, for every frame index, which face is visible where (pixel
boxes ``(x0, y0, x1, y1)``, clipped to the frame, ``x1``/``y1`` exclusive), and
:meth:`Truth.plan` turns it into a :class:`redaction.plan.Plan` with one accepted track per face,
keyframes every ~0.5 s plus the frames where a face starts or stops touching an edge (between
those, linear interpolation of the clipped box is exact).

Importable by tests and by ``bench/`` scripts; generation of a 10 s 720p clip takes a few seconds.
"""

from __future__ import annotations

import functools
import hashlib
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import skimage.data

from redaction.plan import Box, Key, Plan, Track

AUDIO_TONE_HZ = 440.0
AUDIO_RATE = 48000
AUDIO_LEVEL = 0.3  # amplitude of the tone (full scale 1.0): RMS ≈ 0.21


@functools.lru_cache(maxsize=1)
def face_photos() -> tuple[np.ndarray, ...]:
    """Head crops (RGB uint8) of the two redistributable photographs."""
    astro = skimage.data.astronaut()[22:200, 150:300]  # Eileen Collins, NASA, public domain
    cam = skimage.data.camera()[60:205, 150:265]  # the cameraman, CC0
    return (np.ascontiguousarray(astro), np.ascontiguousarray(np.stack([cam] * 3, axis=-1)))


def _variant(photo: np.ndarray, k: int) -> np.ndarray:
    """Face ``k``'s look: flipped on odd k, and one of several tints."""
    img = photo[:, ::-1] if k % 2 else photo
    tints = ((1.0, 1.0, 1.0), (1.15, 0.95, 0.8), (0.8, 0.95, 1.15), (0.9, 1.1, 0.9))
    t = np.array(tints[(k // 2) % len(tints)], dtype=np.float32)
    return np.clip(img.astype(np.float32) * t, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class FacePath:
    """One face: its picture, and where its top-left corner and height are at time ``t`` (linear)."""

    id: str
    image: np.ndarray = field(repr=False, compare=False)
    t0: float
    t1: float
    x0: float
    y0: float
    x1: float
    y1: float
    h0: float
    h1: float

    def at(self, t: float) -> tuple[float, float, float, float] | None:
        """``(x, y, w, h)`` in pixels (unclipped) at ``t``, or ``None`` outside ``[t0, t1]``."""
        if t < self.t0 or t > self.t1:
            return None
        f = (t - self.t0) / (self.t1 - self.t0) if self.t1 > self.t0 else 0.0
        h = self.h0 + (self.h1 - self.h0) * f
        w = h * self.image.shape[1] / self.image.shape[0]
        return self.x0 + (self.x1 - self.x0) * f, self.y0 + (self.y1 - self.y0) * f, w, h

    def rect(self, t: float) -> tuple[int, int, int, int] | None:
        """The pixel rectangle the face is drawn into at ``t`` (unclipped; ``x1``/``y1`` exclusive)."""
        g = self.at(t)
        if g is None:
            return None
        x, y, w, h = g
        x0, y0 = round(x), round(y)
        return x0, y0, x0 + max(2, round(w)), y0 + max(2, round(h))


@dataclass(frozen=True)
class Truth:
    """Where every face is in every frame of a clip made by :func:`make_clip`."""

    path: Path
    width: int
    height: int
    fps: int
    frames: int
    faces: tuple[FacePath, ...]
    audio: bool
    sha256: str

    def boxes(self, frame: int) -> dict[str, tuple[int, int, int, int]]:
        """The visible faces at frame ``frame``: id → ``(x0, y0, x1, y1)`` clipped to the frame."""
        out = {}
        for f in self.faces:
            r = self.rect(f, frame)
            if r is not None:
                out[f.id] = r
        return out

    def rect(self, face: FacePath, frame: int) -> tuple[int, int, int, int] | None:
        r = face.rect(frame / self.fps)
        if r is None:
            return None
        x0, y0, x1, y1 = max(0, r[0]), max(0, r[1]), min(self.width, r[2]), min(self.height, r[3])
        if x1 - x0 < 1 or y1 - y0 < 1:
            return None
        return x0, y0, x1, y1

    def visible_frames(self, face: FacePath) -> list[int]:
        return [i for i in range(self.frames) if self.rect(face, i) is not None]

    def plan(self, *, every_s: float = 0.5, state: str = "accepted") -> Plan:
        """One track per face, keyed every ~``every_s`` and where the face meets an edge, covering it."""
        tracks = []
        step = max(1, round(every_s * self.fps))
        for face in self.faces:
            frames = self.visible_frames(face)
            if not frames:
                continue
            first, last = frames[0], frames[-1]
            picks = set(range(first, last + 1, step)) | {last}
            edge = [self._touch(face, i) for i in range(first, last + 1)]
            for j in range(1, len(edge)):
                if edge[j] != edge[j - 1]:  # the clipping changes between these two frames: key both
                    picks |= {first + j - 1, first + j}
            keys = []
            for i in sorted(picks):
                x0, y0, x1, y1 = self.boxes(i)[face.id]
                keys.append(Key(t=round(i / self.fps, 4),
                                box=Box.clipped(x0 / self.width, y0 / self.height,
                                                (x1 - x0) / self.width, (y1 - y0) / self.height)))
            tracks.append(Track(id=face.id, kind="face", keys=tuple(keys), state=state, source="hand",
                                by="test", why="ground truth"))
        return Plan(original_sha256=self.sha256, tracks=tuple(tracks))

    def _touch(self, face: FacePath, frame: int) -> tuple[bool, bool, bool, bool]:
        r = face.rect(frame / self.fps)
        assert r is not None
        return r[0] < 0, r[1] < 0, r[2] > self.width, r[3] > self.height


def _texture(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A colourful, detailed background (noise at several scales, stripes, blobs), RGB uint8."""
    img = np.zeros((height, width, 3), np.float32)
    for scale, amp in ((64, 60.0), (16, 40.0), (4, 25.0)):
        small = rng.random((height // scale + 2, width // scale + 2, 3)).astype(np.float32)
        img += cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)[:height, :width] * amp
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    img += (np.sin(xx / 7.0 + yy / 13.0) * 20.0)[..., None]
    img += 40.0
    for _ in range(25):
        c = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.circle(img, c, int(rng.integers(10, 80)), tuple(float(v) for v in rng.integers(0, 255, 3)), -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def _paths(width: int, height: int, seconds: float, count: int, rng: np.random.Generator) -> tuple[FacePath, ...]:
    """``count`` faces: sizes spread from ~20 px to ~200 px high, entering, crossing and leaving."""
    photos = face_photos()
    scale = height / 720
    sizes = [(20, 28), (200, 160), (60, 90), (120, 70), (36, 24), (150, 190), (45, 45), (90, 130)]
    out = []
    for k in range(count):
        h0, h1 = (s * scale for s in sizes[k % len(sizes)])
        img = _variant(photos[k % len(photos)], k)
        w_est = max(h0, h1) * img.shape[1] / img.shape[0]
        pattern = k % 4
        if pattern == 0:  # left to right across the middle, entering and leaving
            x0, x1 = -w_est * 0.6, width - w_est * 0.4
            y0 = y1 = height * (0.3 + 0.4 * rng.random())
        elif pattern == 1:  # down from above the top edge, slowly
            x0, x1 = width * (0.5 + 0.2 * rng.random()), width * (0.4 + 0.2 * rng.random())
            y0, y1 = -h0 * 0.7, height * 0.35
        elif pattern == 2:  # diagonal, inside the frame
            x0, x1 = width * 0.75, width * 0.1
            y0, y1 = height * 0.1, height * 0.7
        else:  # right to left, leaving through the left edge before the end
            x0, x1 = width * 0.9, -w_est * 0.8
            y0 = y1 = height * (0.1 + 0.6 * rng.random())
        t0 = seconds * 0.1 * (k % 3) / 2
        t1 = seconds * (0.85 + 0.15 * ((k + 1) % 2))
        out.append(FacePath(id=f"face-{k + 1}", image=img, t0=t0, t1=t1, x0=x0, y0=y0, x1=x1, y1=y1,
                            h0=h0, h1=h1))
    return tuple(out)


def _draw(frame: np.ndarray, face: FacePath, t: float) -> None:
    r = face.rect(t)
    if r is None:
        return
    x0, y0, x1, y1 = r
    H, W = frame.shape[:2]
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(W, x1), min(H, y1)
    if cx1 <= cx0 or cy1 <= cy0:
        return
    interp = cv2.INTER_AREA if (y1 - y0) < face.image.shape[0] else cv2.INTER_LINEAR
    sprite = cv2.resize(face.image, (x1 - x0, y1 - y0), interpolation=interp)
    frame[cy0:cy1, cx0:cx1] = sprite[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]


def make_clip(path: Path, *, seconds: float, width: int = 1280, height: int = 720, fps: int = 30, faces: int = 4,
              audio: bool = True, seed: int = 0) -> Truth:
    """Write the clip to ``path`` (MP4, H.264 yuv420p + AAC 48 kHz mono when ``audio``) and return its truth."""
    if width % 2 or height % 2:
        raise ValueError("width and height must be even (yuv420p)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    frames = max(1, round(seconds * fps))
    pan = 2  # the background scrolls 2 px a frame: the encoder has real motion to code
    bg = _texture(width + pan * frames, height, rng)
    paths = _paths(width, height, seconds, faces, rng)
    args = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "pipe:0"]
    if audio:
        args += ["-f", "lavfi", "-i",
                 f"sine=frequency={AUDIO_TONE_HZ:g}:sample_rate={AUDIO_RATE}:duration={frames / fps}",
                 "-af", f"volume={AUDIO_LEVEL * 8:.6f}"]  # the sine source's amplitude is 1/8
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p", "-g", str(fps)]
    if audio:
        args += ["-c:a", "aac", "-b:a", "128k", "-ac", "1"]
    args += ["-movflags", "+faststart", "-f", "mp4", str(path)]
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        for i in range(frames):
            t = i / fps
            frame = np.array(bg[:, i * pan:i * pan + width])
            for face in paths:
                _draw(frame, face, t)
            proc.stdin.write(frame.tobytes())
        proc.stdin.close()
    except BrokenPipeError:
        pass
    err = proc.stderr.read() if proc.stderr else b""
    if proc.wait(timeout=120) != 0:
        raise RuntimeError(f"ffmpeg could not write {path}: {err.decode(errors='replace')[-500:]}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Truth(path=path, width=width, height=height, fps=fps, frames=frames, faces=paths, audio=audio,
                 sha256=digest)
