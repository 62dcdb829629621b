"""The grown shape, end to end: PostgreSQL + an S3-compatible store (with Object Lock), same code.

moto's standalone server (its own process on loopback) stands in for S3, because a real
S3 service is outside this machine.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import write_config
from tests.docks import BAY3_BINDING, build_multi_bay_dock
from tests.s3fixture import ACCESS_KEY, SECRET_KEY, S3Server, s3_server  # noqa: F401


@pytest.mark.postgres
def test_offload_verify_show_and_export_on_postgresql_and_s3(pg_url, s3_server: S3Server, tmp_path,  # noqa: F811
                                                             make_clip):
    bucket = s3_server.make_bucket(object_lock=True)
    cfg = write_config(tmp_path, pg_url, BAY3_BINDING + f"""
[s3]
bucket = "{bucket}"
endpoint_url = "{s3_server.endpoint}"
access_key_id = "{ACCESS_KEY}"
secret_access_key = "{SECRET_KEY}"
object_lock_days = 1
""")
    text = cfg.read_text().replace('store = "local"', 'store = "s3"')
    cfg.write_text(text)
    files = build_multi_bay_dock(tmp_path / "dock", make_clip)

    def liuhen(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "app.cli", "--config", str(cfg), *args],
                              capture_output=True, text=True, timeout=300)

    r = liuhen("ingest", "--once", "--json")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(rows) == len(files)
    assert {x["sha256"] for x in rows} == {f.sha256 for f in files}

    client = s3_server.client()
    listed = client.list_objects_v2(Bucket=bucket)["Contents"]
    assert len(listed) == len({f.sha256 for f in files})  # stored once per content
    assert not (tmp_path / "var" / "originals").exists()  # nothing went to the local disk store

    show = json.loads(liuhen("show", str(rows[0]["evidence_id"]), "--json").stdout)
    head = client.head_object(Bucket=bucket, Key=show["store_key"], VersionId=show["store_version"])
    assert head["ObjectLockMode"] == "COMPLIANCE"  # the original is locked in the bucket
    assert head["Metadata"]["sha256"] == show["sha256"]

    v = liuhen("verify", "--json")
    assert v.returncode == 0 and json.loads(v.stdout)["ok"], v.stdout

    e = liuhen("export", str(rows[0]["evidence_id"]), "--out", str(tmp_path / "bag"), "--json")
    assert e.returncode == 0, e.stderr
    import bagit

    bagit.Bag(str(tmp_path / "bag")).validate()
