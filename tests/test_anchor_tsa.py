"""Checkpoints time-stamped by an RFC 3161 authority: a local TSA made with ``openssl ts -reply``
behind a small HTTP server on 127.0.0.1, a real CA and TSA certificate made with openssl."""

from __future__ import annotations

import base64
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from hashing.models import CustodyAnchoring, CustodyCheckpoint, CustodyEvent

TSA_CONF = """
[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
certs = $dir/ca.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _ssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def tsa(tmp_path_factory):
    d = tmp_path_factory.mktemp("tsa")
    _ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key",
         "-out", "ca.crt", "-subj", "/CN=liuhen test CA", "-days", "2",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign", cwd=d)
    _ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "tsa.key",
         "-out", "tsa.csr", "-subj", "/CN=liuhen test TSA", cwd=d)
    (d / "ext.cnf").write_text("extendedKeyUsage=critical,timeStamping\nkeyUsage=critical,digitalSignature\n")
    _ssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "tsa.crt",
         "-days", "2", "-extfile", "ext.cnf", cwd=d)
    (d / "serial").write_text("01\n")
    (d / "tsa.cnf").write_text(TSA_CONF.format(dir=d))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                (d / "q.tsq").write_bytes(body)
                _ssl("ts", "-reply", "-config", "tsa.cnf", "-queryfile", "q.tsq", "-out", "r.tsr", cwd=d)
                reply = (d / "r.tsr").read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tsa", d
    server.shutdown()


@pytest.fixture
def settings(make_settings, tsa):
    url, d = tsa
    return make_settings(f'\n[anchors]\ntsa_url = "{url}"\ntsa_ca_file = "{d / "ca.crt"}"\n')


def test_each_checkpoint_gets_a_timestamp_token_that_openssl_verifies(archive, tsa, tmp_path):
    _, d = tsa
    for i in range(12):
        with archive.sessions.begin() as db:
            archive.custody.record(db, actor="user:alice", action="viewed", tool="test", tool_version="1",
                                   detail={"i": i})
    with archive.sessions() as db:
        rows = db.execute(select(CustodyAnchoring).order_by(CustodyAnchoring.checkpoint_seq)).scalars().all()
        notes = {cp.seq: cp.note for cp in db.execute(select(CustodyCheckpoint)).scalars()}
    assert [r.checkpoint_seq for r in rows] == [1, 11] and all(r.outcome == "success" for r in rows)
    for r in rows:
        (tmp_path / "note").write_text(notes[r.checkpoint_seq])
        (tmp_path / "token.tsr").write_bytes(base64.b64decode(r.receipt))
        _ssl("ts", "-verify", "-data", "note", "-in", "token.tsr", "-CAfile", str(d / "ca.crt"), cwd=tmp_path)
        (tmp_path / "note").write_text(notes[r.checkpoint_seq].replace("\n", "\n ", 1))
        with pytest.raises(subprocess.CalledProcessError):  # the token is bound to the exact note
            _ssl("ts", "-verify", "-data", "note", "-in", "token.tsr", "-CAfile", str(d / "ca.crt"), cwd=tmp_path)


def test_verify_passes_with_a_tsa_configured(archive):
    from integrity.service import verify_all

    for _ in range(2):  # a checkpoint at event 1; verify signs and time-stamps one at event 2
        with archive.sessions.begin() as db:
            archive.custody.record(db, actor="user:alice", action="viewed", tool="test", tool_version="1")
    report = verify_all(archive)
    assert report.ok, report.to_dict()
    with archive.sessions() as db:
        assert db.execute(select(CustodyAnchoring.outcome)).scalars().all() == ["success", "success"]


def test_an_unreachable_tsa_is_an_anchor_failed_event(make_settings):
    from app.runtime import open_archive

    a = open_archive(make_settings('\n[anchors]\ntsa_url = "http://127.0.0.1:9/tsa"\n'))
    try:
        with a.sessions.begin() as db:
            a.custody.record(db, actor="user:alice", action="viewed", tool="test", tool_version="1")
        with a.sessions() as db:
            ev = db.execute(select(CustodyEvent).where(CustodyEvent.action == "anchor_failed")).scalar_one()
            row = db.execute(select(CustodyAnchoring)).scalar_one()
        assert ev.outcome == "failure" and "tsa:http://127.0.0.1:9/tsa" in ev.detail
        assert row.outcome == "failure" and "could not be time-stamped" in row.receipt
    finally:
        a.close()
