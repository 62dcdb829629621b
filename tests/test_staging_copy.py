"""The station's copy into staging: made in the kernel (copy_file_range) and hashed from the staged
file, with a read/write fallback where the kernel cannot copy the pair of files; every path stages
exactly the bytes it hashed, resumes a partial copy, and turns a recorder that ends early into
RecorderGone (never a crash), a full disk into StagingFull."""

from __future__ import annotations

import errno
import hashlib
import os

import pytest

from ingest import staging
from ingest.errors import RecorderGone, StagingFull, StationError

MIB = 1 << 20


@pytest.fixture(autouse=True)
def small_windows(monkeypatch):
    monkeypatch.setattr(staging, "WINDOW", 1 * MIB)  # many windows from a few MiB of test data


def _source(tmp_path, data: bytes):
    p = tmp_path / "rec.MP4"
    p.write_bytes(data)
    return p


def _copy(src_path, part, size, **kw):
    fd = os.open(src_path, os.O_RDONLY)
    try:
        return staging.copy_and_hash(fd, part, size, "bay1/rec.MP4", ring=staging.buffers(256 * 1024, 3), **kw)
    finally:
        os.close(fd)


def _count_pipe(monkeypatch) -> list[int]:
    starts: list[int] = []
    real = staging._pipe

    def counting(src, out, offset, *a, **kw):
        starts.append(offset)
        return real(src, out, offset, *a, **kw)

    monkeypatch.setattr(staging, "_pipe", counting)
    return starts


def test_kernel_copy_stages_exactly_the_bytes_it_hashes_and_reports_progress(tmp_path, monkeypatch):
    data = os.urandom(5 * MIB + 12345)
    src = _source(tmp_path, data)
    part = tmp_path / "x.part"
    fell_back = _count_pipe(monkeypatch)
    seen: list[int] = []
    d = _copy(src, part, len(data), progress=seen.append)
    assert d.hex == hashlib.sha256(data).hexdigest()
    assert part.read_bytes() == data
    assert fell_back == []  # same filesystem: the kernel copied it all
    assert seen == sorted(seen) and seen[-1] == len(data) and len(seen) >= 6


def test_a_small_window_moves_progress_within_a_small_file(tmp_path, monkeypatch):
    # a throttled station (read_limit_mb_s) passes a small window: its pauses fall between small steps
    # and the console's bar moves within a recording of a few MB (one 8 MiB step would jump 0 → 100)
    monkeypatch.setattr(staging, "WINDOW", 8 * MIB)
    data = os.urandom(3 * MIB + 7)
    src = _source(tmp_path, data)
    whole: list[int] = []
    _copy(src, tmp_path / "a.part", len(data), progress=whole.append)
    assert whole == [len(data)]
    steps: list[int] = []
    d = _copy(src, tmp_path / "b.part", len(data), progress=steps.append, window=256 * 1024)
    assert d.hex == hashlib.sha256(data).hexdigest() and (tmp_path / "b.part").read_bytes() == data
    assert len(steps) == 13 and steps == sorted(steps) and steps[-1] == len(data)
    assert all(0 < v < len(data) for v in steps[:-1])


def test_kernel_copy_resumes_a_partial_copy_at_an_unaligned_offset(tmp_path, monkeypatch):
    data = os.urandom(4 * MIB + 777)
    src = _source(tmp_path, data)
    part = tmp_path / "x.part"
    part.write_bytes(data[:1 * MIB + 4097])  # what an earlier, interrupted copy kept
    fell_back = _count_pipe(monkeypatch)
    seen: list[int] = []
    d = _copy(src, part, len(data), progress=seen.append)
    assert d.hex == hashlib.sha256(data).hexdigest() and part.read_bytes() == data
    assert seen[0] == 1 * MIB + 4097 and fell_back == []


@pytest.mark.parametrize("err", [errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP])
def test_falls_back_to_read_and_write_where_copy_file_range_refuses(tmp_path, monkeypatch, err):
    data = os.urandom(3 * MIB + 5)
    src = _source(tmp_path, data)
    part = tmp_path / "x.part"

    def refuse(*a, **kw):
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(staging, "_copy_file_range", refuse)
    fell_back = _count_pipe(monkeypatch)
    d = _copy(src, part, len(data))
    assert d.hex == hashlib.sha256(data).hexdigest() and part.read_bytes() == data
    assert fell_back == [0]


def test_falls_back_mid_file_where_the_kernel_stops_copying(tmp_path, monkeypatch):
    # a kernel that copies two windows, then refuses (EXDEV), then one that silently copies nothing
    data = os.urandom(4 * MIB + 99)
    for mode in ("exdev", "zero"):
        src = _source(tmp_path, data)
        part = tmp_path / f"{mode}.part"
        calls = {"n": 0}
        real = os.copy_file_range

        def flaky(*a, mode=mode, calls=calls, real=real):
            calls["n"] += 1
            if calls["n"] > 2:
                if mode == "zero":
                    return 0
                raise OSError(errno.EXDEV, "cross-device")
            return real(*a)

        monkeypatch.setattr(staging, "_copy_file_range", flaky)
        fell_back = _count_pipe(monkeypatch)
        d = _copy(src, part, len(data))
        assert d.hex == hashlib.sha256(data).hexdigest() and part.read_bytes() == data
        assert fell_back == [2 * MIB]


def test_without_copy_file_range_the_read_write_path_copies(tmp_path, monkeypatch):
    data = os.urandom(2 * MIB + 1)
    src = _source(tmp_path, data)
    monkeypatch.setattr(staging, "_copy_file_range", None)
    fell_back = _count_pipe(monkeypatch)
    d = _copy(src, tmp_path / "x.part", len(data))
    assert d.hex == hashlib.sha256(data).hexdigest() and fell_back == [0]


@pytest.mark.parametrize("kernel", [True, False], ids=["copy_file_range", "read_write"])
def test_source_truncated_mid_copy_is_recorder_gone_and_resumes(tmp_path, monkeypatch, kernel):
    data = os.urandom(12 * MIB + 3)
    src = _source(tmp_path, data)
    part = tmp_path / "x.part"
    if not kernel:
        monkeypatch.setattr(staging, "_copy_file_range", None)
    cut = {"at": None}

    def unplug(done: int) -> None:
        if cut["at"] is None and done >= 2 * MIB:
            cut["at"] = done
            os.truncate(src, done)  # the recorder vanishes: its file ends early under the copy

    with pytest.raises(RecorderGone) as e:
        _copy(src, part, len(data), progress=unplug)
    assert "short of its" in str(e.value) or "failed at byte" in str(e.value)
    kept = part.read_bytes()
    assert 0 < len(kept) < len(data) and kept == data[:len(kept)]  # the kept part is the recorder's bytes

    # the recorder comes back intact: the copy resumes from the kept part
    src.write_bytes(data)
    seen: list[int] = []
    d = _copy(src, part, len(data), progress=seen.append)
    assert d.hex == hashlib.sha256(data).hexdigest() and part.read_bytes() == data
    assert seen[0] == len(kept)


def test_a_full_staging_disk_during_the_kernel_copy_is_staging_full(tmp_path, monkeypatch):
    data = os.urandom(2 * MIB)
    src = _source(tmp_path, data)

    def full(*a):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(staging, "_copy_file_range", full)
    with pytest.raises(StagingFull) as e:
        _copy(src, tmp_path / "x.part", len(data))
    assert "full" in str(e.value)


def test_a_failing_staging_disk_is_not_blamed_on_the_recorder(tmp_path, monkeypatch):
    data = os.urandom(2 * MIB)
    src = _source(tmp_path, data)

    def eio(*a):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(staging, "_copy_file_range", eio)
    with pytest.raises(StationError) as e:
        _copy(src, tmp_path / "x.part", len(data))
    assert not isinstance(e.value, RecorderGone) and "staging folder" in str(e.value)
