"""A redaction plan as data: what to hide in one recording, and when.

The plan is the single source of a redacted copy: the render reads the original and the plan and
nothing else, so the same plan renders the same result, and the plan's canonical JSON
(:meth:`Plan.canonical`) is what is hashed, versioned, approved and written into the redaction log.

Geometry is resolution-free: a :class:`Box` is ``x, y, w, h`` as fractions (0..1) of the frame's
width and height, so that boxes drawn on the browser proxy (smaller) land on the same spot of the
original. Times are seconds from the start of the recording (presentation time, as the player's
``currentTime`` reports it).

- A :class:`Track` follows one thing (a face, a plate, a screen, or anything drawn by hand) as boxes
  on keyframes; between two keyframes the box is interpolated linearly, outside the first and last
  keyframe the track hides nothing. A detected track starts ``proposed``; a person ``accepted`` or
  ``rejected`` it. Every track that is not rejected is rendered — a proposed track is hidden too,
  because a missed face is a breach and an extra box only a nuisance.
- A :class:`Range` hides a whole stretch: ``video`` (``blur`` or ``black``) or ``audio`` (``mute``
  or ``tone``).
- ``detector`` records what filled the plan (model name, file SHA-256, licence, threshold,
  version, sampling), or is ``None`` for a plan made only by hand.

Who changed what and why is kept per track and range (``by``, ``why``) and per version in the
database (``redaction.models``); this module has no database and no I/O.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from liuhen.words import said
from redaction.errors import BadPlan

PLAN_FORMAT = "liuhen-redaction-plan/1"
TRACK_KINDS = ("face", "plate", "screen", "id_card", "other")
TRACK_STATES = ("proposed", "accepted", "rejected")
SOURCES = ("detector", "hand")
VIDEO_EFFECTS = ("blur", "black")
AUDIO_EFFECTS = ("mute", "tone")
RANGE_KINDS = ("video", "audio")
MIN_SIDE = 1e-4  # a box narrower than this is a mistake, not a box


def _num(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadPlan(said(f"{what} 必须是数字", f"{what} must be a number"))
    f = float(value)
    if f != f or f in (float("inf"), float("-inf")):
        raise BadPlan(said(f"{what} 不是有限的数", f"{what} is not a finite number"))
    return f


@dataclass(frozen=True, order=True)
class Box:
    """A rectangle as fractions of the frame: left, top, width, height, all within 0..1."""

    x: float
    y: float
    w: float
    h: float

    def __post_init__(self) -> None:
        for name in ("x", "y", "w", "h"):
            _num(getattr(self, name), f"box.{name}")
        if self.w < MIN_SIDE or self.h < MIN_SIDE:
            raise BadPlan(said("遮蔽框的宽和高必须大于零", "a box must have a width and a height above zero"))
        if self.x < -1e-9 or self.y < -1e-9 or self.x + self.w > 1 + 1e-9 or self.y + self.h > 1 + 1e-9:
            raise BadPlan(said("遮蔽框超出了画面", "a box lies outside the frame (x, y, w, h are fractions 0..1)"))

    @classmethod
    def clipped(cls, x: float, y: float, w: float, h: float) -> Box:
        """The part of a rectangle inside the frame (a detector's or a padded box may reach past it)."""
        x0, y0 = max(0.0, x), max(0.0, y)
        x1, y1 = min(1.0, x + w), min(1.0, y + h)
        return cls(x0, y0, max(MIN_SIDE, x1 - x0), max(MIN_SIDE, y1 - y0))

    def padded(self, fraction: float) -> Box:
        """Grown by ``fraction`` of its own size on every side, clipped to the frame."""
        dx, dy = self.w * fraction, self.h * fraction
        return Box.clipped(self.x - dx, self.y - dy, self.w + 2 * dx, self.h + 2 * dy)

    def pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)`` in whole pixels of a ``width`` × ``height`` frame, rounded outwards
        so that a hidden face is never a pixel short."""
        x0 = max(0, math.floor(self.x * width))
        y0 = max(0, math.floor(self.y * height))
        x1 = min(width, math.ceil((self.x + self.w) * width))
        y1 = min(height, math.ceil((self.y + self.h) * height))
        return x0, y0, max(x0 + 1, x1), max(y0 + 1, y1)

    def as_json(self) -> list[float]:
        return [round(float(self.x), 6), round(float(self.y), 6), round(float(self.w), 6), round(float(self.h), 6)]


@dataclass(frozen=True)
class Key:
    """The box of a track at time ``t`` (seconds)."""

    t: float
    box: Box

    def as_json(self) -> dict[str, Any]:
        return {"t": round(float(self.t), 4), "box": self.box.as_json()}


@dataclass(frozen=True)
class Track:
    id: str
    kind: str
    keys: tuple[Key, ...]
    state: str = "proposed"
    source: str = "hand"
    by: str = ""
    why: str = ""
    score: float | None = None  # the detector's best confidence over the track, if detected

    def __post_init__(self) -> None:
        if not self.id or len(self.id) > 64:
            raise BadPlan(said("每条轨迹需要一个编号（最多 64 个字符）", "every track needs an id (at most 64 characters)"))
        if self.kind not in TRACK_KINDS:
            raise BadPlan(said(f"未知的遮蔽对象类型：{self.kind}", f"unknown track kind: {self.kind}"))
        if self.state not in TRACK_STATES:
            raise BadPlan(said(f"未知的轨迹状态：{self.state}", f"unknown track state: {self.state}"))
        if self.source not in SOURCES:
            raise BadPlan(said(f"未知的轨迹来源：{self.source}", f"unknown track source: {self.source}"))
        if not self.keys:
            raise BadPlan(said(f"轨迹 {self.id} 没有关键帧", f"track {self.id} has no keyframe"))
        times = [k.t for k in self.keys]
        if any(b <= a for a, b in zip(times, times[1:])):
            raise BadPlan(said(f"轨迹 {self.id} 的关键帧时间必须递增且不重复",
                               f"track {self.id}: keyframe times must increase, without repeats"))
        if times[0] < 0:
            raise BadPlan(said(f"轨迹 {self.id} 的时间不能为负", f"track {self.id}: times cannot be negative"))

    @property
    def start(self) -> float:
        return self.keys[0].t

    @property
    def end(self) -> float:
        return self.keys[-1].t

    @property
    def hidden(self) -> bool:
        """Whether the render hides this track (every track but a rejected one)."""
        return self.state != "rejected"

    def box_at(self, t: float, hold: float = 0.0) -> Box | None:
        """The box at ``t``: a keyframe's own box, linearly interpolated between two keyframes, or
        ``None`` before the first and after the last keyframe — widened by ``hold`` seconds on both
        ends (the render holds a box one sampling interval so that a face leaving between two
        detections is still covered)."""
        keys = self.keys
        if t < keys[0].t - hold or t > keys[-1].t + hold:
            return None
        if t <= keys[0].t:
            return keys[0].box
        if t >= keys[-1].t:
            return keys[-1].box
        i = bisect.bisect_right([k.t for k in keys], t)
        a, b = keys[i - 1], keys[i]
        if b.t == a.t:
            return b.box
        f = (t - a.t) / (b.t - a.t)
        return Box.clipped(a.box.x + (b.box.x - a.box.x) * f, a.box.y + (b.box.y - a.box.y) * f,
                           a.box.w + (b.box.w - a.box.w) * f, a.box.h + (b.box.h - a.box.h) * f)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "kind": self.kind, "state": self.state, "source": self.source,
                               "by": self.by, "why": self.why, "keys": [k.as_json() for k in self.keys]}
        if self.score is not None:
            out["score"] = round(float(self.score), 4)
        return out


@dataclass(frozen=True)
class Range:
    """A stretch ``[start, end]`` (seconds) hidden whole: the picture (``kind="video"``, effect
    ``blur`` or ``black``) or the sound (``kind="audio"``, effect ``mute`` or ``tone``)."""

    id: str
    kind: str
    start: float
    end: float
    effect: str
    by: str = ""
    why: str = ""

    def __post_init__(self) -> None:
        if not self.id or len(self.id) > 64:
            raise BadPlan(said("每个区间需要一个编号（最多 64 个字符）", "every range needs an id (at most 64 characters)"))
        if self.kind not in RANGE_KINDS:
            raise BadPlan(said(f"未知的区间类型：{self.kind}", f"unknown range kind: {self.kind}"))
        allowed = VIDEO_EFFECTS if self.kind == "video" else AUDIO_EFFECTS
        if self.effect not in allowed:
            raise BadPlan(said(f"区间 {self.id} 的处理方式 {self.effect} 不适用于{'画面' if self.kind == 'video' else '声音'}",
                               f"range {self.id}: effect {self.effect} does not apply to {self.kind}"))
        _num(self.start, "range.start")
        _num(self.end, "range.end")
        if self.start < 0 or self.end <= self.start:
            raise BadPlan(said(f"区间 {self.id} 的结束时间必须晚于开始时间", f"range {self.id}: end must come after start"))

    def covers(self, t: float) -> bool:
        return self.start <= t <= self.end

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "start": round(float(self.start), 4), "end": round(float(self.end), 4),
                "effect": self.effect, "by": self.by, "why": self.why}


@dataclass(frozen=True)
class Plan:
    """What to hide in the recording whose original hashes to ``original_sha256``."""

    original_sha256: str
    tracks: tuple[Track, ...] = ()
    ranges: tuple[Range, ...] = ()
    detector: Mapping[str, Any] | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if len(self.original_sha256) != 64 or any(c not in "0123456789abcdef" for c in self.original_sha256):
            raise BadPlan(said("方案必须注明原始文件的 SHA-256", "a plan names its original's SHA-256 (64 hex digits)"))
        ids = [t.id for t in self.tracks] + [r.id for r in self.ranges]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise BadPlan(said(f"编号重复：{', '.join(dup)}", f"ids used twice: {', '.join(dup)}"))

    # --- what the render asks -------------------------------------------------------------------
    def boxes_at(self, t: float, hold: float = 0.0) -> list[tuple[Track, Box]]:
        """Every box hidden at ``t``: the boxes of the tracks that are not rejected."""
        out = []
        for tr in self.tracks:
            if tr.hidden:
                b = tr.box_at(t, hold)
                if b is not None:
                    out.append((tr, b))
        return out

    def video_ranges_at(self, t: float) -> list[Range]:
        return [r for r in self.ranges if r.kind == "video" and r.covers(t)]

    def audio_ranges(self) -> list[Range]:
        return [r for r in self.ranges if r.kind == "audio"]

    def undecided(self) -> list[Track]:
        """Detected tracks nobody has accepted or rejected yet."""
        return [t for t in self.tracks if t.state == "proposed"]

    # --- editing (each returns a new plan) ---------------------------------------------------------
    def with_track(self, track: Track) -> Plan:
        """The plan with ``track`` added, or replacing the track of the same id."""
        kept = tuple(t for t in self.tracks if t.id != track.id)
        return replace(self, tracks=tuple(sorted(kept + (track,), key=lambda t: (t.start, t.id))))

    def without(self, item_id: str) -> Plan:
        return replace(self, tracks=tuple(t for t in self.tracks if t.id != item_id),
                       ranges=tuple(r for r in self.ranges if r.id != item_id))

    def with_range(self, rng: Range) -> Plan:
        kept = tuple(r for r in self.ranges if r.id != rng.id)
        return replace(self, ranges=tuple(sorted(kept + (rng,), key=lambda r: (r.start, r.id))))

    def decided(self, track_id: str, state: str, by: str, why: str = "") -> Plan:
        for t in self.tracks:
            if t.id == track_id:
                return self.with_track(replace(t, state=state, by=by, why=why or t.why))
        raise BadPlan(said(f"方案中没有轨迹 {track_id}", f"no track {track_id} in this plan"))

    # --- as data ---------------------------------------------------------------------------------
    def as_json(self) -> dict[str, Any]:
        return {"format": PLAN_FORMAT, "original_sha256": self.original_sha256,
                "detector": dict(self.detector) if self.detector is not None else None, "note": self.note,
                "tracks": [t.as_json() for t in self.tracks], "ranges": [r.as_json() for r in self.ranges]}

    def canonical(self) -> bytes:
        """The bytes that are hashed, versioned and approved: sorted keys, no spaces, UTF-8."""
        return json.dumps(self.as_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        """A plan from its JSON (as :meth:`as_json` writes it, or as the editor sends it); anything
        malformed is a :class:`BadPlan` that says what and where."""
        if not isinstance(data, Mapping):
            raise BadPlan(said("方案必须是一个 JSON 对象", "a plan is a JSON object"))
        fmt = data.get("format", PLAN_FORMAT)
        if fmt != PLAN_FORMAT:
            raise BadPlan(said(f"不认识的方案格式：{fmt}", f"unknown plan format: {fmt} (expected {PLAN_FORMAT})"))
        try:
            tracks = tuple(_track(t) for t in _list(data.get("tracks", []), "tracks"))
            ranges = tuple(Range(id=str(r["id"]), kind=str(r["kind"]), start=_num(r["start"], "range.start"),
                                 end=_num(r["end"], "range.end"), effect=str(r["effect"]), by=str(r.get("by", "")),
                                 why=str(r.get("why", ""))) for r in _list(data.get("ranges", []), "ranges"))
        except (KeyError, TypeError, ValueError) as e:
            raise BadPlan(said(f"方案格式不对：缺少或错误的字段 {e}", f"malformed plan: missing or wrong field {e}")) from e
        det = data.get("detector")
        if det is not None and not isinstance(det, Mapping):
            raise BadPlan(said("detector 必须是一个对象", "detector must be an object"))
        return cls(original_sha256=str(data.get("original_sha256", "")), tracks=tracks, ranges=ranges,
                   detector=det, note=str(data.get("note", "")))

    @classmethod
    def empty(cls, original_sha256: str) -> Plan:
        return cls(original_sha256=original_sha256)


def _list(value: Any, what: str) -> Iterable[Any]:
    if not isinstance(value, list):
        raise BadPlan(said(f"{what} 必须是列表", f"{what} must be a list"))
    return value


def _track(t: Mapping[str, Any]) -> Track:
    keys = []
    for k in _list(t["keys"], "track.keys"):
        b = k["box"]
        if not isinstance(b, list) or len(b) != 4:
            raise BadPlan(said("box 必须是 [x, y, w, h]", "box must be [x, y, w, h]"))
        keys.append(Key(t=_num(k["t"], "key.t"), box=Box(*(_num(v, "box") for v in b))))
    score = t.get("score")
    return Track(id=str(t["id"]), kind=str(t.get("kind", "other")), keys=tuple(sorted(keys, key=lambda k: k.t)),
                 state=str(t.get("state", "proposed")), source=str(t.get("source", "hand")), by=str(t.get("by", "")),
                 why=str(t.get("why", "")), score=None if score is None else _num(score, "score"))
