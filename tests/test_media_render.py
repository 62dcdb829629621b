"""The media stage on real ffmpeg and real files: probe, browser copy, stills, sidecars.

Every input is generated here with ffmpeg's lavfi sources, kept short and small. Outputs are
checked with ffprobe directly and by reading file structure (MP4 boxes, PNG/JPEG headers,
pixel values), not with the code under test alone.
"""

from __future__ import annotations

import json
import random
import re
import struct
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from hashing.digest import hash_file
from media.errors import MediaError, Unplayable
from media.ffmpeg import run, tool_version
from media.gps import gps_track
from media.probe import probe
from media.render import poster, proxy, thumbnails, waveform
from tests.conftest import ffmpeg_bin

# ---------------------------------------------------------------- helpers


def ff(*args: str) -> None:
    subprocess.run([ffmpeg_bin(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True,
                   timeout=120)


def lavfi_av(out: Path, *, seconds: float = 1.0, size: str = "320x240", rate: int = 25,
             extra: tuple[str, ...] = ()) -> Path:
    ff("-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}",
       "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", *extra, "-shortest", str(out))
    return out


def ffprobe(path: Path) -> dict[str, Any]:
    cp = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format",
                         "-show_streams", str(path)], capture_output=True, check=True, timeout=60)
    return json.loads(cp.stdout)


def streams(info: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [s for s in info["streams"] if s["codec_type"] == kind]


def top_level_boxes(path: Path) -> list[str]:
    data = path.read_bytes()
    boxes, pos = [], 0
    while pos + 8 <= len(data):
        n, typ = struct.unpack(">I4s", data[pos:pos + 8])
        if n == 1:
            n = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
        elif n == 0:
            n = len(data) - pos
        boxes.append(typ.decode("latin-1"))
        if n < 8:
            break
        pos += n
    return boxes


def assert_faststart(path: Path) -> None:
    boxes = top_level_boxes(path)
    assert "moov" in boxes and "mdat" in boxes, boxes
    assert boxes.index("moov") < boxes.index("mdat"), f"index after media data: {boxes}"


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    w, h = struct.unpack(">II", head[16:24])
    return w, h


def is_jpeg(path: Path) -> bool:
    data = path.read_bytes()
    return data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"


def rate(text: str) -> Fraction:
    return Fraction(text)


def transcoded(src: Path, tmp_path: Path, **kw: Any) -> tuple[Any, dict[str, Any]]:
    """Probe, make the proxy, and return it with ffprobe's view of the output."""
    p = probe(src, name=src.name)
    before = hash_file(src)
    r = proxy(src, tmp_path / "out", p, **kw)
    assert hash_file(src) == before, "the original changed"
    assert r.path.exists() and not list((tmp_path / "out").glob("*.part"))
    return r, ffprobe(r.path)


def assert_h264_aac_mp4(info: dict[str, Any], *, audio: bool = True) -> None:
    assert "mp4" in info["format"]["format_name"]
    (v,) = streams(info, "video")
    assert v["codec_name"] == "h264" and v["pix_fmt"] == "yuv420p"
    if audio:
        (a,) = streams(info, "audio")
        assert a["codec_name"] == "aac"


# ---------------------------------------------------------------- inputs


@pytest.fixture(scope="session")
def has_encoder() -> Callable[[str], bool]:
    listing = subprocess.run([ffmpeg_bin(), "-hide_banner", "-encoders"], capture_output=True,
                             text=True, check=True).stdout

    def has(name: str) -> bool:
        return re.search(rf"^\s*\S+\s+{re.escape(name)}\s", listing, re.MULTILINE) is not None

    return has


@pytest.fixture(scope="session")
def rotated_clip(make_clip: Callable[..., Path], media_dir: Path) -> Path:
    out = media_dir / "rotated.mp4"
    ff("-i", str(make_clip(2.0)), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(out))
    return out


@pytest.fixture(scope="session")
def vfr_clip(media_dir: Path) -> Path:
    """1 s at 25 fps followed by 1 s at 10 fps, timestamps kept as they are."""
    out = media_dir / "vfr.mp4"
    graph = ("testsrc2=size=320x240:rate=25:duration=1,settb=1/1000[a];"
             "testsrc2=size=320x240:rate=10:duration=1,settb=1/1000[b];[a][b]concat=n=2:v=1:a=0")
    ff("-f", "lavfi", "-i", graph, "-f", "lavfi", "-i", "sine=duration=2",
       "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
       "-vsync", "vfr", "-shortest", str(out))
    return out


@pytest.fixture(scope="session")
def photo(media_dir: Path) -> Path:
    out = media_dir / "photo.jpg"
    ff("-f", "lavfi", "-i", "testsrc2=size=2000x1500:duration=0.04", "-frames:v", "1", str(out))
    return out


RAMP = "nullsrc=size=160x120:rate=10:duration=35,geq=lum='16+N*0.6':cb=128:cr=128"


@pytest.fixture(scope="session")
def ramp_clip(media_dir: Path) -> Path:
    """35 s whose brightness encodes time (full-range luma is 7 × seconds), a keyframe every second."""
    out = media_dir / "ramp.mp4"
    ff("-f", "lavfi", "-i", RAMP, "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p",
       str(out))
    return out


@pytest.fixture(scope="session")
def sparse_ramp_clip(media_dir: Path) -> Path:
    """The same ramp with keyframes at 0, 7, 14, 21 and 28 s only."""
    out = media_dir / "sparse_ramp.mp4"
    ff("-f", "lavfi", "-i", RAMP, "-c:v", "libx264", "-preset", "ultrafast", "-g", "1000", "-sc_threshold", "0",
       "-force_key_frames", "0,7,14,21,28", "-pix_fmt", "yuv420p", str(out))
    return out


def keyframe_times(path: Path) -> list[float]:
    """The video's keyframes' times, as ffprobe lists its packets."""
    cp = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                         "packet=pts_time,flags", "-of", "csv=p=0", str(path)],
                        capture_output=True, text=True, check=True, timeout=60)
    return sorted(float(t) for t, flags in (ln.split(",")[:2] for ln in cp.stdout.split()) if "K" in flags)


def tile_seconds(sprite: Path, tile: tuple[int, int], count: int) -> list[int]:
    """Which second of a ramp clip each tile shows, from its mean brightness (7 per second)."""
    w, h = tile
    info = streams(ffprobe(sprite), "video")[0]
    width = info["width"]
    raw = subprocess.run([ffmpeg_bin(), "-v", "error", "-i", str(sprite), "-f", "rawvideo",
                          "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
    out = []
    for i in range(count):
        x0, y0 = (i % 10) * w, (i // 10) * h
        px = [raw[(y0 + y) * width + x] for y in range(h) for x in range(x0, x0 + w)]
        out.append(round(sum(px) / len(px) / 7))
    return out


# ---------------------------------------------------------------- probe


def test_probe_reads_creation_time_rotation_and_frame_rate(media_dir: Path, rotated_clip: Path) -> None:
    src = lavfi_av(media_dir / "dated.mp4", rate=30, extra=(
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
        "-metadata", "creation_time=2026-11-23T01:30:00Z"))
    p = probe(src, name="dated.mp4")
    assert p.creation_time == datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
    assert p.kind == "video" and p.mp4_family and p.browser_safe
    assert p.video is not None and p.video.fps == pytest.approx(30.0) and not p.video.vfr
    assert (p.video.width, p.video.height, p.video.rotation) == (320, 240, 0)
    assert p.audio is not None and p.audio.codec == "aac" and p.audio.sample_rate == 44100
    assert p.duration_s == pytest.approx(1.0, abs=0.1)
    assert p.run.tool == "ffprobe" and p.run.tool_version.startswith("ffprobe version")
    assert p.run.args[-1] == f"file:{src.absolute()}" and p.raw["format"]["format_name"]

    r = probe(rotated_clip, name="rotated.mp4")
    assert r.video is not None and r.video.rotation == 90
    assert r.video.display_size == (240, 320)
    assert not r.browser_safe  # rotated: a remux would keep the sideways picture


# ---------------------------------------------------------------- proxy


def test_browser_safe_mp4_is_only_remuxed_with_the_index_first(make_clip: Callable[..., Path],
                                                                tmp_path: Path) -> None:
    src = make_clip(2.0)
    assert top_level_boxes(src).index("mdat") < top_level_boxes(src).index("moov")
    r, info = transcoded(src, tmp_path)
    assert r.extra["path"] == "remux" and r.kind == "proxy" and r.mime == "video/mp4"
    assert r.path.name == "proxy.mp4"
    assert_h264_aac_mp4(info)
    assert_faststart(r.path)
    assert float(info["format"]["duration"]) == pytest.approx(2.0, abs=0.5)
    # the index went into room reserved for it (no +faststart rewrite of the whole file)
    assert {"-c", "copy"} <= set(r.run.args) and "+faststart" not in r.run.args
    assert r.run.args[r.run.args.index("-moov_size") + 1] == str(r.extra["moov_reserved"])
    assert r.run.ok and r.run.tool_version.startswith("ffmpeg version")
    rec = r.run.record()
    assert rec["command"].startswith("ffmpeg ") and rec["exit_code"] == 0
    # the proxy plays through, every frame of the source in it
    frames = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                             "stream=nb_read_frames", "-of", "csv=p=0", str(r.path)],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert int(frames) == int(streams(ffprobe(src), "video")[0]["nb_frames"])


def test_remux_whose_reserved_index_room_is_too_small_is_redone_with_faststart(
        make_clip: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import media.render

    monkeypatch.setattr(media.render, "MOOV_BYTES_PER_SAMPLE", 0)
    monkeypatch.setattr(media.render, "MOOV_RESERVE_BASE", 64)  # far smaller than any index
    src = make_clip(2.0)
    r, info = transcoded(src, tmp_path)
    assert r.extra["path"] == "remux" and "+faststart" in r.run.args and r.run.ok
    failed = r.extra["moov_reserve_failed"]
    # ffmpeg 5.1 exits 0 when it cannot write the index: its stderr is what says the file is unfinished
    assert "-moov_size" in failed["args"] and "Error writing trailer" in failed["stderr_tail"]
    assert "reserved_moov_size is too small" in failed["stderr_tail"]
    assert_h264_aac_mp4(info)
    assert_faststart(r.path)


def test_hevc_is_transcoded_to_h264(make_clip: Callable[..., Path], tmp_path: Path,
                                    has_encoder: Callable[[str], bool]) -> None:
    if not has_encoder("libx265"):
        pytest.skip("this ffmpeg has no libx265 encoder, so no H.265 input can be made")
    src = make_clip(1.0, vcodec="libx265")
    assert probe(src, name="h265.mp4").video.codec == "hevc"  # type: ignore[union-attr]
    r, info = transcoded(src, tmp_path)
    assert r.extra["path"] == "transcode" and "libx264" in r.run.args
    assert_h264_aac_mp4(info)
    assert_faststart(r.path)


def test_mjpeg_avi_with_pcm_audio_is_transcoded(media_dir: Path, tmp_path: Path) -> None:
    src = lavfi_av(media_dir / "mjpeg.avi", extra=("-c:v", "mjpeg", "-q:v", "5", "-c:a", "pcm_s16le"))
    p = probe(src, name="mjpeg.avi")
    assert (p.container, p.video.codec, p.audio.codec) == ("avi", "mjpeg", "pcm_s16le")  # type: ignore[union-attr]
    assert p.kind == "video"
    r, info = transcoded(src, tmp_path)
    assert r.extra["path"] == "transcode"
    assert_h264_aac_mp4(info)
    assert streams(info, "audio")[0]["channels"] == 2  # mono upmixed to stereo
    assert float(info["format"]["duration"]) == pytest.approx(1.0, abs=0.5)


def test_1080p_is_scaled_to_720p_and_reports_progress(media_dir: Path, tmp_path: Path) -> None:
    src = lavfi_av(media_dir / "hd.mp4", size="1920x1080", extra=(
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"))
    seen: list[float] = []
    r, info = transcoded(src, tmp_path, progress=seen.append)
    assert r.extra["path"] == "transcode"
    (v,) = streams(info, "video")
    assert (v["width"], v["height"]) == (1280, 720)
    assert_h264_aac_mp4(info)
    assert_faststart(r.path)
    assert "-progress" in r.run.args
    assert seen and seen == sorted(seen) and seen[-1] == 1.0 and all(0 <= f <= 1 for f in seen)


def test_browser_safe_1080p_is_remuxed_when_remux_allows_its_height(media_dir: Path, tmp_path: Path) -> None:
    src = media_dir / "hd.mp4"
    if not src.exists():
        lavfi_av(src, size="1920x1080", extra=("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                                               "-c:a", "aac"))
    r = proxy(src, tmp_path / "out", probe(src, name="hd.mp4"), max_height=720, remux_max_height=2160)
    assert r.extra["path"] == "remux" and "copy" in r.run.args
    info = ffprobe(r.path)
    (v,) = streams(info, "video")
    assert (v["width"], v["height"]) == (1920, 1080)  # the original picture, not re-encoded
    assert_h264_aac_mp4(info)
    assert_faststart(r.path)


def test_rotated_video_comes_out_upright_without_rotation(rotated_clip: Path, tmp_path: Path) -> None:
    r, info = transcoded(rotated_clip, tmp_path)
    assert r.extra["path"] == "transcode"
    (v,) = streams(info, "video")
    assert v["width"] < v["height"] and (v["width"], v["height"]) == (240, 320)
    assert not v.get("side_data_list") and "rotate" not in v.get("tags", {})
    out = probe(r.path, name="proxy.mp4")
    assert out.video is not None and out.video.rotation == 0 and out.browser_safe

    p = probe(rotated_clip, name="rotated.mp4")
    still = poster(rotated_clip, tmp_path / "still", p)
    (pv,) = streams(ffprobe(still.path), "video")
    assert pv["width"] < pv["height"]


def test_variable_frame_rate_becomes_constant(vfr_clip: Path, tmp_path: Path) -> None:
    p = probe(vfr_clip, name="vfr.mp4")
    assert p.video is not None and p.video.vfr
    r, info = transcoded(vfr_clip, tmp_path)
    assert r.extra["path"] == "transcode" and "cfr" in r.run.args
    (v,) = streams(info, "video")
    real, avg = rate(v["r_frame_rate"]), rate(v["avg_frame_rate"])
    assert abs(real - avg) / real < 0.01, (v["r_frame_rate"], v["avg_frame_rate"])
    assert float(avg) == pytest.approx(p.video.fps, rel=0.02)
    assert probe(r.path, name="proxy.mp4").video.vfr is False  # type: ignore[union-attr]


@pytest.mark.parametrize("ext,codec", [("wav", "pcm_s16le"), ("mp3", "libmp3lame")])
def test_audio_gets_an_aac_proxy_and_a_waveform(media_dir: Path, tmp_path: Path, ext: str,
                                                codec: str) -> None:
    src = media_dir / f"voice.{ext}"
    ff("-f", "lavfi", "-i", "sine=frequency=300:duration=2", "-c:a", codec, str(src))
    p = probe(src, name=src.name)
    assert p.kind == "audio" and p.video is None and not p.browser_safe
    r, info = transcoded(src, tmp_path)
    assert (r.path.name, r.mime, r.extra["path"]) == ("proxy.m4a", "audio/mp4", "transcode")
    assert not streams(info, "video")
    (a,) = streams(info, "audio")
    assert a["codec_name"] == "aac" and a["channels"] == 2
    assert_faststart(r.path)
    assert float(info["format"]["duration"]) == pytest.approx(2.0, abs=0.5)

    w = waveform(src, tmp_path / "out", p)
    assert (w.kind, w.mime) == ("waveform", "image/png")
    assert png_size(w.path) == (1200, 200)


def test_photo_gets_a_preview_no_larger_than_1280(photo: Path, tmp_path: Path) -> None:
    p = probe(photo, name="photo.jpg")
    assert p.kind == "photo" and p.audio is None
    r, info = transcoded(photo, tmp_path)
    assert (r.kind, r.mime, r.path.name) == ("preview", "image/jpeg", "preview.jpg")
    assert is_jpeg(r.path)
    (v,) = streams(info, "video")
    assert (v["width"], v["height"]) == (1280, 960)


def test_unknown_encoder_is_refused(make_clip: Callable[..., Path], tmp_path: Path) -> None:
    src = make_clip(1.0)
    with pytest.raises(ValueError):
        proxy(src, tmp_path, probe(src, name="a.mp4"), encoder="libvpx")


# ---------------------------------------------------------------- stills


def test_poster_is_a_small_jpeg(media_dir: Path, tmp_path: Path) -> None:
    src = lavfi_av(media_dir / "poster_src.mp4", size="1280x720", extra=(
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"))
    p = probe(src, name="poster_src.mp4")
    r = poster(src, tmp_path, p)
    assert (r.kind, r.mime, r.path.name) == ("poster", "image/jpeg", "poster.jpg")
    assert is_jpeg(r.path) and r.extra["at_s"] == pytest.approx(0.5)
    (v,) = streams(ffprobe(r.path), "video")
    assert (v["width"], v["height"]) == (640, 360)


def test_thumbnail_sprite_and_vtt_for_35_seconds(ramp_clip: Path, tmp_path: Path) -> None:
    p = probe(ramp_clip, name="ramp.mp4")
    r = thumbnails(ramp_clip, tmp_path, p)
    assert r.extra["times"] == [0.0, 10.0, 20.0, 30.0]
    assert r.extra["method"] == "seeks"  # 35 keyframes for 4 tiles: one seek a tile
    w, h = r.extra["tile"]
    assert (w, h) == (120, 90) and is_jpeg(r.path)
    (v,) = streams(ffprobe(r.path), "video")
    assert (v["width"], v["height"]) == (10 * w, 1 * h)

    text = r.extra["vtt"].read_text(encoding="utf-8")
    assert text.startswith("WEBVTT\n")
    cues = re.findall(r"(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})\n(\S+)", text)
    assert [(a, b) for a, b, _ in cues] == [
        ("00:00:00.000", "00:00:10.000"), ("00:00:10.000", "00:00:20.000"),
        ("00:00:20.000", "00:00:30.000"), ("00:00:30.000", "00:00:35.000")]
    assert [u for _, _, u in cues] == [f"sprite.jpg#xywh={i * w},0,{w},{h}" for i in range(4)]

    # Tile i shows the frame at i × 10 s: the ramp's brightness there is 7 × seconds.
    raw = subprocess.run([ffmpeg_bin(), "-v", "error", "-i", str(r.path), "-f", "rawvideo",
                          "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
    for i, t in enumerate(r.extra["times"]):
        px = [raw[y * 10 * w + x] for y in range(h) for x in range(i * w, (i + 1) * w)]
        assert sum(px) / len(px) == pytest.approx(7 * t, abs=5), f"tile {i}"


@pytest.mark.parametrize("method", ["keyframes", "seeks", "decode"])
def test_sprite_tiles_are_the_keyframes_at_or_before_their_times(sparse_ramp_clip: Path, tmp_path: Path,
                                                                  method: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import media.render

    keys = keyframe_times(sparse_ramp_clip)
    assert keys == pytest.approx([0, 7, 14, 21, 28])  # ffprobe's view of the source
    if method == "seeks":
        monkeypatch.setattr(media.render, "KEYFRAMES_PER_TILE_MAX", 0)
    elif method == "decode":
        monkeypatch.setattr(media.render, "KEYFRAMES_PER_TILE_MAX", 0)
        monkeypatch.setattr(media.render, "SEEKABLE", set())
    p = probe(sparse_ramp_clip, name="sparse_ramp.mp4")
    r = thumbnails(sparse_ramp_clip, tmp_path, p)
    assert r.extra["method"] == method and r.extra["times"] == [0.0, 10.0, 20.0, 30.0]
    if method != "decode":
        assert ("-skip_frame", "nokey") in zip(r.run.args, r.run.args[1:])
    (v,) = streams(ffprobe(r.path), "video")
    assert (v["width"], v["height"]) == (10 * 120, 90) and v["codec_name"] == "mjpeg"
    shown = tile_seconds(r.path, r.extra["tile"], 4)
    if method == "decode":  # decoded through: the frame showing at each time
        assert shown == [0, 10, 20, 30]
    else:  # the keyframe at or before each time, within one keyframe interval of it
        assert shown == [max(k for k in keys if k <= t + 1e-6) for t in r.extra["times"]] == [0, 7, 14, 28]


def test_long_sprite_is_made_in_strips_of_seeked_tiles(ramp_clip: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import media.render

    monkeypatch.setattr(media.render, "SEEK_INPUTS_MAX", 12)  # 35 tiles: strips of whole rows, 10+10+10+5
    monkeypatch.setattr(media.render, "KEYFRAMES_PER_TILE_MAX", 0)  # seeks, though a keyframe a tile
    p = probe(ramp_clip, name="ramp.mp4")
    r = thumbnails(ramp_clip, tmp_path, p, every_s=1)
    assert r.extra["method"] == "seeks" and r.extra["rows"] == 4 and len(r.extra["strips"]) == 4
    assert all(s["exit_code"] == 0 and "-ss" in s["args"] for s in r.extra["strips"])
    assert "vstack" in " ".join(r.run.args) and not list(tmp_path.glob("sprite-strip*"))
    (v,) = streams(ffprobe(r.path), "video")
    assert (v["width"], v["height"]) == (10 * 120, 4 * 90)
    assert tile_seconds(r.path, r.extra["tile"], 35) == list(range(35))  # a keyframe every second


def test_keyframe_count_from_the_mp4_index_matches_ffprobe(sparse_ramp_clip: Path, ramp_clip: Path,
                                                          media_dir: Path) -> None:
    from media.mp4 import keyframe_count

    assert keyframe_count(sparse_ramp_clip) == (5, 350)
    assert keyframe_count(ramp_clip) == (len(keyframe_times(ramp_clip)), 350) == (35, 350)
    assert keyframe_count(media_dir / "nonexistent.mp4") is None
    junk = media_dir / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x10moov" + b"\xff" * 64)
    assert keyframe_count(junk) is None


def test_clip_shorter_than_the_interval_gets_one_thumbnail(make_clip: Callable[..., Path],
                                                           tmp_path: Path) -> None:
    src = make_clip(2.0)
    r = thumbnails(src, tmp_path, probe(src, name="short.mp4"))
    assert r.extra["times"] == [0.0]
    assert r.extra["vtt"].read_text().count("-->") == 1
    (v,) = streams(ffprobe(r.path), "video")
    assert (v["width"], v["height"]) == (10 * r.extra["tile"][0], 90)


def test_stills_that_need_a_stream_say_so(media_dir: Path, make_clip: Callable[..., Path],
                                          tmp_path: Path) -> None:
    silent = media_dir / "silent.mp4"
    ff("-f", "lavfi", "-i", "testsrc2=size=160x120:duration=1", "-c:v", "libx264",
       "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(silent))
    with pytest.raises(MediaError, match="no audio stream"):
        waveform(silent, tmp_path, probe(silent, name="silent.mp4"))


# ---------------------------------------------------------------- hostile input


def _truncated(make_clip: Callable[..., Path], folder: Path) -> Path:
    data = make_clip(2.0).read_bytes()
    p = folder / "truncated.mp4"
    p.write_bytes(data[: int(len(data) * 0.4)])
    return p


def _random(make_clip: Callable[..., Path], folder: Path) -> Path:
    p = folder / "random.mp4"
    p.write_bytes(random.Random(20261123).randbytes(200_000))
    return p


def _empty(make_clip: Callable[..., Path], folder: Path) -> Path:
    p = folder / "empty.mp4"
    p.write_bytes(b"")
    return p


def _text(make_clip: Callable[..., Path], folder: Path) -> Path:
    p = folder / "notes.mp4"
    p.write_text("Shift report: nothing to add.\n" * 50, encoding="utf-8")
    return p


def _playlist(make_clip: Callable[..., Path], folder: Path) -> Path:
    """An HLS playlist named .mp4 that would pull another archived file into the proxy."""
    p = folder / "playlist.mp4"
    p.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n{make_clip(2.0)}\n#EXT-X-ENDLIST\n")
    return p


@pytest.mark.parametrize("make_bad,reason", [
    (_truncated, "moov atom not found"),
    (_random, "Invalid data"),
    (_empty, "empty (0 bytes)"),
    (_text, "Invalid data"),
    (_playlist, "does not open"),
])
def test_hostile_file_is_unplayable_quickly_and_untouched(make_bad: Callable[..., Path], reason: str,
                                                         make_clip: Callable[..., Path],
                                                         tmp_path: Path) -> None:
    src = make_bad(make_clip, tmp_path)
    before = hash_file(src)
    t0 = time.monotonic()
    with pytest.raises(Unplayable) as e:
        probe(src, name="upload.mp4")
    assert time.monotonic() - t0 < 10
    assert reason in e.value.reason
    assert e.value.code == "unplayable"
    msg = e.value.diagnostics("en")
    assert msg.startswith("upload.mp4 cannot be played: ") and "can still be downloaded" in msg
    assert str(tmp_path) not in msg  # the storage path is not shown, the original's name is
    assert hash_file(src) == before


def test_failed_render_names_the_original_and_leaves_no_partial_file(
        make_clip: Callable[..., Path], tmp_path: Path) -> None:
    good = make_clip(1.0)
    p = probe(good, name="cam1_0001.mp4")
    broken = _random(make_clip, tmp_path)  # the probe says video; the bytes say otherwise
    with pytest.raises(Unplayable) as e:
        poster(broken, tmp_path / "out", p)
    assert e.value.diagnostics("en").startswith("Could not make the poster of cam1_0001.mp4: ")
    assert str(tmp_path) not in e.value.diagnostics()
    assert not list((tmp_path / "out").iterdir())


def test_render_past_its_timeout_is_unplayable(make_clip: Callable[..., Path], tmp_path: Path) -> None:
    src = make_clip(1.0, size="640x480")
    t0 = time.monotonic()
    with pytest.raises(Unplayable, match="timed out"):
        proxy(src, tmp_path, probe(src, name="a.mp4"), max_height=240, timeout_s=0.05)
    assert time.monotonic() - t0 < 5
    assert not list(tmp_path.iterdir())


def test_run_applies_the_memory_limit() -> None:
    grab = ["python3", "-c", "bytearray(512 * 1024 * 1024)"]
    assert run(grab, timeout_s=30, mem_mb=128).exit_code != 0
    assert run(grab, timeout_s=30, mem_mb=None).exit_code == 0


def test_run_starts_the_tools_below_the_station_and_the_console() -> None:
    # an offload's copy and hash, and the console's requests, come first where they share the cores
    import os

    from media.ffmpeg import NICE

    r = run(["python3", "-c", "import os; print(os.nice(0))"], timeout_s=30, capture_stdout=True)
    assert r.ok and int(r.stdout.decode().strip()) == min(19, os.nice(0) + NICE)


def test_progress_callback_that_raises_stops_the_run() -> None:
    def cancel(fraction: float) -> None:
        raise KeyboardInterrupt

    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run([ffmpeg_bin(), "-hide_banner", "-f", "lavfi", "-i", "testsrc2=duration=600",
             "-f", "null", "-"], timeout_s=60, progress=cancel, duration_s=600)
    assert time.monotonic() - t0 < 10


def test_run_kills_a_command_that_passes_its_timeout() -> None:
    t0 = time.monotonic()
    r = run(["sleep", "10"], timeout_s=1)
    assert r.timed_out and not r.ok
    assert time.monotonic() - t0 < 2.5
    assert r.tool == "sleep" and r.args == ["sleep", "10"]


def test_run_reports_failure_without_raising() -> None:
    r = run([ffmpeg_bin(), "-hide_banner", "-i", "file:/nonexistent/x.mp4"], timeout_s=10)
    assert r.exit_code != 0 and not r.timed_out
    assert "No such file" in r.last_line
    assert tool_version("ffmpeg") == r.tool_version


def test_missing_tool_is_a_media_error() -> None:
    with pytest.raises(MediaError, match="not installed"):
        run(["liuhen-no-such-tool"], timeout_s=1)


# ---------------------------------------------------------------- GPS sidecars


def _nmea(body: str) -> str:
    cs = 0
    for ch in body.encode():
        cs ^= ch
    return f"${body}*{cs:02X}"


EXPECTED = [
    {"time": "2026-11-23T01:30:00+00:00", "lat": 52.52, "lon": 13.405},
    {"time": "2026-11-23T01:30:01.500000+00:00", "lat": -33.85, "lon": -151.21},
]


def _same(points: list[dict[str, Any]]) -> None:
    assert [p["time"] for p in points] == [e["time"] for e in EXPECTED]
    for p, e in zip(points, EXPECTED, strict=True):
        assert p["lat"] == pytest.approx(e["lat"]) and p["lon"] == pytest.approx(e["lon"])


def test_gps_track_from_gpstrail_json(tmp_path: Path) -> None:
    wrapped = tmp_path / "rec_gpstrail.json"
    wrapped.write_text(json.dumps({"positions": [
        {"time": "2026-11-23T01:30:00Z", "lat": 52.52, "lon": 13.405},
        {"time": "2026-11-23T01:30:01.5Z", "latitude": -33.85, "longitude": -151.21}]}))
    _same(gps_track(wrapped))
    plain = tmp_path / "plain_gpstrail.json"
    plain.write_text(json.dumps([
        {"time": "2026-11-23T01:30:00+00:00", "latitude": 52.52, "longitude": 13.405},
        {"time": "2026-11-23T02:30:01.5+01:00", "lat": -33.85, "lon": -151.21}]))
    _same(gps_track(plain))


def test_gps_track_from_nmea(tmp_path: Path) -> None:
    p = tmp_path / "rec.nmea"
    p.write_text("\n".join([
        _nmea("GPGGA,013000.00,5231.2000,N,01324.3000,E,1,08,0.9,40.0,M,,,,"),
        _nmea("GPRMC,012959.00,V,,,,,,,231126,,,N"),  # no fix yet
        _nmea("GPRMC,013000.00,A,5231.2000,N,01324.3000,E,0.0,0.0,231126,,,A"),
        "$GPRMC,013000.50,A,1111.1111,N,02222.2222,E,0.0,0.0,231126,,,A*00",  # bad checksum
        _nmea("GNRMC,013001.50,A,3351.0000,S,15112.6000,W,0.0,0.0,231126,,,A"),
    ]) + "\n")
    _same(gps_track(p))


def test_gps_track_from_gpx(tmp_path: Path) -> None:
    p = tmp_path / "rec.gpx"
    p.write_text("""<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
  <trk><trkseg>
    <trkpt lat="52.52" lon="13.405"><ele>40</ele><time>2026-11-23T01:30:00Z</time></trkpt>
    <trkpt lat="-33.85" lon="-151.21"><time>2026-11-23T01:30:01.5Z</time></trkpt>
  </trkseg></trk>
</gpx>
""")
    _same(gps_track(p))


@pytest.mark.parametrize("content", [
    '{"positions": [ {"time": "2026-11-23T01:30:00Z", "lat": 52.5',  # cut off
    '{"positions": [{"time": "2026-11-23T01:30:00Z", "lat": "north", "lon": 13.4}]}',
    '{"points": []}',
    "[" * 100_000,
    "<gpx><trkpt lat='1' lon='2'>",
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><gpx>&a;</gpx>',
    "$GPGGA,013000.00,5231.2000,N,01324.3000,E,1,08,0.9,40.0,M,,,,*47\n",
    "\x00\x01\x02 binary junk",
    "",
])
def test_unreadable_sidecar_is_a_media_error(tmp_path: Path, content: str) -> None:
    p = tmp_path / "bad_gpstrail.json"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(MediaError) as e:
        gps_track(p)
    assert e.value.diagnostics("en").startswith("The GPS sidecar bad_gpstrail.json could not be read: ")
