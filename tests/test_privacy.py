"""Least privilege and bounded requests (issue 10, items 8 and 9).

* Bodies: a large body is refused (413) before it is read, and an upload is parsed only after the
  user is known — against a real uvicorn server on a real socket, sending headers and a small part
  of the body, then reading the answer while the rest is never sent.
* Files: after a real offload every folder liuhen made is 0700, every file 0600 or less, the
  originals 0400 — with the process' umask at a permissive 022 beforehand.
"""

from __future__ import annotations

import os
import socket
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn

from app.web import create_app
from archive.context import Archive
from archive.intake import LocalIntake
from ingest.station import Station
from liuhen.config import Settings
from tests.docks import put


@pytest.fixture
def server(archive: Archive) -> Iterator[tuple[str, int]]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(archive), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield "127.0.0.1", port
    finally:
        srv.should_exit = True
        thread.join(15)
        sock.close()


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder every temp file of this process goes to (the in-process server's too)."""
    d = tmp_path / "tmp"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


def _send_partly(addr: tuple[str, int], head: str, first: bytes, *, chunked: bool = False,
                 more: bytes = b"", rounds: int = 0) -> tuple[bytes, int]:
    """Send ``head`` and ``first`` (then ``more`` up to ``rounds`` times while the server listens);
    return (the answer read within 10 s, body bytes sent)."""
    s = socket.create_connection(addr, timeout=10)
    sent = 0
    try:
        s.sendall(head.encode())
        for part in [first] + [more] * rounds:
            try:
                s.sendall((f"{len(part):x}\r\n".encode() + part + b"\r\n") if chunked else part)
                sent += len(part)
            except OSError:
                break  # the server answered and closed: it stopped reading
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer) < answer.index(b"\r\n\r\n") + 4 + 10:
            got = s.recv(65536)
            if not got:
                break
            answer += got
        return answer, sent
    finally:
        s.close()


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_an_anonymous_600_mb_upload_is_refused_413_before_its_body_is_read(server, private_tmp) -> None:
    head = ("POST /api/v1/cases/1/records HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            f"Content-Length: {600 << 20}\r\n\r\n")
    answer, sent = _send_partly(server, head, b"--b\r\n" + b"x" * 65536)
    assert _status(answer) == 413 and b'"code":"too_large"' in answer.replace(b" ", b"")
    assert sent < 1 << 20  # the answer came with a sliver of the 600 MB sent
    assert list(private_tmp.iterdir()) == []  # and nothing of it on disk


def test_an_anonymous_upload_within_the_limit_gets_401_before_any_byte_is_parsed(server, private_tmp) -> None:
    size = 50 << 20
    body_start = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
                  b"Content-Type: application/pdf\r\n\r\n" + b"%PDF" + b"x" * (2 << 20))
    head = ("POST /api/v1/cases/1/records HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            f"Content-Length: {size}\r\n\r\n")
    answer, sent = _send_partly(server, head, body_start)
    assert _status(answer) == 401
    assert sent < size
    assert list(private_tmp.iterdir()) == []  # FastAPI would have spooled the 2 MB file part to disk


def test_a_large_json_body_is_refused_413_by_its_length(server) -> None:
    head = (f"POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {300 << 20}\r\n\r\n")
    answer, sent = _send_partly(server, head, b'{"title": "' + b"x" * 65536)
    assert _status(answer) == 413 and sent < 1 << 20


def test_a_chunked_json_body_is_cut_off_at_the_limit(server) -> None:
    head = "POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    answer, sent = _send_partly(server, head, b'{"title": "', chunked=True, more=b"x" * 65536, rounds=4000)
    assert _status(answer) == 413 and b"max_body_kb" in answer
    assert sent < 100 << 20  # the server stopped reading soon after 1 MB, not after the 260 MB offered


def test_a_body_within_the_limit_still_reaches_the_route(server) -> None:
    head = ("POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 2\r\n\r\n")
    answer, _ = _send_partly(server, head, b"{}")
    assert _status(answer) == 401  # read, then refused for want of a user, as before


# ---------------------------------------------------------------------------- files on disk


def test_every_file_and_folder_of_a_real_offload_is_owner_only(
        make_settings: Callable[..., Settings], tmp_path: Path, make_clip: Callable[..., Path]) -> None:
    from app.runtime import open_archive

    was = os.umask(0o022)  # a permissive default: what liuhen creates must not depend on it
    try:
        settings = make_settings()
        a = open_archive(settings)
        try:
            put(settings.station.dock_root / "bay1", "DSJ-A001_000123_20261123093000_0001.MP4",
                make_clip().read_bytes())
            station = Station(settings.station, LocalIntake(a))
            try:
                results = station.offload_once(settings.station.dock_root)
            finally:
                station.close()
            assert [r.status for r in results] == ["archived"]
        finally:
            a.close()
    finally:
        os.umask(was)

    var = tmp_path / "var"
    seen = {p.relative_to(var).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in var.rglob("*")}
    made = {"station/ledger.db", "keys/archive.ed25519"} | (
        {"liuhen.db"} if settings.archive.database_url.startswith("sqlite") else set())
    assert made <= set(seen), sorted(seen)
    assert any(k.startswith("originals/") and v == 0o400 for k, v in seen.items())
    wrong = {k: oct(v) for k, v in seen.items()
             if (v != 0o700 if (var / k).is_dir() else v not in (0o600, 0o400))
             or (k.startswith("originals/") and (var / k).is_file() and v != 0o400)}
    assert wrong == {}
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
