"""Checkpoints anchored in an S3 bucket with Object Lock (moto's server process, over HTTP)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest
from botocore.exceptions import ClientError

from hashing import note
from tests.s3fixture import S3Server, s3_server  # noqa: F401


@pytest.fixture
def locked(s3_server: S3Server, make_settings):  # noqa: F811
    bucket = s3_server.make_bucket(object_lock=True)
    s = make_settings(f'\n[anchors]\ns3_bucket = "{bucket}"\ns3_prefix = "log/"\ns3_lock_mode = "COMPLIANCE"\n'
                      f's3_lock_days = 30\n')
    s3 = s3_server.settings(bucket)
    return dataclasses.replace(s, s3=dataclasses.replace(s.s3, endpoint_url=s3.endpoint_url,
                                                         access_key_id=s3.access_key_id,
                                                         secret_access_key=s3.secret_access_key)), bucket


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_checkpoints_are_put_under_compliance_retention_and_read_back_by_verify(locked, s3_server):  # noqa: F811
    from app.runtime import open_archive
    from integrity.service import verify_all

    s, bucket = locked
    a = open_archive(s)
    try:
        for i in range(25):
            with a.sessions.begin() as db:
                a.custody.record(db, actor="user:alice", action="viewed", tool="test", tool_version="1",
                                 detail={"i": i})
        c = s3_server.client()
        versions = c.list_object_versions(Bucket=bucket, Prefix="log/")["Versions"]
        assert len(versions) == 3  # checkpoints at events 1, 11 and 21
        for v in versions:
            head = c.head_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
            assert head["ObjectLockMode"] == "COMPLIANCE" and head["ObjectLockRetainUntilDate"]
            body = c.get_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])["Body"].read()
            note.open_note(body, a.key.public_pem, note.origin_of(a.key))
        # the bucket refuses to delete a locked checkpoint (moto enforces COMPLIANCE retention)
        with pytest.raises(ClientError):
            c.delete_object(Bucket=bucket, Key=versions[0]["Key"], VersionId=versions[0]["VersionId"])
        report = verify_all(a)
        assert report.ok, report.to_dict()
        assert report.anchored == 3
    finally:
        a.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_truncation_is_named_from_the_bucket_alone(locked, s3_server, tmp_path):  # noqa: F811
    from app.runtime import open_archive
    from tests.test_tlog import _truncate

    s, bucket = locked
    a = open_archive(s)
    try:
        for i in range(35):
            with a.sessions.begin() as db:
                a.custody.record(db, actor="user:alice", action="viewed", tool="test", tool_version="1",
                                 detail={"i": i})
        _truncate(a, 15)
    finally:
        a.close()
    cfg = tmp_path / "s3.toml"
    cfg.write_text(s.config_path.read_text() + "\n".join([
        "", "[s3]", f'endpoint_url = "{s3_server.endpoint}"', 'access_key_id = "liuhen-test"',
        'secret_access_key = "liuhen-test-secret"', ""]))
    r = subprocess.run([sys.executable, "-m", "app.cli", "--config", str(cfg), "verify", "--json"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 3, r.stdout + r.stderr
    truncated = [f for f in json.loads(r.stdout)["failures"] if f["kind"] == "custody_truncated"]
    assert truncated and all(f"s3://{bucket}/log/" in f["detail"] for f in truncated)
