"""The redacted copy, on real ffmpeg and generated clips of real faces whose positions are known.

One 4 s 720p clip (tests/redaction_clips.py: four faces from ~20 px to ~200 px high, entering,
crossing and leaving the frame, a 440 Hz tone) is rendered with its ground-truth plan plus ranges,
a proposed track and a rejected one, and also transcoded bare with the render's own encoder settings
(``bare_transcode_args``). The outputs are decoded again by ffmpeg and measured here with numpy and
OpenCV, frame by frame:

- detail: in every frame, for every visible face box at least 8 px on each side, the variance of
  the Laplacian of the luma in the copy is below ``DETAIL_LEFT`` (0.2) of the original's;
- elsewhere: outside every face box grown by ``pad`` of its size plus 16 px (one macroblock of
  encoder spill), the luma differs from the bare transcode by a mean absolute difference of at most
  ``NOISE_MAD`` (2.0 of 255) in every frame, and by a PSNR of at least ``NOISE_PSNR_DB`` (35 dB);
- sound: RMS below 0.005 (the tone's is 0.21) inside a mute range, a 1 kHz peak inside a tone
  range, the 440 Hz tone at its level elsewhere (50 ms kept clear of each edge for AAC's frames).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from media.ffmpeg import run
from redaction.errors import OriginalUnreadable, PlanMismatch, RedactionError, RenderFailed, UnknownEncoder
from redaction.plan import Box, Key, Plan, Range, Track
from redaction.render import Redacted, bare_transcode_args, preview_frame, render
from tests.redaction_clips import AUDIO_LEVEL, Truth, make_clip

SECONDS = 4.0
PAD = 0.2
DETAIL_LEFT = 0.2
NOISE_MAD = 2.0
NOISE_PSNR_DB = 35.0
SPILL = 16  # px around a hidden box where the encoder's blocks may differ
MUTE = (0.5, 1.0)
TONE = (1.5, 2.0)
BLUR = (2.2, 2.4)
BLACK = (2.6, 2.8)
EDGE = 0.05  # s kept clear of a range's edges when measuring sound


# ---------------------------------------------------------------- measuring


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def luma(path: Path, width: int, height: int) -> np.ndarray:
    """Every frame's Y plane, as ffmpeg decodes the file: (frames, height, width) uint8."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0", "-f", "rawvideo",
                          "-pix_fmt", "gray", "pipe:1"], capture_output=True, check=True, timeout=120).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width)


def sound(path: Path) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a:0", "-f", "f32le", "-ac", "1",
                          "-ar", "48000", "pipe:1"], capture_output=True, check=True, timeout=120).stdout
    return np.frombuffer(raw, np.float32)


def detail(region: np.ndarray) -> float:
    return float(cv2.Laplacian(region.astype(np.float32), cv2.CV_32F).var())


def between(samples: np.ndarray, a: float, b: float) -> np.ndarray:
    return samples[int((a + EDGE) * 48000):int((b - EDGE) * 48000)]


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


def peak_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / 48000)[int(np.argmax(spectrum))])


def grown(rect: tuple[int, int, int, int], width: int, height: int, extra: int = SPILL) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = rect
    dx, dy = int((x1 - x0) * PAD) + 1 + extra, int((y1 - y0) * PAD) + 1 + extra
    return max(0, x0 - dx), max(0, y0 - dy), min(width, x1 + dx), min(height, y1 + dy)


def in_range(truth: Truth, frame: int, rng: tuple[float, float], slack: float = 0.0) -> bool:
    t = frame / truth.fps
    return rng[0] - slack <= t <= rng[1] + slack


# ---------------------------------------------------------------- the world


def free_rect(truth: Truth) -> tuple[int, int, int, int]:
    """A 120×90 px stretch of background no face comes near during the clip."""
    for fx, fy in ((0.02, 0.85), (0.85, 0.85), (0.02, 0.02), (0.85, 0.02), (0.45, 0.85), (0.45, 0.02)):
        x0, y0 = int(fx * truth.width), int(fy * truth.height)
        rect = (x0, y0, x0 + 120, min(truth.height, y0 + 90))
        if all(not _overlap(grown(b, truth.width, truth.height), rect)
               for i in range(truth.frames) for b in truth.boxes(i).values()):
            return rect
    raise AssertionError("no free background in the test clip")


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


class World:
    def __init__(self, root: Path) -> None:
        self.truth = make_clip(root / "original" / "clip.mp4", seconds=SECONDS, seed=3)
        self.original = self.truth.path
        self.sha_before = sha256(self.original)
        t = self.truth
        self.free = free_rect(t)
        x0, y0, x1, y1 = self.free
        rejected = Track(id="false-alarm", kind="other", state="rejected", source="detector", by="reviewer",
                         keys=(Key(0.0, Box(x0 / t.width, y0 / t.height, (x1 - x0) / t.width, (y1 - y0) / t.height)),
                               Key(SECONDS, Box(x0 / t.width, y0 / t.height, (x1 - x0) / t.width, (y1 - y0) / t.height))))
        plan = t.plan()
        plan = plan.with_track(replace(plan.tracks[2], state="proposed", source="detector"))
        plan = plan.with_track(rejected)
        for rid, kind, (a, b), effect in (("mute", "audio", MUTE, "mute"), ("tone", "audio", TONE, "tone"),
                                          ("blur", "video", BLUR, "blur"), ("black", "video", BLACK, "black")):
            plan = plan.with_range(Range(id=rid, kind=kind, start=a, end=b, effect=effect, by="editor"))
        self.plan = plan
        self.fractions: list[float] = []
        self.redacted = render(self.original, plan, root / "out1", pad=PAD, progress=self.fractions.append)
        self.bare = root / "bare" / "bare.mp4"
        self.bare.parent.mkdir()
        r = run(bare_transcode_args(self.original, self.bare), timeout_s=120)
        assert r.ok, r.stderr_tail
        self.y_orig = luma(self.original, t.width, t.height)
        self.y_out = luma(self.redacted.path, t.width, t.height)
        self.y_bare = luma(self.bare, t.width, t.height)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return World(tmp_path_factory.mktemp("redaction-render"))


# ---------------------------------------------------------------- the picture


def test_every_face_loses_its_detail_in_every_frame(world: World) -> None:
    t = world.truth
    assert len(world.y_out) == len(world.y_orig) == t.frames
    checked, worst = 0, 0.0
    for i in range(t.frames):
        for face_id, (x0, y0, x1, y1) in t.boxes(i).items():
            if min(x1 - x0, y1 - y0) < 8:  # a sliver at the edge: nothing to measure (the log test covers it)
                continue
            before = detail(world.y_orig[i, y0:y1, x0:x1])
            after = detail(world.y_out[i, y0:y1, x0:x1])
            assert after < DETAIL_LEFT * before, f"frame {i}, {face_id} at {(x0, y0, x1, y1)}: {after:.0f} of {before:.0f}"
            worst = max(worst, after / before)
            checked += 1
    heights = {y1 - y0 for i in range(t.frames) for (_, y0, _, y1) in t.boxes(i).values()}
    assert checked > 300 and min(heights) <= 22 and max(heights) >= 180  # small and large faces were measured
    assert worst < DETAIL_LEFT


def test_outside_the_boxes_the_picture_is_the_bare_transcode_within_encoder_noise(world: World) -> None:
    t = world.truth
    for i in range(t.frames):
        if in_range(t, i, BLUR, 1 / t.fps) or in_range(t, i, BLACK, 1 / t.fps):
            continue
        keep = np.ones((t.height, t.width), bool)
        for rect in t.boxes(i).values():
            x0, y0, x1, y1 = grown(rect, t.width, t.height)
            keep[y0:y1, x0:x1] = False
        a, b = world.y_out[i][keep].astype(np.float64), world.y_bare[i][keep].astype(np.float64)
        mad = float(np.abs(a - b).mean())
        psnr = 10 * np.log10(255**2 / max(1e-9, float(((a - b) ** 2).mean())))
        assert mad <= NOISE_MAD and psnr >= NOISE_PSNR_DB, f"frame {i}: mean abs diff {mad:.2f}, PSNR {psnr:.1f} dB"


def test_a_rejected_track_is_not_hidden(world: World) -> None:
    t = world.truth
    x0, y0, x1, y1 = world.free
    for i in range(0, t.frames, 5):
        if in_range(t, i, BLUR, 1 / t.fps) or in_range(t, i, BLACK, 1 / t.fps):
            continue
        before, after = detail(world.y_orig[i, y0:y1, x0:x1]), detail(world.y_out[i, y0:y1, x0:x1])
        assert after > 0.7 * before, f"frame {i}: the rejected box lost its detail ({after:.0f} of {before:.0f})"
    entry = next(tr for tr in world.redacted.log["tracks"] if tr["id"] == "false-alarm")
    assert entry["state"] == "rejected" and entry["hidden"] is False and entry["runs"] == [] and entry["frames"] == 0


def test_video_ranges_are_black_or_blurred_whole(world: World) -> None:
    t = world.truth
    blurred = [i for i in range(t.frames) if in_range(t, i, BLUR)]
    black = [i for i in range(t.frames) if in_range(t, i, BLACK)]
    assert blurred and black
    for i in blurred:
        assert detail(world.y_out[i]) < 0.02 * detail(world.y_orig[i]), f"frame {i} is not blurred heavily"
    for i in black:
        assert world.y_out[i].max() <= 8 and float(world.y_out[i].mean()) < 2, f"frame {i} is not black"  # (gray is full range: black is 0)
    before = [i for i in range(t.frames) if i / t.fps < BLUR[0] - 2 / t.fps]
    assert detail(world.y_out[before[-1]]) > 0.5 * detail(world.y_orig[before[-1]])  # the range ends where it says
    log = {r["id"]: r for r in world.redacted.log["ranges"]}
    assert (log["blur"]["from_frame"], log["blur"]["to_frame"]) == (blurred[0], blurred[-1])
    assert (log["black"]["from_frame"], log["black"]["to_frame"]) == (black[0], black[-1])


# ---------------------------------------------------------------- the sound


def test_audio_ranges_are_muted_or_toned_and_the_rest_is_kept(world: World) -> None:
    out = sound(world.redacted.path)
    orig = sound(world.original)
    level = AUDIO_LEVEL / np.sqrt(2)
    assert abs(rms(between(orig, 0, MUTE[0])) - level) < 0.02
    assert rms(between(out, *MUTE)) < 0.005
    tone = between(out, *TONE)
    assert abs(peak_hz(tone) - 1000) < 5 and rms(tone) > 0.1
    for a, b in ((0.0, MUTE[0]), (MUTE[1], TONE[0]), (TONE[1], SECONDS)):
        kept = between(out, a, b)
        assert abs(peak_hz(kept) - 440) < 5, f"{a}–{b} s"
        assert abs(rms(kept) - level) < 0.1 * level, f"{a}–{b} s: RMS {rms(kept):.3f}"
    applied = {r["id"]: r.get("applied") for r in world.redacted.log["ranges"] if r["kind"] == "audio"}
    assert applied == {"mute": True, "tone": True} and world.redacted.log["audio"] == "aac"


# ---------------------------------------------------------------- the original, the log, the result


def test_the_original_is_never_changed_nor_written_beside(world: World, tmp_path: Path) -> None:
    assert sha256(world.original) == world.sha_before == world.plan.original_sha256
    assert sorted(p.name for p in world.original.parent.iterdir()) == ["clip.mp4"]
    with pytest.raises(RedactionError, match="next to the original clip.mp4"):
        render(world.original, world.plan, world.original.parent)
    assert sorted(p.name for p in world.original.parent.iterdir()) == ["clip.mp4"]


def test_the_result_says_what_it_is_and_how_it_was_made(world: World) -> None:
    r = world.redacted
    assert r.path.name == "redacted.mp4" and not r.path.with_name("redacted.mp4.part").exists()
    assert r.sha256 == sha256(r.path) and r.size == r.path.stat().st_size
    assert len(r.commands) == 2 and all(c[0] == "ffmpeg" for c in r.commands)
    assert "libx264" in r.commands[1] and "+faststart" in r.commands[1]
    assert r.tool_versions["ffmpeg"].startswith("ffmpeg version")
    info = json.loads(subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_streams",
                                      "-show_format", str(r.path)], capture_output=True, check=True).stdout)
    codecs = sorted(s["codec_name"] for s in info["streams"])
    assert codecs == ["aac", "h264"]
    data = r.path.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # +faststart: the index comes first
    assert world.fractions and world.fractions[-1] == 1.0 and world.fractions == sorted(world.fractions)
    json.dumps(r.log)  # JSON-able


def test_the_log_lists_every_track_with_its_frames_and_boxes(world: World) -> None:
    t, log = world.truth, world.redacted.log
    assert log["original_sha256"] == world.sha_before and log["plan_sha256"] == world.plan.sha256
    assert (log["width"], log["height"], log["fps"], log["frames"]) == (t.width, t.height, "30/1", t.frames)
    assert (log["encoder"], log["pad"], log["cells"]) == ("libx264", PAD, 8)
    assert [tr["id"] for tr in log["tracks"]] == [tr.id for tr in world.plan.tracks]
    assert {r["id"] for r in log["ranges"]} == {"mute", "tone", "blur", "black"}
    entries = {tr["id"]: tr for tr in log["tracks"]}
    assert entries["face-3"]["state"] == "proposed" and entries["face-3"]["hidden"] is True
    for face in t.faces:
        seen = t.visible_frames(face)
        entry = entries[face.id]
        assert len(entry["runs"]) == 1, face.id
        run_ = entry["runs"][0]
        assert run_["from_frame"] <= seen[0] and run_["to_frame"] >= seen[-1], face.id
        assert run_["from_t"] == round(run_["from_frame"] / t.fps, 4) and run_["to_t"] == round(run_["to_frame"] / t.fps, 4)
        listed = run_["boxes"]
        assert listed[0][0] == run_["from_frame"] and listed[-1][0] == run_["to_frame"]
        assert len(listed) >= SECONDS / 0.5 - 1  # at least every keyframe
        for frame, x0, y0, x1, y1 in listed:  # each listed rectangle covers the face at that frame
            truth = t.boxes(frame).get(face.id)
            if truth is not None:
                assert x0 <= truth[0] and y0 <= truth[1] and x1 >= truth[2] and y1 >= truth[3], (face.id, frame)


def test_the_same_plan_renders_the_same_log_and_the_same_bytes(world: World, tmp_path: Path) -> None:
    again = render(world.original, world.plan, tmp_path / "again", pad=PAD)
    assert again.log == world.redacted.log
    # x264's threads are fixed in ENCODE_ARGS and the muxer is bit-exact: the bytes are the same too
    assert again.sha256 == world.redacted.sha256


def test_the_preview_hides_the_frame_as_the_render_does(world: World) -> None:
    t = world.truth
    frame = 45
    jpeg = preview_frame(world.original, world.plan, frame / t.fps, max_width=640, pad=PAD)
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert img.shape == (360, 640)
    full = cv2.resize(world.y_orig[frame], (640, 360), interpolation=cv2.INTER_AREA)
    rendered = cv2.resize(world.y_out[frame], (640, 360), interpolation=cv2.INTER_AREA)
    for x0, y0, x1, y1 in t.boxes(frame).values():
        x0, y0, x1, y1 = x0 // 2, y0 // 2, x1 // 2, y1 // 2
        if min(x1 - x0, y1 - y0) < 8:
            continue
        assert detail(img[y0:y1, x0:x1]) < DETAIL_LEFT * detail(full[y0:y1, x0:x1])
    assert float(np.abs(img.astype(float) - rendered.astype(float)).mean()) < 3.0  # the same frame, hidden alike


# ---------------------------------------------------------------- refusals


def test_a_corrupt_original_is_a_clear_error_naming_the_file(world: World, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name, data in (("garbage.mp4", bytes(range(256)) * 400), ("empty.mp4", b""),
                       ("headless.mp4", world.original.read_bytes()[4096:])):
        bad = src / name
        bad.write_bytes(data)
        plan = Plan(original_sha256=sha256(bad), tracks=world.plan.tracks)
        with pytest.raises(OriginalUnreadable) as e:
            render(bad, plan, tmp_path / "out")
        assert name in e.value.message("en") and name in e.value.message("zh")
        assert not (tmp_path / "out" / "redacted.mp4").exists()
        assert not (tmp_path / "out" / "redacted.mp4.part").exists()
    with pytest.raises(OriginalUnreadable, match="missing.mp4"):
        render(src / "missing.mp4", world.plan, tmp_path / "out")


def test_a_plan_for_another_file_or_an_unknown_encoder_is_refused(world: World, tmp_path: Path) -> None:
    other = Plan(original_sha256="0" * 64, tracks=world.plan.tracks)
    with pytest.raises(PlanMismatch, match="clip.mp4"):
        render(world.original, other, tmp_path / "out")
    with pytest.raises(UnknownEncoder, match="libx265"):
        render(world.original, world.plan, tmp_path / "out", encoder="libx265")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_clip_without_sound_renders_without_sound(tmp_path: Path) -> None:
    truth = make_clip(tmp_path / "src" / "quiet.mp4", seconds=1.0, width=320, height=240, faces=2, audio=False)
    plan = truth.plan().with_range(Range(id="m", kind="audio", start=0.2, end=0.4, effect="mute"))
    r: Redacted = render(truth.path, plan, tmp_path / "out")
    info: dict[str, Any] = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", str(r.path)],
        capture_output=True, check=True).stdout)
    assert [s["codec_type"] for s in info["streams"]] == ["video"]
    assert r.log["audio"] is None and r.log["ranges"][0]["applied"] is False
    assert r.log["frames"] == truth.frames


def test_a_render_past_its_time_limit_is_stopped_and_leaves_nothing(world: World, tmp_path: Path) -> None:
    with pytest.raises(RenderFailed, match="timed out") as e:
        render(world.original, world.plan, tmp_path / "out", timeout_s=0.3)
    assert "clip.mp4" in e.value.message("zh")
    assert not any((tmp_path / "out").iterdir())
    assert sha256(world.original) == world.sha_before


def test_nvenc_is_used_or_fails_with_ffmpegs_words_never_replaced_silently(tmp_path: Path) -> None:
    truth = make_clip(tmp_path / "src" / "small.mp4", seconds=1.0, width=320, height=240, faces=1)
    try:
        r = render(truth.path, truth.plan(), tmp_path / "out", encoder="h264_nvenc")
    except RenderFailed as e:  # no GPU here: ffmpeg's own reason, and nothing left behind
        assert "small.mp4" in e.message("en") and "encoding:" in e.message("en")
        assert not any((tmp_path / "out").iterdir())
    else:  # a GPU: the copy is NVENC's
        assert "h264_nvenc" in r.commands[1] and "libx264" not in r.commands[1]
        assert r.log["encoder"] == "h264_nvenc"


def test_a_rotated_original_is_redacted_upright_where_the_editor_drew(tmp_path: Path) -> None:
    """Boxes are fractions of the picture as shown (the player's upright frame), not as stored."""
    truth = make_clip(tmp_path / "made" / "flat.mp4", seconds=1.0, width=320, height=240, faces=2)
    turned = tmp_path / "src" / "turned.mp4"
    turned.parent.mkdir()
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(truth.path), "-c", "copy", "-metadata:s:v:0", "rotate=90",
                    str(turned)], check=True, timeout=60)
    box = Box(0.1, 0.1, 0.4, 0.3)  # upright: 240 wide, 320 high → x 24..120, y 32..128
    plan = Plan(original_sha256=sha256(turned),
                tracks=(Track(id="sign", kind="screen", state="accepted", keys=(Key(0.0, box), Key(1.0, box))),))
    r = render(turned, plan, tmp_path / "out", pad=0.0)
    assert (r.log["width"], r.log["height"]) == (240, 320)
    before, after = luma(turned, 240, 320), luma(r.path, 240, 320)  # ffmpeg shows both upright
    assert len(after) == truth.frames
    for i in range(truth.frames):
        inside = (slice(34, 126), slice(26, 118))
        assert detail(after[i][inside]) < DETAIL_LEFT * detail(before[i][inside]), f"frame {i}"
        below = (slice(160, 320), slice(0, 240))
        assert float(np.abs(after[i][below].astype(float) - before[i][below].astype(float)).mean()) < 3.0


def test_a_render_stopped_by_its_caller_leaves_no_half_copy(tmp_path: Path) -> None:
    truth = make_clip(tmp_path / "src" / "c.mp4", seconds=2.0, width=320, height=240, faces=1)

    class Cancelled(Exception):
        pass

    def cancel(fraction: float) -> None:
        if fraction > 0.3:
            raise Cancelled

    with pytest.raises(Cancelled):
        render(truth.path, truth.plan(), tmp_path / "out", progress=cancel)
    assert list((tmp_path / "out").iterdir()) == []
