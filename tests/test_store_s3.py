"""S3Store against a real S3-compatible server process.

moto stands in for S3 because real AWS is outside this machine: its standalone server runs as
its own process on loopback (tests/s3fixture.py) and the store talks HTTP to it, built from
settings exactly as in production. Each test makes its own buckets.

moto does not check ``ChecksumSHA256`` against the body, so the server-side refusal of damaged
bytes (``BadDigest``) cannot be shown here; the store's own hashing is what these tests prove.
moto's server also does not answer GetObjectRetention (an Internal Server Error), so retention is
read from HeadObject (``ObjectLockMode`` / ``ObjectLockRetainUntilDate`` /
``ObjectLockLegalHoldStatus``), which AWS returns as well.

What moto does enforce, and these tests rely on: deleting a version under a legal hold, or under
COMPLIANCE or GOVERNANCE retention with a date ahead, is refused (DeleteObject: AccessDenied;
DeleteObjects: a per-key AccessDenied error). What it does not: it accepts a retain-until date
shorter than the one in force (AWS refuses that in COMPLIANCE mode), so "never shortens" is shown
by the store not writing a shorter date at all and by the date read back.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from archive.errors import DigestMismatch, ObjectLocked, ObjectMissing, StoreError
from archive.s3 import S3Store
from archive.store import LockState, key_for
from hashing.digest import Digest, hash_file, hash_stream
from liuhen.errors import ConfigError
from tests.s3fixture import S3Server, s3_server  # noqa: F401

MB = 1024 * 1024


def random_file(folder: Path, size: int, name: str = "random.bin") -> tuple[Path, Digest]:
    p = folder / name
    p.write_bytes(os.urandom(size))
    return p, hash_file(p)[0]


def store_for(server: S3Server, bucket: str, **settings: Any) -> S3Store:
    return S3Store.from_settings(server.settings(bucket, **settings))


def object_count(server: S3Server, bucket: str) -> int:
    return int(server.client().list_objects_v2(Bucket=bucket)["KeyCount"])


def pending_uploads(server: S3Server, bucket: str) -> list[dict[str, Any]]:
    return list(server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []))


def count_calls(store: S3Store, operation: str) -> list[int]:
    """Observe (not replace) the store's requests of one kind: returns a growing list of calls."""
    calls: list[int] = []
    store.client.meta.events.register(f"before-call.s3.{operation}", lambda **_: calls.append(1))
    return calls


# ---------------------------------------------------------------- round trip


def test_real_clip_round_trips_with_identical_bytes_and_sha(s3_server: S3Server,  # noqa: F811
                                                            make_clip: Callable[..., Path]) -> None:
    bucket = s3_server.make_bucket()
    store = store_for(s3_server, bucket, prefix="site-a/")
    clip = make_clip()
    digest, size = hash_file(clip)

    stored = store.put_file(clip, digest, size)

    assert stored.created is True
    assert stored.key == "site-a/" + key_for(digest)
    assert stored.size == size and stored.digest == digest
    assert stored.version is None  # versioning is off on this bucket
    assert store.head(digest) == type(stored)(stored.key, digest, size, None, created=False)
    with store.open(stored.key) as f:
        assert hash_stream(f) == (digest, size)
    with store.open(stored.key) as f:
        assert f.read() == clip.read_bytes()
    assert store.describe() == f"s3://{bucket}/site-a/"


def test_random_bytes_round_trip_and_sha_is_kept_in_metadata(s3_server: S3Server,  # noqa: F811
                                                            tmp_path: Path) -> None:
    bucket = s3_server.make_bucket()
    store = store_for(s3_server, bucket)
    src, digest = random_file(tmp_path, 300_001)

    stored = store.put_file(src, digest, 300_001)

    head = s3_server.client().head_object(Bucket=bucket, Key=stored.key)
    assert head["Metadata"]["sha256"] == digest.hex
    with store.open(stored.key) as f:
        first = f.read(1000)
        rest = f.read()
    assert first + rest == src.read_bytes()


def test_head_of_content_never_stored_is_none(s3_server: S3Server) -> None:  # noqa: F811
    store = store_for(s3_server, s3_server.make_bucket())
    assert store.head(Digest.of_bytes(b"never stored")) is None


# ---------------------------------------------------------------- write once


def test_second_put_of_same_content_returns_the_first_and_adds_no_version(s3_server: S3Server,  # noqa: F811
                                                                          tmp_path: Path) -> None:
    bucket = s3_server.make_bucket(versioned=True)
    store = store_for(s3_server, bucket)
    src, digest = random_file(tmp_path, 70_000)

    first = store.put_file(src, digest, 70_000)
    puts = count_calls(store, "PutObject")
    again = store.put_file(src, digest, 70_000, consume=True)

    assert first.created is True and again.created is False
    assert first.version is not None
    assert again.version == first.version
    assert puts == []
    versions = s3_server.client().list_object_versions(Bucket=bucket)["Versions"]
    assert [v["VersionId"] for v in versions] == [first.version]


def test_version_id_is_recorded_and_opens_that_version(s3_server: S3Server, tmp_path: Path) -> None:  # noqa: F811
    bucket = s3_server.make_bucket(versioned=True)
    store = store_for(s3_server, bucket)
    src, digest = random_file(tmp_path, 10_000)

    stored = store.put_file(src, digest, 10_000)

    head = s3_server.client().head_object(Bucket=bucket, Key=stored.key)
    assert stored.version == head["VersionId"]
    with store.open(stored.key, stored.version) as f:
        assert f.read() == src.read_bytes()


def test_put_racing_another_writer_keeps_the_other_copy(s3_server: S3Server, tmp_path: Path) -> None:  # noqa: F811
    bucket = s3_server.make_bucket(versioned=True)
    store = store_for(s3_server, bucket)
    src, digest = random_file(tmp_path, 50_000)
    other = s3_server.client()
    raced: list[str] = []

    def other_writer_first(**_: Any) -> None:  # runs after the store's head, before its put
        if not raced:
            r = other.put_object(Bucket=bucket, Key=store.key_of(digest), Body=src.read_bytes())
            raced.append(r["VersionId"])

    store.client.meta.events.register("before-call.s3.PutObject", other_writer_first)
    stored = store.put_file(src, digest, 50_000)

    assert stored.created is False
    assert stored.version == raced[0]
    assert len(s3_server.client().list_object_versions(Bucket=bucket)["Versions"]) == 1


def test_existing_object_of_another_size_is_reported_not_overwritten(s3_server: S3Server,  # noqa: F811
                                                                     tmp_path: Path) -> None:
    bucket = s3_server.make_bucket()
    store = store_for(s3_server, bucket)
    src, digest = random_file(tmp_path, 4_000)
    s3_server.client().put_object(Bucket=bucket, Key=store.key_of(digest), Body=b"damaged")

    with pytest.raises(StoreError, match="7 bytes, not 4000") as e:
        store.put_file(src, digest, 4_000)

    assert "liuhen verify" in e.value.action
    body = s3_server.client().get_object(Bucket=bucket, Key=store.key_of(digest))["Body"].read()
    assert body == b"damaged"


# ---------------------------------------------------------------- refusing damaged bytes


def test_wrong_expected_digest_is_refused_and_nothing_is_stored(s3_server: S3Server,  # noqa: F811
                                                                tmp_path: Path) -> None:
    bucket = s3_server.make_bucket(versioned=True)
    store = store_for(s3_server, bucket)
    src, _ = random_file(tmp_path, 20_000)
    claimed = Digest.of_bytes(b"what the manifest says")

    with pytest.raises(DigestMismatch, match="refused") as e:
        store.put_file(src, claimed, 20_000)

    assert "offload the file again" in e.value.action
    assert store.head(claimed) is None
    assert object_count(s3_server, bucket) == 0
    assert "Versions" not in s3_server.client().list_object_versions(Bucket=bucket)


def test_wrong_expected_size_is_refused(s3_server: S3Server, tmp_path: Path) -> None:  # noqa: F811
    bucket = s3_server.make_bucket()
    store = store_for(s3_server, bucket)
    src, digest = random_file(tmp_path, 20_000)

    with pytest.raises(DigestMismatch, match="more than 19999 bytes"):
        store.put_file(src, digest, 19_999)

    assert object_count(s3_server, bucket) == 0


# ---------------------------------------------------------------- multipart


def test_large_file_goes_up_in_parts_with_full_sha_in_metadata(s3_server: S3Server,  # noqa: F811
                                                               tmp_path: Path) -> None:
    bucket = s3_server.make_bucket(versioned=True)
    store = store_for(s3_server, bucket, multipart_threshold_mb=5, multipart_chunk_mb=5)
    src, digest = random_file(tmp_path, 12 * MB + 123)
    parts = count_calls(store, "UploadPart")

    stored = store.put_file(src, digest, 12 * MB + 123)

    assert len(parts) == 3
    head = s3_server.client().head_object(Bucket=bucket, Key=stored.key)
    assert head["Metadata"]["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert head["ContentLength"] == 12 * MB + 123
    assert stored.version == head["VersionId"]
    assert pending_uploads(s3_server, bucket) == []
    with store.open(stored.key, stored.version) as f:
        assert hash_stream(f) == (digest, 12 * MB + 123)


def test_multipart_with_wrong_digest_is_aborted_and_leaves_nothing(s3_server: S3Server,  # noqa: F811
                                                                   tmp_path: Path) -> None:
    bucket = s3_server.make_bucket()
    store = store_for(s3_server, bucket, multipart_threshold_mb=5, multipart_chunk_mb=5)
    src, _ = random_file(tmp_path, 11 * MB)
    claimed = Digest.of_bytes(b"not these bytes")

    with pytest.raises(DigestMismatch):
        store.put_file(src, claimed, 11 * MB)

    assert object_count(s3_server, bucket) == 0
    assert pending_uploads(s3_server, bucket) == []


def test_multipart_racing_another_writer_keeps_the_other_copy(s3_server: S3Server,  # noqa: F811
                                                              tmp_path: Path) -> None:
    bucket = s3_server.make_bucket(versioned=True)
    store = store_for(s3_server, bucket, multipart_threshold_mb=5, multipart_chunk_mb=5)
    src, digest = random_file(tmp_path, 6 * MB)
    other = s3_server.client()
    raced: list[str] = []

    def other_writer_first(**_: Any) -> None:
        if not raced:
            r = other.put_object(Bucket=bucket, Key=store.key_of(digest), Body=src.read_bytes())
            raced.append(r["VersionId"])

    store.client.meta.events.register("before-call.s3.CompleteMultipartUpload", other_writer_first)
    stored = store.put_file(src, digest, 6 * MB)

    assert stored.created is False and stored.version == raced[0]
    assert len(s3_server.client().list_object_versions(Bucket=bucket)["Versions"]) == 1
    assert pending_uploads(s3_server, bucket) == []


# ---------------------------------------------------------------- Object Lock


def assert_locked_for_a_day(server: S3Server, bucket: str, key: str, version: str | None) -> None:
    head = server.client().head_object(Bucket=bucket, Key=key, VersionId=version)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    expected = datetime.now(UTC) + timedelta(days=1)
    assert abs(head["ObjectLockRetainUntilDate"] - expected) < timedelta(minutes=5)
    with pytest.raises(ClientError) as e:  # compliance mode: nobody can delete it early
        server.client().delete_object(Bucket=bucket, Key=key, VersionId=version)
    assert e.value.response["Error"]["Code"] == "AccessDenied"


@pytest.mark.parametrize("size", [40_000, 6 * MB], ids=["single-part", "multipart"])
def test_object_lock_bucket_gets_retention_on_every_object(s3_server: S3Server, tmp_path: Path,  # noqa: F811
                                                           size: int) -> None:
    bucket = s3_server.make_bucket(object_lock=True)
    store = store_for(s3_server, bucket, object_lock_days=1, multipart_threshold_mb=5, multipart_chunk_mb=5)
    src, digest = random_file(tmp_path, size)

    stored = store.put_file(src, digest, size)

    assert stored.version is not None  # Object Lock buckets are always versioned
    assert_locked_for_a_day(s3_server, bucket, stored.key, stored.version)


def test_lock_status_is_asked_once_per_store(s3_server: S3Server, tmp_path: Path) -> None:  # noqa: F811
    store = store_for(s3_server, s3_server.make_bucket(object_lock=True), object_lock_days=1)
    asked = count_calls(store, "GetObjectLockConfiguration")
    for i in range(3):
        src, digest = random_file(tmp_path, 1000 + i, name=f"f{i}.bin")
        store.put_file(src, digest, 1000 + i)
    assert len(asked) == 1


def test_no_retention_without_lock_days(s3_server: S3Server, tmp_path: Path) -> None:  # noqa: F811
    src, digest = random_file(tmp_path, 5000)
    bucket = s3_server.make_bucket(object_lock=True)
    stored = store_for(s3_server, bucket, object_lock_days=0).put_file(src, digest, 5000)
    head = s3_server.client().head_object(Bucket=bucket, Key=stored.key)
    assert "ObjectLockMode" not in head


def test_lock_days_on_a_bucket_without_object_lock_is_refused_not_stored_unlocked(
        s3_server: S3Server, tmp_path: Path) -> None:  # noqa: F811
    from liuhen.errors import ConfigError

    src, digest = random_file(tmp_path, 5000)
    bucket = s3_server.make_bucket()
    store = store_for(s3_server, bucket, object_lock_days=30)
    with pytest.raises(ConfigError, match="has no Object Lock"):
        store.put_file(src, digest, 5000)
    assert s3_server.client().list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


def test_legal_hold_goes_on_and_off(s3_server: S3Server, tmp_path: Path) -> None:  # noqa: F811
    bucket = s3_server.make_bucket(object_lock=True)
    store = store_for(s3_server, bucket)
    src, digest = random_file(tmp_path, 3000)
    stored = store.put_file(src, digest, 3000)
    c = s3_server.client()

    store.set_legal_hold(stored.key, stored.version, True)
    assert c.get_object_legal_hold(Bucket=bucket, Key=stored.key,
                                   VersionId=stored.version)["LegalHold"]["Status"] == "ON"
    with pytest.raises(ClientError):
        c.delete_object(Bucket=bucket, Key=stored.key, VersionId=stored.version)

    store.set_legal_hold(stored.key, stored.version, False)
    assert c.get_object_legal_hold(Bucket=bucket, Key=stored.key,
                                   VersionId=stored.version)["LegalHold"]["Status"] == "OFF"


# ---------------------------------------------------------------- missing and unreachable


def test_open_of_missing_key_or_version_raises_object_missing(s3_server: S3Server,  # noqa: F811
                                                              tmp_path: Path) -> None:
    bucket = s3_server.make_bucket(versioned=True)
    store = store_for(s3_server, bucket)
    with pytest.raises(ObjectMissing, match=f"s3://{bucket}/") as e:
        store.open(store.key_of(Digest.of_bytes(b"gone")))
    assert "liuhen verify" in e.value.action

    src, digest = random_file(tmp_path, 100)
    stored = store.put_file(src, digest, 100)
    with pytest.raises(ObjectMissing, match="version"):
        store.open(stored.key, "no-such-version")


def test_missing_bucket_is_reported_with_what_to_do(s3_server: S3Server, tmp_path: Path) -> None:  # noqa: F811
    store = store_for(s3_server, "liuhen-no-such-bucket")
    src, digest = random_file(tmp_path, 100)
    with pytest.raises(StoreError, match="liuhen-no-such-bucket does not exist") as e:
        store.put_file(src, digest, 100)
    assert "nothing was lost" in e.value.action
    zh = e.value.message("zh")  # in Chinese on a Chinese screen
    assert "S3 存储桶 liuhen-no-such-bucket 不存在" in zh and "没有丢失任何内容" in zh and "does not exist" not in zh


def test_unreachable_endpoint_is_a_store_error_naming_the_bucket(s3_server: S3Server,  # noqa: F811
                                                                 tmp_path: Path) -> None:
    closed = S3Server("http://127.0.0.1:9")  # discard port: nothing listens
    store = S3Store(closed.client(retries={"total_max_attempts": 1}), "evidence-bucket")
    src, digest = random_file(tmp_path, 100)

    with pytest.raises(StoreError, match="evidence-bucket") as e:
        store.put_file(src, digest, 100)
    assert "S3 endpoint and credentials" in e.value.action and "nothing was lost" in e.value.action
    with pytest.raises(StoreError, match="evidence-bucket"):
        store.open("originals/x")


def test_unusable_endpoint_setting_is_a_config_error(s3_server: S3Server) -> None:  # noqa: F811
    with pytest.raises(ConfigError, match="not usable: Invalid endpoint") as e:
        S3Store.from_settings(s3_server.settings("b-x", endpoint_url="not a url"))
    assert "endpoint_url" in e.value.action


def test_a_byte_range_reads_exactly_those_bytes_of_that_version(s3_server: S3Server,  # noqa: F811
                                                                tmp_path: Path) -> None:
    """What a browser's player asks for when it seeks (api/streaming.py), from S3 as from a folder."""
    bucket = s3_server.make_bucket()
    store = store_for(s3_server, bucket)
    src, digest = random_file(tmp_path, 300_001)
    stored = store.put_file(src, digest, 300_001)
    data = src.read_bytes()
    for start, length in ((0, 1), (1000, 4096), (300_000, 1), (12_345, 300_001 - 12_345)):
        with store.open_range(stored.key, stored.version, start, length) as f:
            assert f.read() == data[start:start + length]
    with pytest.raises(ObjectMissing):
        store.open_range(stored.key.replace(digest.hex, "0" * 64), None, 0, 10)


# ---------------------------------------------------------------- disposal: destroy, exists, ping


def versions_of(server: S3Server, bucket: str, key: str) -> tuple[list[str], list[str]]:
    """(object versions, delete markers) of exactly ``key``, as the plain client lists them."""
    r = server.client().list_object_versions(Bucket=bucket, Prefix=key)
    return ([v["VersionId"] for v in r.get("Versions", []) if v["Key"] == key],
            [m["VersionId"] for m in r.get("DeleteMarkers", []) if m["Key"] == key])


def test_destroy_removes_every_version_and_delete_marker_of_that_key_only(s3_server: S3Server,  # noqa: F811
                                                                          tmp_path: Path) -> None:
    bucket = s3_server.make_bucket(versioned=True)
    store = store_for(s3_server, bucket, prefix="site-a/")
    src, digest = random_file(tmp_path, 5_000, "a.bin")
    other_src, other_digest = random_file(tmp_path, 6_000, "b.bin")
    stored = store.put_file(src, digest, 5_000)
    other = store.put_file(other_src, other_digest, 6_000)
    c = s3_server.client()
    c.put_object(Bucket=bucket, Key=stored.key, Body=b"second version")
    c.put_object(Bucket=bucket, Key=stored.key, Body=b"third version")
    c.delete_object(Bucket=bucket, Key=stored.key)  # a delete marker on top
    longer = stored.key + ".sidecar"  # a key that merely starts with the destroyed one
    c.put_object(Bucket=bucket, Key=longer, Body=b"not the same key")
    assert tuple(map(len, versions_of(s3_server, bucket, stored.key))) == (3, 1)
    assert store.exists(stored.key) is True  # older versions behind a delete marker are still bytes

    assert store.destroy(stored.key) == 4

    assert versions_of(s3_server, bucket, stored.key) == ([], [])
    assert store.exists(stored.key) is False
    assert store.exists(other.key) is True and store.exists(longer) is True
    assert versions_of(s3_server, bucket, other.key) == ([other.version], [])
    with store.open(other.key, other.version) as f:
        assert f.read() == other_src.read_bytes()
    assert store.destroy(stored.key) == 0  # idempotent: a second run after a crash is safe
    assert store.head(digest) is None


def test_destroy_on_a_bucket_without_versioning_removes_the_object(s3_server: S3Server,  # noqa: F811
                                                                   tmp_path: Path) -> None:
    bucket = s3_server.make_bucket()
    store = store_for(s3_server, bucket)
    src, digest = random_file(tmp_path, 700)
    stored = store.put_file(src, digest, 700)

    assert store.destroy(stored.key) == 1
    assert store.exists(stored.key) is False and object_count(s3_server, bucket) == 0
    assert store.destroy(stored.key) == 0


def test_destroy_lists_every_page_and_deletes_in_batches(s3_server: S3Server) -> None:  # noqa: F811
    """More versions than one listing page or one DeleteObjects batch holds (S3's 1,000 each, made
    small here so that the test stays quick): every page is read, every batch sent."""
    bucket = s3_server.make_bucket(versioned=True)
    store = store_for(s3_server, bucket)
    store.list_page, store.delete_batch = 2, 2
    c = s3_server.client()
    key = "originals/sha256/ab/cd/many"
    for i in range(4):
        c.put_object(Bucket=bucket, Key=key, Body=str(i).encode())
    c.delete_object(Bucket=bucket, Key=key)
    c.put_object(Bucket=bucket, Key="originals/sha256/ab/cd/kept", Body=b"kept")
    pages = count_calls(store, "ListObjectVersions")
    batches = count_calls(store, "DeleteObjects")

    assert store.destroy(key) == 5

    assert len(batches) == 3
    assert len(pages) == 3 + 1  # three pages of five entries, then the check that none is left
    assert versions_of(s3_server, bucket, key) == ([], [])
    assert store.exists("originals/sha256/ab/cd/kept") is True


def test_destroy_under_legal_hold_is_refused_and_nothing_is_deleted(s3_server: S3Server,  # noqa: F811
                                                                    tmp_path: Path) -> None:
    bucket = s3_server.make_bucket(object_lock=True)
    store = store_for(s3_server, bucket)
    src, digest = random_file(tmp_path, 3_000)
    stored = store.put_file(src, digest, 3_000)
    store.set_legal_hold(stored.key, stored.version, True)
    deletes = count_calls(store, "DeleteObjects")

    with pytest.raises(ObjectLocked, match="under a legal hold; nothing of it was deleted") as e:
        store.destroy(stored.key)

    assert stored.key in e.value.detail and bucket in e.value.detail
    assert "never bypasses" in e.value.action
    assert deletes == []
    assert versions_of(s3_server, bucket, stored.key) == ([stored.version], [])
    with store.open(stored.key, stored.version) as f:
        assert f.read() == src.read_bytes()

    store.set_legal_hold(stored.key, stored.version, False)  # no retention was set: it can go now
    assert store.destroy(stored.key) == 1
    assert store.exists(stored.key) is False


def test_a_hold_placed_between_the_check_and_the_delete_is_still_refused(s3_server: S3Server,  # noqa: F811
                                                                         tmp_path: Path) -> None:
    """The server's own refusal (DeleteObjects' per-key AccessDenied, which moto enforces for a
    legal hold) is read, not ignored: ObjectLocked, the object kept."""
    bucket = s3_server.make_bucket(object_lock=True)
    store = store_for(s3_server, bucket)
    src, digest = random_file(tmp_path, 2_000)
    stored = store.put_file(src, digest, 2_000)
    other = s3_server.client()

    def hold_first(**_: Any) -> None:
        other.put_object_legal_hold(Bucket=bucket, Key=stored.key, VersionId=stored.version,
                                    LegalHold={"Status": "ON"})

    store.client.meta.events.register("before-call.s3.DeleteObjects", hold_first)
    with pytest.raises(ObjectLocked, match="refused to delete .* Object Lock.*nothing of it was deleted"):
        store.destroy(stored.key)
    assert versions_of(s3_server, bucket, stored.key) == ([stored.version], [])


def test_destroy_under_compliance_retention_is_refused_and_nothing_is_deleted(s3_server: S3Server,  # noqa: F811
                                                                              tmp_path: Path) -> None:
    bucket = s3_server.make_bucket(object_lock=True)
    store = store_for(s3_server, bucket, object_lock_days=1)  # COMPLIANCE for a day from now
    src, digest = random_file(tmp_path, 4_000)
    stored = store.put_file(src, digest, 4_000)
    until = store.lock_state(stored.key, stored.version).retain_until
    assert until is not None
    deletes = count_calls(store, "DeleteObjects")

    with pytest.raises(ObjectLocked, match=r"locked \(COMPLIANCE\) until "
                                           f"{until:%Y-%m-%d %H:%M:%S} UTC; nothing of it was deleted"):
        store.destroy(stored.key)

    assert deletes == []
    assert store.exists(stored.key) is True
    assert versions_of(s3_server, bucket, stored.key) == ([stored.version], [])
    with store.open(stored.key, stored.version) as f:
        assert hash_stream(f) == (digest, 4_000)


def test_exists_and_destroy_of_a_key_never_stored(s3_server: S3Server) -> None:  # noqa: F811
    store = store_for(s3_server, s3_server.make_bucket(versioned=True))
    key = store.key_of(Digest.of_bytes(b"never stored"))
    assert store.exists(key) is False
    assert store.destroy(key) == 0


def test_ping_answers_for_a_usable_bucket_and_names_what_is_wrong_otherwise(s3_server: S3Server) -> None:  # noqa: F811
    store_for(s3_server, s3_server.make_bucket()).ping()

    with pytest.raises(StoreError, match="bucket liuhen-no-such-bucket does not exist") as e:
        store_for(s3_server, "liuhen-no-such-bucket").ping()
    assert "s3.bucket" in e.value.action and "nothing was changed" in e.value.action


def test_ping_exists_and_destroy_on_an_unreachable_endpoint_raise_store_error(s3_server: S3Server) -> None:  # noqa: F811
    closed = S3Server("http://127.0.0.1:9")  # discard port: nothing listens
    store = S3Store(closed.client(retries={"total_max_attempts": 1}), "evidence-bucket")

    with pytest.raises(StoreError, match="cannot be reached") as e:
        store.ping()
    assert "http://127.0.0.1:9" in e.value.detail and "s3://evidence-bucket/" in e.value.detail
    assert "s3.endpoint_url" in e.value.action
    with pytest.raises(StoreError, match="evidence-bucket"):
        store.exists("originals/x")
    with pytest.raises(StoreError, match="evidence-bucket.*destroying originals/x") as e:
        store.destroy("originals/x")
    assert "run the disposal again" in e.value.action


# ---------------------------------------------------------------- Object Lock mirroring: retention, state


def test_extend_retention_sets_then_extends_and_never_shortens(s3_server: S3Server, tmp_path: Path) -> None:  # noqa: F811
    bucket = s3_server.make_bucket(object_lock=True)
    store = store_for(s3_server, bucket)  # object_lock_days = 0: stored without retention
    src, digest = random_file(tmp_path, 1_500)
    stored = store.put_file(src, digest, 1_500)
    assert store.supports_lock() is True
    assert store.lock_state(stored.key, stored.version) == LockState(False, None, None)

    first = datetime.now(UTC) + timedelta(days=10, microseconds=250_000)
    got = store.extend_retention(stored.key, stored.version, first)

    assert got is not None and first <= got < first + timedelta(seconds=1)  # rounded up to the second
    assert store.lock_state(stored.key, stored.version) == LockState(False, got, "COMPLIANCE")
    head = s3_server.client().head_object(Bucket=bucket, Key=stored.key, VersionId=stored.version)
    assert head["ObjectLockRetainUntilDate"] == got and head["ObjectLockMode"] == "COMPLIANCE"

    later = first + timedelta(days=20)
    extended = store.extend_retention(stored.key, stored.version, later)
    assert extended is not None and extended >= later
    assert store.lock_state(stored.key, stored.version).retain_until == extended

    puts = count_calls(store, "PutObjectRetention")
    kept = store.extend_retention(stored.key, stored.version, first)  # shorter: not written
    assert kept == extended and puts == []
    assert store.lock_state(stored.key, stored.version).retain_until == extended

    store.set_legal_hold(stored.key, stored.version, True)
    assert store.lock_state(stored.key, stored.version) == LockState(True, extended, "COMPLIANCE")


def test_extend_retention_keeps_the_mode_in_force(s3_server: S3Server, tmp_path: Path) -> None:  # noqa: F811
    bucket = s3_server.make_bucket(object_lock=True)
    store = store_for(s3_server, bucket, object_lock_mode="COMPLIANCE")
    src, digest = random_file(tmp_path, 900)
    stored = store.put_file(src, digest, 900)
    soon = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    s3_server.client().put_object_retention(Bucket=bucket, Key=stored.key, VersionId=stored.version,
                                            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": soon})

    got = store.extend_retention(stored.key, stored.version, soon + timedelta(days=5))

    assert got == soon + timedelta(days=5)
    assert store.lock_state(stored.key, stored.version) == LockState(False, got, "GOVERNANCE")


def test_lock_operations_without_object_lock_and_on_missing_objects(s3_server: S3Server,  # noqa: F811
                                                                     tmp_path: Path) -> None:
    bucket = s3_server.make_bucket(versioned=True)
    store = store_for(s3_server, bucket)
    src, digest = random_file(tmp_path, 800)
    stored = store.put_file(src, digest, 800)

    assert store.supports_lock() is False
    assert store.extend_retention(stored.key, stored.version, datetime.now(UTC) + timedelta(days=1)) is None
    assert store.lock_state(stored.key, stored.version) == LockState(False, None, None)
    with pytest.raises(ObjectMissing, match="missing"):
        store.lock_state(stored.key + "-gone", None)
    with pytest.raises(ValueError, match="time zone"):
        store.extend_retention(stored.key, stored.version, datetime(2030, 1, 1))

    locked = store_for(s3_server, s3_server.make_bucket(object_lock=True))
    with pytest.raises(ObjectMissing, match="missing"):
        locked.extend_retention("originals/sha256/00/00/gone", None, datetime.now(UTC) + timedelta(days=1))
