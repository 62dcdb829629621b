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


def test_an_intake_chunk_is_bounded_by_max_chunk_mb_not_by_the_json_limit(server) -> None:
    def patch(size: int) -> int:
        head = (f"PATCH /api/v1/intake/uploads/{'0' * 32} HTTP/1.1\r\nHost: x\r\nUpload-Offset: 0\r\n"
                f"Content-Type: application/offset+octet-stream\r\nContent-Length: {size}\r\n\r\n")
        return _status(_send_partly(server, head, b"x" * 65536)[0])

    assert patch(8 << 20) == 401  # a station's 8 MB chunk passes the limit (and is refused for want of a token)
    assert patch((16 << 20) + 1) == 413  # [web] max_chunk_mb = 16


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


# ---------------------------------------------------------------------------- parties sealed at rest


PARTY = {"name": "张三丰", "id_number": "110101199003071234", "phone": "13800138000", "address": "北京市东城区某街1号"}


def _raw_parties(settings: Settings, columns: str = "name, id_number, phone, address, sealed_with") -> list[tuple[object, ...]]:
    from sqlalchemy import text

    from liuhen import db

    engine = db.make_engine(settings.archive.database_url)
    try:
        with engine.connect() as c:
            return [tuple(r) for r in c.execute(text(f"SELECT {columns} FROM case_parties"))]
    finally:
        engine.dispose()


def _clear_text_in(settings: Settings, rows: list[tuple[object, ...]]) -> list[str]:
    """Every value of PARTY found in clear text in the rows or, on SQLite, anywhere in the file."""
    blob = b"".join(bytes(v) if isinstance(v, (bytes, memoryview)) else str(v).encode() for r in rows for v in r)
    url = settings.archive.database_url
    if url.startswith("sqlite"):
        folder = Path(url.split("///", 1)[1]).parent
        blob += b"".join(p.read_bytes() for p in folder.glob("liuhen.db*"))
    return [k for k, v in PARTY.items() if v.encode() in blob]


def test_parties_are_sealed_in_the_database_and_open_with_the_data_key(archive: Archive, settings: Settings) -> None:
    from auth.service import add_unit
    from cases import service as case_service
    from cases.views import case_view

    with archive.sessions.begin() as db:
        unit = add_unit(db, code="110101", name="东城分局")
        c = case_service.create_case(db, archive.custody, settings.cases, unit_id=unit.id, unit_code="110101",
                                     category="行政处罚", title="封存测试", actor="test:privacy",
                                     parties=[case_service.PartyIn(**PARTY)], data_key=archive.data_key)
        case_id = c.id
    rows = _raw_parties(settings)
    assert len(rows) == 1 and rows[0][4] == archive.data_key.key_id
    assert _clear_text_in(settings, rows) == []
    with archive.sessions() as db:
        from cases.models import Case

        view = case_view(db, db.get_one(Case, case_id), settings.cases, tz="Asia/Shanghai", visible=lambda e: True,
                         data_key=archive.data_key, masked=False)
        assert [p.__dict__ for p in view.parties] == [{"kind": "person", **PARTY}]
    key = settings.archive.data_key_path
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 32


def test_parties_written_before_0010_are_sealed_when_the_archive_opens(settings: Settings) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from app.runtime import MIGRATIONS, open_archive
    from liuhen import db

    engine = db.make_engine(settings.archive.database_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0005")
        conn.execute(text("INSERT INTO units (code, name, created_at) VALUES ('110101', '东城分局', "
                          "'2026-11-01T00:00:00+00:00')"))
        conn.execute(text("INSERT INTO cases (number, year, seq, category, title, unit_id, status, created_by, "
                          "created_at) VALUES ('110101-2026-000001', 2026, 1, '行政处罚', '旧案', 1, 'open', "
                          "'test', '2026-11-01T00:00:00+00:00')"))
        conn.execute(text("INSERT INTO case_parties (case_id, kind, name, id_number, phone, address) VALUES "
                          "(1, 'person', :name, :id_number, :phone, :address)"), PARTY)
    engine.dispose()
    before = _raw_parties(settings, "name, id_number, phone, address")
    assert _clear_text_in(settings, before) != []  # (the test sees clear text where it is)

    a = open_archive(settings)  # migrates to 0010, seals what it finds in clear, and leaves none behind
    try:
        rows = _raw_parties(settings)
        assert [r[4] for r in rows] == [a.data_key.key_id]
        from cases.models import Case
        from cases.service import parties_of

        with a.sessions() as session:
            opened = parties_of(a.data_key, session.get_one(Case, 1))
        assert [p.__dict__ for p in opened] == [{"kind": "person", **PARTY}]
    finally:
        a.close()
    assert _clear_text_in(settings, _raw_parties(settings)) == []
    a = open_archive(settings)  # opening again seals nothing twice
    try:
        with a.sessions() as session:
            assert [p.name for p in parties_of(a.data_key, session.get_one(Case, 1))] == [PARTY["name"]]
    finally:
        a.close()
