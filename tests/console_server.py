"""``liuhen serve`` as a real process for the console's browser tests: started on a free loopback
port with the test's config, waited for until ``/api/v1/health`` answers (a start that fails names
its log), stopped when the test is done."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(cfg: Path, folder: Path, *, start_s: float = 60.0) -> Iterator[str]:
    """Run ``liuhen serve --config cfg`` in ``folder`` (its output in ``folder/serve.log``); yield its base URL."""
    port = free_port()
    with open(folder / "serve.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "--config", str(cfg), "serve", "--port", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "LIUHEN_CONFIG": str(cfg)},
                                cwd=folder)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + start_s
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("liuhen serve did not start:\n" + (folder / "serve.log").read_text(errors="replace"))
            time.sleep(0.2)
        try:
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
