"""Officers' enforcement certificates (行政执法证件) and reviewers' qualification (法律职业资格): the
roster service, the CLI, the API, and ``liuhen verify`` naming a certificate row changed below the
application. Service and API on SQLite and PostgreSQL (the ``archive`` fixture), the CLI and verify
on SQLite as real processes.

Validity is inclusive at both ends: a certificate valid from 2024-01-01 until 2026-06-30 counts on
both of those days and on no day outside them; a revoked one counts on no day.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from archive.attribution import add_officer
from archive.context import Archive
from auth import service as accounts
from auth.errors import AlreadyExists, InvalidAccount
from hashing.models import CustodyEvent
from liuhen import config
from roster import service as roster
from roster.errors import CertificateExists, RosterError, UnknownCertificate, UnknownOfficer
from tests.conftest import write_config

ACTOR = "test:records"
PASSWORD = "正确的马电池订书钉和钥匙"
A, B = "110101", "110102"
D = dt.date


def _world(archive: Archive) -> dict[str, int]:
    with archive.sessions.begin() as db:
        units = {A: accounts.add_unit(db, code=A, name="东城区市场监管局").id,
                 B: accounts.add_unit(db, code=B, name="西城区市场监管局").id}
        add_officer(db, archive.custody, officer_no="000123", name="张三", unit_id=units[A], actor=ACTOR)
        add_officer(db, archive.custody, officer_no="000321", name="王五", unit_id=units[A], actor=ACTOR)
        add_officer(db, archive.custody, officer_no="000456", name="李四", unit_id=units[B], actor=ACTOR)
    return units


def _events(archive: Archive, action: str) -> list[dict[str, Any]]:
    with archive.sessions() as db:
        return [json.loads(e.detail) for e in db.scalars(select(CustodyEvent).where(CustodyEvent.action == action)
                                                         .order_by(CustodyEvent.seq))]


# ---------------------------------------------------------------------------- the service


def test_a_certificate_counts_from_its_first_to_its_last_day_and_a_renewal_takes_over(archive):
    _world(archive)
    with archive.sessions.begin() as db:
        old = roster.add_certificate(db, archive.custody, officer_no="000123", number="11010120240001",
                                     category="市场监管", area="东城区", valid_from=D(2024, 1, 1),
                                     valid_until=D(2026, 6, 30), actor=ACTOR)
        new = roster.add_certificate(db, archive.custody, officer_no="000123", number="11010120260007",
                                     category="市场监管", area="东城区", valid_from=D(2026, 6, 1),
                                     valid_until=D(2029, 5, 31), actor=ACTOR)
        old_id, new_id = old.id, new.id
    with archive.sessions() as db:
        def on(day: dt.date) -> int | None:
            c = roster.valid_certificate(db, "000123", day)
            return None if c is None else c.id

        assert on(D(2023, 12, 31)) is None
        assert on(D(2024, 1, 1)) == old_id
        assert on(D(2026, 5, 31)) == old_id
        assert on(D(2026, 6, 15)) == new_id  # both valid: the one valid longer
        assert on(D(2026, 7, 1)) == new_id
        assert on(D(2029, 5, 31)) == new_id and on(D(2029, 6, 1)) is None
        batch = roster.valid_on(db, ["000123", "000321", "999999"], D(2025, 3, 3))
        assert {k: (c.number if c else None) for k, c in batch.items()} == {
            "000123": "11010120240001", "000321": None, "999999": None}
        assert roster.valid_on(db, [], D(2025, 3, 3)) == {}
        assert [c.number for c in roster.certificates_of(db, "000123")] == ["11010120240001", "11010120260007"]
        assert roster.certificates_of(db, "000321") == []
        cert = roster.get_certificate(db, number="11010120240001")
        assert roster.certificate_state(cert, D(2023, 1, 1)) == "not_yet_valid"
        assert roster.certificate_state(cert, D(2025, 1, 1)) == "valid"
        assert roster.certificate_state(cert, D(2026, 7, 1)) == "expired"
    (added, _) = _events(archive, "certificate_added")
    assert added["officer_no"] == "000123" and added["number"] == "11010120240001"
    assert added["valid_from"] == "2024-01-01" and added["valid_until"] == "2026-06-30"
    assert list(added["bound"]) == [f"officer_certificates:{old_id}"]


def test_changing_and_revoking_a_certificate_are_events_and_a_revoked_one_counts_on_no_day(archive):
    _world(archive)
    with archive.sessions.begin() as db:
        c = roster.add_certificate(db, archive.custody, officer_no="000321", number="CERT-1", category="市场监管",
                                   area="东城区", valid_from=D(2024, 1, 1), valid_until=D(2024, 12, 31), actor=ACTOR)
        roster.update_certificate(db, archive.custody, number="CERT-1", valid_until=D(2025, 12, 31), area="东城区全域",
                                  actor=ACTOR)
        cid = c.id
    with archive.sessions() as db:
        assert roster.valid_certificate(db, "000321", D(2025, 6, 1)) is not None
    with archive.sessions.begin() as db:
        roster.update_certificate(db, archive.custody, number="CERT-1", officer_no="000321", revoke=True, actor=ACTOR)
    with archive.sessions() as db:
        assert roster.valid_certificate(db, "000321", D(2025, 6, 1)) is None
        assert roster.certificate_state(roster.get_certificate(db, number="CERT-1"), D(2025, 6, 1)) == "revoked"
    changed, revoked = _events(archive, "certificate_changed")
    assert changed["changes"] == {"area": ["东城区", "东城区全域"], "valid_until": ["2024-12-31", "2025-12-31"]}
    assert changed["revoked"] is False and list(changed["bound"]) == [f"officer_certificates:{cid}"]
    assert revoked["revoked"] is True and set(revoked["changes"]) == {"revoked_at"}
    # a revoked certificate is final
    with archive.sessions.begin() as db, pytest.raises(RosterError, match="revoked"):
        roster.update_certificate(db, archive.custody, number="CERT-1", area="西城区", actor=ACTOR)


def test_bad_certificates_are_refused_with_what_to_do(archive):
    _world(archive)
    good = dict(category="市场监管", area="东城区", valid_from=D(2024, 1, 1), valid_until=D(2026, 12, 31), actor=ACTOR)
    with archive.sessions.begin() as db:
        roster.add_certificate(db, archive.custody, officer_no="000123", number="N1", **good)
    cases: list[tuple[type[Exception], str, dict[str, Any]]] = [
        (RosterError, "before", dict(good, officer_no="000123", number="N2", valid_until=D(2023, 12, 31))),
        (CertificateExists, "already", dict(good, officer_no="000321", number="N1")),
        (UnknownOfficer, "no officer", dict(good, officer_no="999999", number="N3")),
        (RosterError, "not valid", dict(good, officer_no="000123", number="证 1")),
    ]
    for err, words, kwargs in cases:
        with archive.sessions.begin() as db, pytest.raises(err, match=words) as info:
            roster.add_certificate(db, archive.custody, **kwargs)
        assert info.value.action  # a sentence the person can act on
    with archive.sessions.begin() as db:
        with pytest.raises(RosterError, match="before"):
            roster.update_certificate(db, archive.custody, number="N1", valid_from=D(2027, 1, 1), actor=ACTOR)
        with pytest.raises(RosterError, match="Nothing to change"):
            roster.update_certificate(db, archive.custody, number="N1", area="东城区", actor=ACTOR)
        with pytest.raises(UnknownCertificate):  # another officer's number answers as missing
            roster.update_certificate(db, archive.custody, number="N1", officer_no="000321", area="西城区",
                                      actor=ACTOR)
        with pytest.raises(UnknownCertificate):
            roster.update_certificate(db, archive.custody, number="NOPE", area="西城区", actor=ACTOR)
    assert len(_events(archive, "certificate_added")) == 1 and _events(archive, "certificate_changed") == []


def test_an_officer_renamed_and_retired_is_one_event_naming_both_changes(archive):
    units = _world(archive)
    with archive.sessions.begin() as db:
        roster.update_officer(db, archive.custody, officer_no="000123", name="张三丰", active=False, actor=ACTOR)
        roster.update_officer(db, archive.custody, officer_no="000321", unit_id=units[B], actor=ACTOR)
        with pytest.raises(RosterError, match="Nothing to change"):
            roster.update_officer(db, archive.custody, officer_no="000123", name="张三丰", actor=ACTOR)
        with pytest.raises(RosterError, match="empty name"):
            roster.update_officer(db, archive.custody, officer_no="000123", name="  ", actor=ACTOR)
        with pytest.raises(UnknownOfficer):
            roster.update_officer(db, archive.custody, officer_no="999999", name="某", actor=ACTOR)
    with archive.sessions() as db:
        o = roster.get_officer(db, officer_no="000123")
        assert (o.name, o.active) == ("张三丰", False)
        assert roster.officer_unit(db, "000321") == units[B]
    first, second = _events(archive, "officer_changed")
    assert first["changes"] == {"name": ["张三", "张三丰"], "active": [True, False]}
    assert second["changes"] == {"unit_id": [units[A], units[B]]} and list(second["bound"])[0].startswith("officers:")


def test_a_reviewers_qualification_and_officer_number_are_account_events(archive):
    _world(archive)
    with archive.sessions.begin() as db:
        u = accounts.add_user(db, archive.custody, username="fazhi", password=PASSWORD, role="legal_reviewer",
                              unit_code=A, actor=ACTOR, settings=archive.settings.auth, legal_qualification=True,
                              officer_no="000900")
        assert (u.legal_qualification, u.officer_no) == (True, "000900")
        accounts.add_user(db, archive.custody, username="fazhi2", password=PASSWORD, role="legal_reviewer",
                          unit_code=A, actor=ACTOR, settings=archive.settings.auth)
        u2 = accounts.update_user(db, archive.custody, username="fazhi2", legal_qualification=True,
                                  officer_no="000901", actor=ACTOR)
        assert (u2.legal_qualification, u2.officer_no) == (True, "000901")
        with pytest.raises(AlreadyExists, match="000900"):  # one number, one person
            accounts.update_user(db, archive.custody, username="fazhi2", officer_no="000900", actor=ACTOR)
        with pytest.raises(InvalidAccount, match="not valid"):
            accounts.update_user(db, archive.custody, username="fazhi2", officer_no="警 1", actor=ACTOR)
        with pytest.raises(InvalidAccount, match="Nothing to change"):
            accounts.update_user(db, archive.custody, username="fazhi2", legal_qualification=True, actor=ACTOR)
        accounts.update_user(db, archive.custody, username="fazhi2", officer_no="", legal_qualification=False,
                             actor=ACTOR)
        assert (u2.legal_qualification, u2.officer_no) == (False, None)
    added = [e for e in _events(archive, "user_added") if e["username"] == "fazhi"]
    assert added[0]["legal_qualification"] is True and added[0]["officer_no"] == "000900"
    assert [e["changes"] for e in _events(archive, "user_changed")] == [
        {"legal_qualification": [False, True], "officer_no": [None, "000901"]},
        {"legal_qualification": [True, False], "officer_no": ["000901", None]}]


# ---------------------------------------------------------------------------- the command line


def liuhen(cfg: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", "--config", str(cfg), *args], input=stdin,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return write_config(tmp_path, f"sqlite:///{tmp_path / 'var' / 'liuhen.db'}")


def test_the_cli_adds_updates_revokes_and_shows_certificates(cfg: Path):
    assert liuhen(cfg, "units", "add", A, "东城区市场监管局").returncode == 0
    r = liuhen(cfg, "officers", "add", "000123", "张三", "--unit", A, "--certificate", "11010120200001",
               "--cert-category", "市场监管", "--cert-area", "东城区", "--valid-from", "2020-01-01",
               "--valid-until", "2022-12-31", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["certificates"][0]["state"] == "expired"
    # a new certificate (added), the old one's area changed, the officer renamed, in one command
    r = liuhen(cfg, "officers", "update", "000123", "--name", "张三丰", "--certificate", "11010120230009",
               "--cert-category", "市场监管", "--cert-area", "东城区", "--valid-from", "2023-01-01",
               "--valid-until", "2099-12-31", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["name"] == "张三丰" and out["done"] == ["officer changed", "certificate 11010120230009 added"]
    assert [(c["number"], c["state"]) for c in out["certificates"]] == [
        ("11010120200001", "expired"), ("11010120230009", "valid")]
    r = liuhen(cfg, "officers", "update", "000123", "--certificate", "11010120200001", "--cert-area", "东城区全域")
    assert r.returncode == 0 and "certificate 11010120200001 changed" in r.stdout, r.stderr
    r = liuhen(cfg, "officers", "update", "000123", "--revoke-certificate", "11010120230009", "--inactive")
    assert r.returncode == 0, r.stderr
    shown = liuhen(cfg, "officers", "show", "000123")
    assert shown.returncode == 0, shown.stderr
    assert "已过期 expired" in shown.stdout and "已注销 revoked" in shown.stdout and "已停用" in shown.stdout
    assert "东城区全域" in shown.stdout
    data = json.loads(liuhen(cfg, "officers", "show", "000123", "--json").stdout)
    assert data["active"] is False and data["certificates"][1]["revoked_at"]

    # refusals: one sentence, exit 1, nothing written
    bad = liuhen(cfg, "officers", "update", "000123", "--certificate", "X9", "--valid-from", "2025-01-01",
                 "--valid-until", "2024-01-01")
    assert bad.returncode == 1 and "before" in bad.stderr and "Traceback" not in bad.stderr
    bad = liuhen(cfg, "officers", "update", "000123", "--certificate", "X9", "--cert-area", "东城区")
    assert bad.returncode == 1 and "--valid-from" in bad.stderr
    bad = liuhen(cfg, "officers", "add", "000456", "李四", "--unit", A, "--valid-from", "2025-01-01")
    assert bad.returncode == 1 and "--certificate" in bad.stderr
    bad = liuhen(cfg, "officers", "add", "000456", "李四", "--unit", A, "--certificate", "11010120200001",
                 "--valid-from", "2025-01-01", "--valid-until", "2026-01-01")
    assert bad.returncode == 1 and "already recorded" in bad.stderr
    assert liuhen(cfg, "officers", "show", "000456").returncode == 1  # the officer was not added either
    bad = liuhen(cfg, "officers", "update", "000123")
    assert bad.returncode == 1 and "Nothing to change" in bad.stderr
    bad = liuhen(cfg, "officers", "add", "000789", "王", "--unit", A, "--certificate", "C", "--valid-from", "soon",
                 "--valid-until", "2026-01-01")
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr


def test_the_cli_sets_a_reviewers_qualification_and_officer_number(cfg: Path):
    assert liuhen(cfg, "units", "add", A, "东城区市场监管局").returncode == 0
    r = liuhen(cfg, "users", "add", "fazhi", "--role", "legal_reviewer", "--unit", A, "--legal-qualification",
               "--officer-no", "000900", "--json", stdin=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["legal_qualification"] is True and json.loads(r.stdout)["officer_no"] == "000900"
    r = liuhen(cfg, "users", "update", "fazhi", "--no-legal-qualification", "--officer-no", "", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"username": "fazhi", "role": "legal_reviewer", "legal_qualification": False,
                                    "officer_no": None}
    assert liuhen(cfg, "users", "update", "fazhi").returncode == 1
    bad = liuhen(cfg, "users", "update", "nobody", "--legal-qualification")
    assert bad.returncode == 1 and "nobody" in bad.stderr


# ---------------------------------------------------------------------------- the API


def _client(archive: Archive, username: str, role: str, unit: str) -> TestClient:
    from app.web import create_app

    with archive.sessions.begin() as db:
        u = accounts.add_user(db, archive.custody, username=username, password=PASSWORD, role=role, unit_code=unit,
                              actor=ACTOR, settings=archive.settings.auth)
        token = accounts.issue_api_token(db, archive.custody, user=u, name="tests", actor=ACTOR)
    c = TestClient(create_app(archive), raise_server_exceptions=True)
    c.headers["Authorization"] = f"Bearer {token}"
    return c


def test_the_api_lists_adds_changes_and_revokes_certificates_within_the_users_units(archive):
    _world(archive)
    api = "/api/v1"
    rm = _client(archive, "records_a", "records_manager", A)
    inv = _client(archive, "investigator_a", "investigator", A)
    body = {"number": "11010120200001", "category": "市场监管", "area": "东城区", "valid_from": "2020-01-01",
            "valid_until": "2022-12-31"}
    r = rm.post(f"{api}/officers/000123/certificates", json=body)
    assert r.status_code == 201, r.text
    assert r.json() | {"revoked_at": None} == body | {"revoked_at": None, "state": "expired"}
    r = rm.post(f"{api}/officers/000123/certificates", json=body | {"number": "C2", "valid_until": "2099-12-31"})
    assert r.status_code == 201 and r.json()["state"] == "valid"
    listed = {o["officer_no"]: o for o in inv.get(f"{api}/officers").json()}
    assert set(listed) == {"000123", "000321"}  # not B's 李四
    assert [(c["number"], c["state"]) for c in listed["000123"]["certificates"]] == [
        ("11010120200001", "expired"), ("C2", "valid")]
    assert listed["000321"]["certificates"] == []

    r = rm.patch(f"{api}/officers/000123/certificates/C2", json={"revoke": True})
    assert r.status_code == 200 and r.json()["state"] == "revoked" and r.json()["revoked_at"], r.text
    r = rm.patch(f"{api}/officers/000123", json={"name": "张三丰", "active": False})
    assert r.status_code == 200 and r.json()["name"] == "张三丰" and r.json()["active"] is False
    assert len(r.json()["certificates"]) == 2

    # refusals
    assert rm.post(f"{api}/officers/000321/certificates", json=body).json()["code"] == "certificate_exists"
    r = rm.post(f"{api}/officers/000321/certificates", json=body | {"number": "C3", "valid_until": "2019-01-01"})
    assert r.status_code == 400 and r.json()["code"] == "roster"
    r = rm.patch(f"{api}/officers/000321/certificates/C2", json={"area": "西城区"})  # 张三's, not 王五's
    assert r.status_code == 404 and r.json()["code"] == "unknown_certificate"
    assert inv.post(f"{api}/officers/000123/certificates", json=body | {"number": "C4"}).status_code == 403
    # another unit's officer answers exactly like one that does not exist, and the refusal is logged
    other = rm.post(f"{api}/officers/000456/certificates", json=body | {"number": "C5"})
    missing = rm.post(f"{api}/officers/999999/certificates", json=body | {"number": "C5"})
    assert other.status_code == missing.status_code == 404
    assert other.json()["code"] == missing.json()["code"] == "unknown_officer"
    assert other.json()["detail"].replace("000456", "X") == missing.json()["detail"].replace("999999", "X")
    denied = [e for e in _events(archive, "access_denied") if e["permission"] == "officers.manage"]
    assert [e["reason"] for e in denied] == ["role", "unit"]
    assert [(e["what"], e["id"]) for e in _events(archive, "not_found")] == [("officer", "999999")]
    with archive.sessions() as db:
        assert roster.certificates_of(db, "000456") == []


def test_the_api_sets_a_users_qualification_and_officer_number(archive):
    _world(archive)
    admin = _client(archive, "admin_a", "admin", A)
    with archive.sessions.begin() as db:
        accounts.add_user(db, archive.custody, username="fazhi", password=PASSWORD, role="legal_reviewer",
                          unit_code=A, actor=ACTOR, settings=archive.settings.auth)
        accounts.add_user(db, archive.custody, username="fazhi_b", password=PASSWORD, role="legal_reviewer",
                          unit_code=B, actor=ACTOR, settings=archive.settings.auth)
    r = admin.patch("/api/v1/users/fazhi", json={"legal_qualification": True, "officer_no": "000900"})
    assert r.status_code == 200, r.text
    assert r.json()["legal_qualification"] is True and r.json()["officer_no"] == "000900"
    r = admin.patch("/api/v1/users/fazhi", json={"officer_no": ""})
    assert r.status_code == 200 and r.json()["officer_no"] is None
    assert admin.patch("/api/v1/users/fazhi", json={}).status_code == 400
    assert admin.patch("/api/v1/users/fazhi", json={"officer_no": "警 1"}).status_code == 422
    assert admin.patch("/api/v1/users/fazhi_b", json={"legal_qualification": True}).status_code == 404
    assert admin.post("/api/v1/users/fazhi/unlock").json()["legal_qualification"] is True  # every answer carries it


# ---------------------------------------------------------------------------- verify


def test_verify_names_a_certificate_extended_below_the_application(cfg: Path):
    from app.runtime import open_archive

    settings = config.load(cfg, environ={})
    a = open_archive(settings)
    try:
        _world(a)
        with a.sessions.begin() as db:
            c = roster.add_certificate(db, a.custody, officer_no="000123", number="11010120200001",
                                       category="市场监管", area="东城区", valid_from=D(2020, 1, 1),
                                       valid_until=D(2022, 12, 31), actor=ACTOR)
            cid = c.id
    finally:
        a.close()
    clean = liuhen(cfg, "verify", "--json")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    con = sqlite3.connect(settings.config_path.parent / "var" / "liuhen.db", isolation_level=None)
    try:  # an insider with the database's own powers: around the triggers
        for (trigger,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            con.execute(f'DROP TRIGGER "{trigger}"')
        con.execute(f"UPDATE officer_certificates SET valid_until = '2099-12-31' WHERE id = {cid}")
    finally:
        con.close()
    res = liuhen(cfg, "verify", "--json")
    assert res.returncode == 3, res.stdout + res.stderr
    report = json.loads(res.stdout)
    changed = [f["detail"] for f in report["failures"] if f["kind"] == "row_changed"]
    assert any(d.startswith(f"officer_certificates {cid}: valid_until changed") for d in changed), changed
