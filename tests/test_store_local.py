"""LocalStore on real files: write-once, read-only, content-addressed, nothing half-written.

The full-disk test mounts a 1 MiB tmpfs (the tests run as root); it is skipped, with the
reason, only where mounting is not permitted.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.errors import DigestMismatch, ObjectMissing, StoreError, StoreFull
from archive.store import LocalStore, LockState, key_for
from hashing.digest import Digest, hash_file, hash_stream


def random_file(folder: Path, size: int, name: str = "random.bin") -> tuple[Path, Digest]:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_bytes(os.urandom(size))
    return p, hash_file(p)[0]


def temps(root: Path) -> list[Path]:
    return list(root.rglob("*.tmp"))


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "originals")


def test_stored_clip_is_read_only_at_its_content_address(store: LocalStore, make_clip: Callable[..., Path]) -> None:
    clip = make_clip()
    digest, size = hash_file(clip)

    stored = store.put_file(clip, digest, size)

    h = digest.hex
    final = store.root / "originals" / "sha256" / h[:2] / h[2:4] / h
    assert stored.key == key_for(digest) and store.path_of(stored.key) == final
    assert stored.created is True and stored.size == size and stored.version is None
    assert stat.S_IMODE(final.stat().st_mode) == 0o400
    assert final.read_bytes() == clip.read_bytes()
    with store.open(stored.key) as f:
        assert hash_stream(f) == (digest, size)
    assert store.head(digest) == type(stored)(stored.key, digest, size, None, created=False)
    assert temps(store.root) == []


def test_duplicate_put_returns_the_existing_file_without_rewriting_it(store: LocalStore, tmp_path: Path) -> None:
    src, digest = random_file(tmp_path / "in", 50_000)
    first = store.put_file(src, digest, 50_000)
    before = store.path_of(first.key).stat()

    again = store.put_file(src, digest, 50_000)

    after = store.path_of(first.key).stat()
    assert again.created is False and again.key == first.key
    assert (after.st_ino, after.st_mtime_ns, after.st_nlink) == (before.st_ino, before.st_mtime_ns, before.st_nlink)


def test_digest_mismatch_leaves_no_file_and_no_temp(store: LocalStore, tmp_path: Path) -> None:
    src, _ = random_file(tmp_path / "in", 30_000)
    claimed = Digest.of_bytes(b"what the manifest says")

    with pytest.raises(DigestMismatch) as e:
        store.put_file(src, claimed, 30_000)

    assert "offload the file again" in e.value.action
    assert store.head(claimed) is None
    assert not store.path_of(key_for(claimed)).exists()
    assert temps(store.root) == []


@pytest.mark.parametrize("consume", [False, True])
def test_digest_mismatch_on_size_alone_is_refused(store: LocalStore, tmp_path: Path, consume: bool) -> None:
    src, digest = random_file(tmp_path / "in", 30_000)
    with pytest.raises(DigestMismatch):
        store.put_file(src, digest, 29_999, consume=consume)
    assert store.head(digest) is None and temps(store.root) == []
    assert src.exists()  # the station's copy is never touched by a refusal


def test_consume_hard_links_the_source_on_the_same_filesystem(store: LocalStore, tmp_path: Path) -> None:
    src, digest = random_file(tmp_path / "staging", 40_000)

    stored = store.put_file(src, digest, 40_000, consume=True)

    final = store.path_of(stored.key)
    assert final.stat().st_ino == src.stat().st_ino
    assert stat.S_IMODE(final.stat().st_mode) == 0o400
    assert temps(store.root) == []


def test_without_consume_the_store_holds_its_own_copy(store: LocalStore, tmp_path: Path) -> None:
    src, digest = random_file(tmp_path / "staging", 40_000)
    stored = store.put_file(src, digest, 40_000)
    assert store.path_of(stored.key).stat().st_ino != src.stat().st_ino


def test_sweep_temps_removes_old_crash_leftovers_and_keeps_originals(store: LocalStore, tmp_path: Path) -> None:
    src, digest = random_file(tmp_path / "in", 1000)
    stored = store.put_file(src, digest, 1000)
    folder = store.path_of(stored.key).parent
    leftovers = [folder / f".{digest.hex}.deadbeef.tmp", store.root / "originals" / "sha256" / ".x.tmp"]
    two_hours_ago = time.time() - 7200
    for p in leftovers:
        p.write_bytes(b"half written")
        os.utime(p, (two_hours_ago, two_hours_ago))
    in_flight = folder / f".{digest.hex}.cafe.tmp"  # a write another process may still be doing
    in_flight.write_bytes(b"being written")

    assert store.sweep_temps() == 2

    assert not any(p.exists() for p in leftovers)
    assert in_flight.exists()
    assert store.path_of(stored.key).read_bytes() == src.read_bytes()
    assert store.sweep_temps(older_than_s=0) == 1 and not in_flight.exists()
    assert LocalStore(tmp_path / "never-created").sweep_temps() == 0


def test_open_of_missing_original_raises_object_missing(store: LocalStore) -> None:
    with pytest.raises(ObjectMissing, match="missing") as e:
        store.open(key_for(Digest.of_bytes(b"gone")))
    assert "liuhen verify" in e.value.action


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a 1 MiB tmpfs needs root; these tests are not running as root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                       check=False, capture_output=True, text=True)
    if r.returncode != 0:
        if "permission denied" in r.stderr.lower() or "not permitted" in r.stderr.lower():
            pytest.skip(f"mounting a tmpfs is not permitted here: {r.stderr.strip()}")
        pytest.fail(f"mount -t tmpfs failed: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], check=False, capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], check=True)


def test_full_disk_raises_store_full_and_leaves_nothing(tiny_disk: Path, tmp_path: Path) -> None:
    store = LocalStore(tiny_disk / "originals")
    src, digest = random_file(tmp_path / "in", 2 * 1024 * 1024)

    with pytest.raises(StoreFull, match="is full") as e:
        store.put_file(src, digest, 2 * 1024 * 1024, consume=True)  # another disk: falls back to a copy

    assert "nothing was lost" in e.value.action
    assert not store.path_of(key_for(digest)).exists()
    assert temps(tiny_disk) == []
    assert src.read_bytes() and hash_file(src)[0] == digest


# ---------------------------------------------------------------- disposal: destroy, exists, ping


def test_destroy_removes_the_read_only_file_then_finds_nothing(store: LocalStore, tmp_path: Path) -> None:
    src, digest = random_file(tmp_path / "in", 3_000, "a.bin")
    other_src, other_digest = random_file(tmp_path / "in", 3_000, "b.bin")
    stored = store.put_file(src, digest, 3_000)
    other = store.put_file(other_src, other_digest, 3_000)
    assert stat.S_IMODE(store.path_of(stored.key).stat().st_mode) == 0o400
    assert store.exists(stored.key) is True

    assert store.destroy(stored.key) == 1

    assert not store.path_of(stored.key).exists()
    assert store.exists(stored.key) is False and store.head(digest) is None
    assert store.destroy(stored.key) == 0  # idempotent: a second run after a crash is safe
    assert store.exists(other.key) is True
    assert store.path_of(other.key).read_bytes() == other_src.read_bytes()


def test_destroy_refuses_a_key_that_leaves_the_store(store: LocalStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"not evidence")
    store.root.mkdir()
    for key in ("../outside.bin", "originals/../../outside.bin", "/etc/passwd", "", "originals//x"):
        with pytest.raises(StoreError, match="not a key of this store") as e:
            store.destroy(key)
        assert "nothing was deleted" in e.value.action
    assert outside.read_bytes() == b"not evidence"


def test_a_missing_store_folder_is_an_error_not_an_absent_file(tmp_path: Path) -> None:
    """A disk that is not mounted must not read as "already destroyed"."""
    store = LocalStore(tmp_path / "not-mounted")
    key = key_for(Digest.of_bytes(b"x"))
    for call in (store.ping, lambda: store.exists(key), lambda: store.destroy(key)):
        with pytest.raises(StoreError, match=f"original store at {re.escape(str(store.root))} is not there") as e:
            call()
        assert "mounted" in e.value.action
        zh = e.value.message("zh")  # in Chinese on a Chinese screen, what and what to do
        assert f"原始文件存储 {store.root} 不存在" in zh and "挂载" in zh and "not there" not in zh


def test_ping_answers_for_a_writable_store_and_leaves_nothing(store: LocalStore) -> None:
    store.root.mkdir()
    store.ping()
    assert list(store.root.iterdir()) == []


@pytest.fixture
def read_only_disk(tmp_path: Path) -> Iterator[tuple[LocalStore, Path, Digest]]:
    """A store on a tmpfs holding one original, then remounted read-only (root ignores file modes,
    so a read-only mount is what refuses it a write)."""
    mnt = tmp_path / "ro"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; these tests are not running as root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                       check=False, capture_output=True, text=True)
    if r.returncode != 0:
        if "permission denied" in r.stderr.lower() or "not permitted" in r.stderr.lower():
            pytest.skip(f"mounting a tmpfs is not permitted here: {r.stderr.strip()}")
        pytest.fail(f"mount -t tmpfs failed: {r.stderr.strip()}")
    try:
        store = LocalStore(mnt / "originals")
        src, digest = random_file(tmp_path / "in", 2_000)
        store.put_file(src, digest, 2_000)
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        yield store, src, digest
    finally:
        if subprocess.run(["umount", str(mnt)], check=False, capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], check=True)


def test_ping_and_destroy_on_a_read_only_store_raise_and_keep_the_file(
        read_only_disk: tuple[LocalStore, Path, Digest]) -> None:
    store, src, digest = read_only_disk
    key = key_for(digest)

    with pytest.raises(StoreError, match=f"original store at {re.escape(str(store.root))} cannot be written") as e:
        store.ping()
    assert "read-write" in e.value.action
    with pytest.raises(StoreError, match=f"Destroying {key} .* it is still stored") as e:
        store.destroy(key)
    assert "run the disposal again" in e.value.action
    assert store.exists(key) is True
    assert store.path_of(key).read_bytes() == src.read_bytes()


def test_a_folder_store_has_no_object_lock(store: LocalStore, tmp_path: Path) -> None:
    src, digest = random_file(tmp_path / "in", 100)
    stored = store.put_file(src, digest, 100)
    assert store.supports_lock() is False
    assert store.set_legal_hold(stored.key, None, True) is None
    assert store.extend_retention(stored.key, None, datetime.now(UTC) + timedelta(days=1)) is None
    assert store.lock_state(stored.key, None) == LockState(False, None, None)
    assert store.destroy(stored.key) == 1  # nothing on a folder holds it back: the archive's own holds do
