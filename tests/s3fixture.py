"""A real S3-compatible server for tests: moto's standalone server, as its own process on loopback.

moto stands in for S3 because real AWS is outside this machine. The code under test talks to
it over HTTP exactly as it would to AWS or MinIO; nothing is patched in-process.

Use it from a test module with ``from tests.s3fixture import s3_server  # noqa: F401``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from liuhen.config import S3Settings

ACCESS_KEY = "liuhen-test"
SECRET_KEY = "liuhen-test-secret"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    region: str = "us-east-1"

    def client(self, **config: Any) -> Any:
        """A plain boto3 client for the test's own setup and checks."""
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, region_name=self.region,
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
            config=Config(s3={"addressing_style": "path"}, **config))

    def make_bucket(self, *, versioned: bool = False, object_lock: bool = False) -> str:
        name = f"liuhen-{uuid.uuid4().hex[:12]}"
        c = self.client()
        if object_lock:
            c.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)  # turns versioning on too
        else:
            c.create_bucket(Bucket=name)
        if versioned:
            c.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        return name

    def settings(self, bucket: str, **overrides: Any) -> S3Settings:
        base = S3Settings(bucket=bucket, endpoint_url=self.endpoint, region=self.region,
                          access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY)
        return replace(base, **overrides)


def _wait_until_up(proc: subprocess.Popen[bytes], endpoint: str, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"moto's S3 server exited with {proc.returncode}:\n{log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(endpoint + "/", timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"moto's S3 server did not answer at {endpoint} within {timeout:.0f}s:\n"
                f"{log.read_text(errors='replace')[-2000:]}")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "server.log"
    endpoint = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait_until_up(proc, endpoint, log)
        yield S3Server(endpoint)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
