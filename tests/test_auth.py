"""Accounts: argon2id passwords checked outside any transaction and in a bounded pool, throttled
logins (never a permanent lock), disabled accounts, password changes and resets, absolute
lifetimes, the password policy and user-name rules, idle sessions, hashed tokens, unit visibility,
the role table.

Every test runs on SQLite and on PostgreSQL, against a database migrated to head.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import threading
import time

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from auth import policy, service
from auth.errors import (
    AccountDisabled,
    AlreadyExists,
    AuthFailed,
    Forbidden,
    InvalidAccount,
    LoginBusy,
    PasswordChangeRequired,
    SessionExpired,
    UnknownRole,
    UnknownUnit,
    WeakPassword,
)
from auth.models import ApiToken, LoginThrottle, User
from auth.models import Session as LoginSession
from hashing.models import CustodyEvent
from liuhen import config
from liuhen.db import utcnow

PASSWORD = "正确的马电池订书钉和钥匙"  # 12 characters


@pytest.fixture
def accounts(archive):
    """Units 市局 > 东城分局 > 交警大队, and 西城分局 beside 东城; one investigator in 东城分局."""
    with archive.sessions.begin() as db:
        service.add_unit(db, code="110000", name="市公安局")
        service.add_unit(db, code="110101", name="东城分局", parent_code="110000")
        service.add_unit(db, code="110101-JT", name="东城分局交警大队", parent_code="110101")
        service.add_unit(db, code="110102", name="西城分局", parent_code="110000")
        service.add_unit(db, code="110105", name="朝阳分局", parent_code="110000")
        service.add_unit(db, code="110105-XJ", name="朝阳分局刑警大队", parent_code="110105")
        service.add_user(db, archive.custody, username="zhangsan", password=PASSWORD, role="investigator",
                         unit_code="110101", display_name="张三", actor="test", settings=archive.settings.auth)
    return archive


def _auth(archive, password: str, settings: config.AuthSettings | None = None, *, username: str = "zhangsan",
          ip: str = "10.0.0.7") -> User:
    return service.authenticate(archive.sessions, username=username, password=password, ip=ip,
                                settings=settings or archive.settings.auth)


def _user(archive, username: str = "zhangsan") -> User:
    with archive.sessions() as db:
        return db.scalars(select(User).where(User.username == username)).one()


def _throttle(archive, key: str) -> LoginThrottle | None:
    with archive.sessions() as db:
        return db.get(LoginThrottle, key)


def _unblock(archive) -> None:
    """As if the wait had passed."""
    with archive.sessions.begin() as db:
        db.execute(update(LoginThrottle).values(blocked_until=utcnow() - dt.timedelta(seconds=1)))


def _events(archive, action: str) -> list[tuple[str, dict]]:
    with archive.sessions() as db:
        return [(e.actor, json.loads(e.detail)) for e in db.scalars(
            select(CustodyEvent).where(CustodyEvent.action == action).order_by(CustodyEvent.seq))]


def test_passwords_are_stored_as_argon2id_never_in_the_clear(accounts):
    u = _user(accounts)
    assert u.password_hash.startswith("$argon2id$")
    assert PASSWORD not in u.password_hash
    assert u.display_name == "张三" and u.role == "investigator"
    assert _auth(accounts, PASSWORD).id == u.id
    assert _user(accounts).last_login_at is not None


def test_failed_logins_throttle_the_name_with_backoff_and_the_same_answer_never_a_lock(accounts):
    cfg = accounts.settings.auth
    assert cfg.account_free_attempts == 5
    answers = []
    for _ in range(5):
        with pytest.raises(AuthFailed) as e:
            _auth(accounts, "wrong-password")
        answers.append((type(e.value), e.value.code, e.value.diagnostics()))
    row = _throttle(accounts, "name:zhangsan")
    assert row is not None and row.failures == 5 and row.blocked_until is not None
    first_wait = (row.blocked_until - row.last_failure_at).total_seconds()
    assert first_wait == pytest.approx(cfg.throttle_base_s)

    with pytest.raises(AuthFailed) as e:
        _auth(accounts, PASSWORD)  # the right password while throttled: the very same answer
    answers.append((type(e.value), e.value.code, e.value.diagnostics()))
    assert len(set(answers)) == 1 and answers[0][:2] == (AuthFailed, "auth_failed")
    assert "锁定" not in answers[0][2] and "administrator" not in answers[0][2]
    assert _throttle(accounts, "name:zhangsan").failures == 5  # a throttled try is not counted (nor hashed)

    _unblock(accounts)  # the wait passes: one more failure doubles it
    with pytest.raises(AuthFailed):
        _auth(accounts, "wrong-password")
    row = _throttle(accounts, "name:zhangsan")
    assert (row.blocked_until - row.last_failure_at).total_seconds() == pytest.approx(2 * cfg.throttle_base_s)
    with accounts.sessions.begin() as db:  # many failures later the wait is still bounded
        db.execute(update(LoginThrottle).values(failures=200))
    _unblock(accounts)
    with pytest.raises(AuthFailed):
        _auth(accounts, "wrong-password")
    row = _throttle(accounts, "name:zhangsan")
    assert (row.blocked_until - row.last_failure_at).total_seconds() == pytest.approx(cfg.throttle_max_s)

    _unblock(accounts)
    assert _auth(accounts, PASSWORD).username == "zhangsan"  # and a good login clears the name's count
    assert _throttle(accounts, "name:zhangsan") is None


def test_an_unknown_user_is_throttled_alike_and_answered_like_a_wrong_password(accounts):
    answers = set()
    for name in ("zhangsan", "lisi"):
        for _ in range(6):
            with pytest.raises(AuthFailed) as e:
                _auth(accounts, "wrong-password", username=name)
            answers.add((type(e.value), e.value.diagnostics()))
        assert _throttle(accounts, f"name:{name}").failures == 5  # the sixth was throttled, for both alike
    assert len(answers) == 1


def test_one_address_is_throttled_across_names_and_others_are_not(accounts):
    cfg = dataclasses.replace(accounts.settings.auth, address_free_attempts=3, account_free_attempts=10)
    for i in range(3):
        with pytest.raises(AuthFailed):
            _auth(accounts, "wrong-password", cfg, username=f"guess{i}", ip="192.0.2.9")
    with pytest.raises(AuthFailed):
        _auth(accounts, PASSWORD, cfg, ip="192.0.2.9")  # the right password, from the flooding address
    assert _auth(accounts, PASSWORD, cfg, ip="10.0.0.7").username == "zhangsan"  # another address: in


def test_unlock_clears_the_throttle_and_is_a_custody_event(accounts):
    for _ in range(5):
        with pytest.raises(AuthFailed):
            _auth(accounts, "wrong-password")
    with accounts.sessions.begin() as db:
        service.unlock(db, accounts.custody, username="zhangsan", actor="cli:admin")
    assert _throttle(accounts, "name:zhangsan") is None
    assert _auth(accounts, PASSWORD, ip="10.0.0.8").username == "zhangsan"
    assert _events(accounts, "user_unlocked") == [("cli:admin", {"username": "zhangsan"})]


def test_a_password_check_holds_no_database_lock_while_argon2_runs(accounts):
    """The login flood finding: argon2 ran inside BEGIN IMMEDIATE, so every signed-in request on
    SQLite waited for it. Here one login's password check is made slow (a real argon2id hash with
    many passes) and, while it runs, a write transaction and an authenticated API request finish."""
    from app.web import create_app

    slow = PasswordHasher(time_cost=60, memory_cost=65536, parallelism=1).hash("another password 123")
    with accounts.sessions.begin() as db:
        db.execute(update(User).where(User.username == "zhangsan").values(password_hash=slow))
        token = service.issue_api_token(db, accounts.custody, user=service.get_user(db, username="zhangsan"),
                                        name="tests", actor="test")
    gate = service.login_gate(accounts.settings.auth)
    outcome: list[object] = []

    def login() -> None:
        try:
            outcome.append(_auth(accounts, "wrong-password"))
        except AuthFailed as e:
            outcome.append(e)

    t = threading.Thread(target=login)
    t.start()
    deadline = time.monotonic() + 30
    while gate.busy == 0 and t.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert gate.busy == 1 and t.is_alive(), "the login never reached its password check"
    with accounts.sessions.begin() as db:  # writes: on SQLite they need the write lock, on PostgreSQL the row's
        service.grant_unit(db, username="zhangsan", unit_code="110105")
        db.execute(update(User).where(User.username == "zhangsan").values(display_name="张三（东城）"))
    with TestClient(create_app(accounts)) as client:
        r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["username"] == "zhangsan"
    assert t.is_alive() and gate.busy == 1  # both finished while the password was still being checked
    t.join(timeout=120)
    assert isinstance(outcome[0], AuthFailed)


def test_a_login_that_cannot_get_a_password_worker_is_refused_as_busy(accounts):
    cfg = dataclasses.replace(accounts.settings.auth, login_workers=1, login_wait_s=0.05)
    gate = service.login_gate(cfg)
    with gate.slot():  # the one worker is taken (as by a flood)
        with pytest.raises(LoginBusy) as e:
            _auth(accounts, PASSWORD, cfg)
    assert e.value.code == "busy" and "try again" in e.value.diagnostics().lower()
    assert _throttle(accounts, "name:zhangsan") is None  # nothing counted: the password was never checked
    assert _auth(accounts, PASSWORD, cfg).username == "zhangsan"


def test_a_session_ends_after_idle_minutes_and_its_token_is_stored_only_hashed(accounts):
    cfg = accounts.settings.auth
    user = _auth(accounts, PASSWORD)
    with accounts.sessions.begin() as db:
        token, s = service.start_session(db, user=user, ip="10.0.0.7", user_agent="Mozilla/5.0")
        sid, csrf = s.id, s.csrf_token
    assert sid == hashlib.sha256(token.encode()).hexdigest() and token not in sid
    with accounts.sessions() as db:
        stored = db.get(LoginSession, sid)
        assert stored is not None and token not in (stored.id, stored.csrf_token)

    with accounts.sessions.begin() as db:
        s = service.current_session(db, token=token, settings=cfg)
        service.check_csrf(s, csrf)
        with pytest.raises(Forbidden):
            service.check_csrf(s, "forged")
        assert s.user.username == "zhangsan"

    # idle for a minute less than the limit: still alive
    with accounts.sessions.begin() as db:
        db.execute(update(LoginSession).values(
            last_seen_at=utcnow() - dt.timedelta(minutes=cfg.idle_minutes - 1)))
    with accounts.sessions.begin() as db:
        assert service.session_user(db, token=token, settings=cfg).username == "zhangsan"

    # idle beyond the limit: expired, and stays expired
    with accounts.sessions.begin() as db:
        db.execute(update(LoginSession).values(
            last_seen_at=utcnow() - dt.timedelta(minutes=cfg.idle_minutes + 1)))
    with pytest.raises(SessionExpired) as e:
        with accounts.sessions.begin() as db:
            service.session_user(db, token=token, settings=cfg)
    assert e.value.code == "session_expired" and "30" in e.value.diagnostics()
    with accounts.sessions() as db:
        assert db.get(LoginSession, sid).expired_at is not None
    with pytest.raises(SessionExpired):
        with accounts.sessions.begin() as db:
            service.session_user(db, token=token, settings=cfg)


def test_signing_out_and_disabling_end_a_session(accounts):
    cfg = accounts.settings.auth
    user = _auth(accounts, PASSWORD)
    with accounts.sessions.begin() as db:
        t1, _ = service.start_session(db, user=user, ip=None, user_agent=None)
        t2, _ = service.start_session(db, user=user, ip=None, user_agent=None)
    with accounts.sessions.begin() as db:
        service.end_session(db, token=t1)
    with pytest.raises(SessionExpired), accounts.sessions.begin() as db:
        service.session_user(db, token=t1, settings=cfg)
    with pytest.raises(AuthFailed), accounts.sessions.begin() as db:
        service.session_user(db, token="not-a-token", settings=cfg)

    with accounts.sessions.begin() as db:
        service.disable(db, accounts.custody, username="zhangsan", actor="test")
    with pytest.raises(SessionExpired), accounts.sessions.begin() as db:
        service.session_user(db, token=t2, settings=cfg)  # disabling ended it
    with accounts.sessions.begin() as db:
        service.enable(db, accounts.custody, username="zhangsan", actor="test")
    with pytest.raises(SessionExpired), accounts.sessions.begin() as db:
        service.session_user(db, token=t2, settings=cfg)  # enabling does not revive it


def test_api_tokens_are_stored_only_hashed_and_can_be_revoked(accounts):
    user = _user(accounts)
    with accounts.sessions.begin() as db:
        token = service.issue_api_token(db, accounts.custody, user=user, name="案件系统对接", actor="test")
    with accounts.sessions() as db:
        row = db.scalars(select(ApiToken)).one()
        assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
        assert token not in (row.token_sha256, row.name)
    with accounts.sessions.begin() as db:
        assert service.token_user(db, token=token, settings=accounts.settings.auth).username == "zhangsan"
    with accounts.sessions() as db:
        assert db.scalars(select(ApiToken)).one().last_used_at is not None
    with pytest.raises(AuthFailed), accounts.sessions.begin() as db:
        service.token_user(db, token=token + "x", settings=accounts.settings.auth)
    with accounts.sessions.begin() as db:
        service.revoke_api_token(db, token=token)
    with pytest.raises(AuthFailed) as e, accounts.sessions.begin() as db:
        service.token_user(db, token=token, settings=accounts.settings.auth)
    assert "revoked" in e.value.diagnostics()


def test_visible_units_are_own_unit_children_and_grants_not_siblings(accounts):
    with accounts.sessions.begin() as db:
        ids = {code: service.get_unit(db, code=code).id
               for code in ("110000", "110101", "110101-JT", "110102", "110105", "110105-XJ")}
        user = service.get_user(db, username="zhangsan")
        assert policy.visible_units(db, user) == {ids["110101"], ids["110101-JT"]}
        service.grant_unit(db, username="zhangsan", unit_code="110105")
        service.grant_unit(db, username="zhangsan", unit_code="110105")  # idempotent
        seen = policy.visible_units(db, user)
    assert seen == {ids["110101"], ids["110101-JT"], ids["110105"], ids["110105-XJ"]}
    assert ids["110102"] not in seen and ids["110000"] not in seen


def test_every_role_has_a_label_and_a_permission_set():
    assert set(policy.ROLES) == set(policy.PERMISSIONS) == set(policy.ROLE_LABELS)
    assert len(policy.ROLES) == 6
    for actions in policy.PERMISSIONS.values():
        assert actions <= policy.ACTIONS


def test_admin_cannot_play_evidence_and_auditor_cannot_download():
    assert policy.allowed("admin", "users.manage")
    assert not policy.allowed("admin", "evidence.play")
    assert not policy.allowed("admin", "evidence.download_original")
    assert policy.allowed("auditor", "audit.view") and policy.allowed("auditor", "evidence.view")
    assert not policy.allowed("auditor", "evidence.download_original")
    assert not policy.allowed("auditor", "evidence.play")
    assert not policy.allowed("operator", "evidence.download_original")
    assert policy.allowed("operator", "dock.mark_important")
    assert policy.allowed("legal_reviewer", "evidence.export")
    assert policy.allowed("records_manager", "jobs.view")
    assert not policy.allowed("nobody", "evidence.view")
    with pytest.raises(ValueError):
        policy.allowed("admin", "evidence.plya")
    with pytest.raises(Forbidden) as e:
        policy.require("admin", "evidence.play")
    assert e.value.code == "forbidden" and "系统管理员" in e.value.diagnostics()


def test_add_user_refuses_unknown_role_unknown_unit_and_short_password(accounts):
    cfg = accounts.settings.auth
    with accounts.sessions.begin() as db:
        with pytest.raises(UnknownRole) as e:
            service.add_user(db, accounts.custody, username="lisi", password=PASSWORD, role="superuser",
                             unit_code="110101", actor="test", settings=cfg)
        assert "superuser" in e.value.diagnostics() and "legal_reviewer" in e.value.diagnostics()
        with pytest.raises(UnknownUnit) as e:
            service.add_user(db, accounts.custody, username="lisi", password=PASSWORD, role="auditor",
                             unit_code="999999", actor="test", settings=cfg)
        assert "999999" in e.value.diagnostics()
        with pytest.raises(WeakPassword) as e:
            service.add_user(db, accounts.custody, username="lisi", password="short", role="auditor",
                             unit_code="110101", actor="test", settings=cfg)
        assert "at least 10" in e.value.diagnostics()
    with accounts.sessions() as db:
        assert db.scalars(select(User).where(User.username == "lisi")).one_or_none() is None


def test_adding_unlocking_and_issuing_a_token_are_custody_events_naming_who_did_it(accounts):
    with accounts.sessions.begin() as db:
        service.unlock(db, accounts.custody, username="zhangsan", actor="cli:admin")
        token = service.issue_api_token(db, accounts.custody, user=service.get_user(db, username="zhangsan"),
                                        name="案件系统对接", actor="cli:admin")
    with accounts.sessions() as db:
        events = [(e.action, e.actor, e.tool, json.loads(e.detail))
                  for e in db.scalars(select(CustodyEvent).order_by(CustodyEvent.seq))]
    assert events == [
        ("user_added", "test", "liuhen", {"username": "zhangsan", "role": "investigator", "unit": "110101",
                                          "legal_qualification": False, "officer_no": None}),
        ("user_unlocked", "cli:admin", "liuhen", {"username": "zhangsan"}),
        ("api_token_issued", "cli:admin", "liuhen", {"username": "zhangsan", "name": "案件系统对接"}),
    ]
    assert all(token not in json.dumps(d, ensure_ascii=False) for *_, d in events)  # the token is never logged


def test_auth_settings_are_read_from_the_auth_table(make_settings):
    s = make_settings('[auth]\nidle_minutes = 5\naccount_free_attempts = 3\nsession_max_hours = 8\n'
                      'token_max_days = 30\nmin_password_admin = 16\nsession_cookie = "sid"\n')
    assert s.auth == config.AuthSettings(idle_minutes=5, account_free_attempts=3, session_max_hours=8,
                                         token_max_days=30, min_password_admin=16, session_cookie="sid")
    assert make_settings().auth == config.AuthSettings()


# ---------------------------------------------------------------------------- administration


def test_disable_enable_reset_change_and_revoke_are_custody_events_and_take_effect(accounts):
    cfg = accounts.settings.auth
    with accounts.sessions.begin() as db:
        user = service.get_user(db, username="zhangsan")
        t1 = service.issue_api_token(db, accounts.custody, user=user, name="案件系统", actor="cli:admin")
        t2 = service.issue_api_token(db, accounts.custody, user=user, name="备份", actor="cli:admin")
        service.disable(db, accounts.custody, username="zhangsan", actor="cli:admin")
    with pytest.raises(AccountDisabled):
        _auth(accounts, PASSWORD)
    with pytest.raises(AccountDisabled), accounts.sessions.begin() as db:
        service.token_user(db, token=t1, settings=cfg)
    with pytest.raises(AuthFailed) as wrong:
        _auth(accounts, "wrong-password")  # a wrong password says nothing about the account being disabled
    assert type(wrong.value) is AuthFailed
    with accounts.sessions.begin() as db:
        service.enable(db, accounts.custody, username="zhangsan", actor="cli:admin")
        assert service.revoke_api_tokens(db, accounts.custody, username="zhangsan", name="备份",
                                         actor="cli:admin") == 1
        with pytest.raises(InvalidAccount):
            service.revoke_api_tokens(db, accounts.custody, username="zhangsan", name="备份", actor="cli:admin")
    with accounts.sessions.begin() as db:
        assert service.token_user(db, token=t1, settings=cfg).username == "zhangsan"
    with pytest.raises(AuthFailed), accounts.sessions.begin() as db:
        service.token_user(db, token=t2, settings=cfg)

    token, _ = service.sign_in(accounts.sessions, accounts.custody, username="zhangsan", password=PASSWORD,
                               ip="10.0.0.7", user_agent=None, settings=cfg, tool="test")
    with accounts.sessions.begin() as db:
        service.reset_password(db, accounts.custody, username="zhangsan", new_password="临时密码是这个不是别的",
                               actor="cli:admin", settings=cfg)
    with pytest.raises(SessionExpired), accounts.sessions.begin() as db:
        service.session_user(db, token=token, settings=cfg)  # a reset signs the user out everywhere
    with pytest.raises(PasswordChangeRequired):
        service.sign_in(accounts.sessions, accounts.custody, username="zhangsan", password="临时密码是这个不是别的",
                        ip=None, user_agent=None, settings=cfg, tool="test")
    assert _events(accounts, "sign_in_failed")[-1] == (
        "user:zhangsan", {"ip": None, "reason": "password_change_required"})
    with pytest.raises(AuthFailed):
        _auth(accounts, PASSWORD)
    with pytest.raises(WeakPassword):  # the new one must pass the policy too
        service.sign_in(accounts.sessions, accounts.custody, username="zhangsan", password="临时密码是这个不是别的",
                        ip=None, user_agent=None, settings=cfg, tool="test", new_password="zhangsan2026!")
    service.sign_in(accounts.sessions, accounts.custody, username="zhangsan", password="临时密码是这个不是别的",
                    ip=None, user_agent=None, settings=cfg, tool="test", new_password="新的长密码一二三四五")
    assert not _user(accounts).must_change_password
    service.change_password(accounts.sessions, accounts.custody, username="zhangsan",
                            old_password="新的长密码一二三四五", new_password=PASSWORD, ip=None, settings=cfg)
    assert _auth(accounts, PASSWORD).username == "zhangsan"

    assert [a for a, _ in _events(accounts, "user_disabled")] == ["cli:admin"]
    assert [a for a, _ in _events(accounts, "user_enabled")] == ["cli:admin"]
    assert _events(accounts, "password_reset") == [("cli:admin", {"username": "zhangsan"})]
    assert [a for a, _ in _events(accounts, "password_changed")] == ["user:zhangsan", "user:zhangsan"]
    assert _events(accounts, "api_token_revoked") == [
        ("cli:admin", {"username": "zhangsan", "name": "备份", "count": 1})]


def test_sessions_and_tokens_end_at_their_absolute_lifetime_however_active(accounts):
    cfg = accounts.settings.auth
    assert (cfg.session_max_hours, cfg.token_max_days) == (12, 90)
    user = _auth(accounts, PASSWORD)
    with accounts.sessions.begin() as db:
        token, s = service.start_session(db, user=user, ip=None, user_agent=None)
        api = service.issue_api_token(db, accounts.custody, user=user, name="tests", actor="test")
    with accounts.sessions.begin() as db:  # signed in 12 h 1 min ago, active a minute ago
        db.execute(update(LoginSession).values(created_at=utcnow() - dt.timedelta(hours=12, minutes=1),
                                               last_seen_at=utcnow() - dt.timedelta(minutes=1)))
        db.execute(update(ApiToken).values(created_at=utcnow() - dt.timedelta(days=89),
                                           last_used_at=utcnow()))
    with pytest.raises(SessionExpired) as e, accounts.sessions.begin() as db:
        service.session_user(db, token=token, settings=cfg)
    assert "12 hours" in e.value.diagnostics()
    with accounts.sessions.begin() as db:
        assert service.token_user(db, token=api, settings=cfg).username == "zhangsan"
        db.execute(update(ApiToken).values(created_at=utcnow() - dt.timedelta(days=90, minutes=1)))
    with pytest.raises(AuthFailed) as e, accounts.sessions.begin() as db:
        service.token_user(db, token=api, settings=cfg)
    assert "expired 90 days" in e.value.diagnostics()


# ---------------------------------------------------------------------------- passwords and names


@pytest.mark.parametrize(("password", "role", "says"), [
    ("12345678", "admin", "at least 12"),
    ("12345678", "investigator", "at least 10"),
    ("Abcdefgh-12", "admin", "at least 12"),
    ("q1w2e3r4t5y6", "admin", "common passwords"),
    ("1QAZ2WSX3EDC", "admin", "common passwords"),
    ("my-name-is-Wang.Wu-ok", "admin", "contains the user name"),
    ("abababababababab", "admin", "different characters"),
])
def test_the_password_policy_refuses_short_common_and_name_passwords(accounts, password, role, says):
    with pytest.raises(WeakPassword) as e, accounts.sessions.begin() as db:
        service.add_user(db, accounts.custody, username="wang.wu", password=password, role=role,
                         unit_code="110101", actor="test", settings=accounts.settings.auth)
    assert says in e.value.diagnostics()


def test_a_strong_admin_password_is_accepted(accounts):
    with accounts.sessions.begin() as db:
        u = service.add_user(db, accounts.custody, username="admin1", password="绿色的山和蓝色的海-42", role="admin",
                             unit_code="110000", actor="test", settings=accounts.settings.auth)
    assert u.role == "admin"


@pytest.mark.parametrize(("name", "error", "says"), [
    ("Inv1", AlreadyExists, "as inv1"),
    ("ｉｎｖ１", AlreadyExists, "User inv1 already exists"),  # stored NFKC: it is inv1
    ("INV1", AlreadyExists, "as inv1"),
    ("inv1\u200b", InvalidAccount, "ZERO WIDTH SPACE"),
    ("\u202einv1", InvalidAccount, "RIGHT-TO-LEFT OVERRIDE"),
    ("inv 1", InvalidAccount, "SPACE"),
    ("іnv1", InvalidAccount, "mixes letters of CYRILLIC, LATIN"),  # Cyrillic і
    ("αdmin", InvalidAccount, "mixes letters of GREEK, LATIN"),
])
def test_look_alike_and_invisible_user_names_are_refused(accounts, name, error, says):
    with accounts.sessions.begin() as db:
        service.add_user(db, accounts.custody, username="inv1", password=PASSWORD, role="investigator",
                         unit_code="110101", actor="test", settings=accounts.settings.auth)
    with pytest.raises(error) as e, accounts.sessions.begin() as db:
        service.add_user(db, accounts.custody, username=name, password=PASSWORD, role="investigator",
                         unit_code="110101", actor="test", settings=accounts.settings.auth)
    assert says in e.value.diagnostics()
    with accounts.sessions() as db:
        assert db.scalars(select(User.username).where(User.username.like("%nv%"))).all() == ["inv1"]


def test_names_are_stored_nfkc_and_sign_in_ignores_case_and_width(accounts):
    with accounts.sessions.begin() as db:
        u = service.add_user(db, accounts.custody, username="Ｗang张三", password=PASSWORD, role="investigator",
                             unit_code="110101", actor="test", settings=accounts.settings.auth)
    assert (u.username, u.username_key) == ("Wang张三", "wang张三")
    assert _auth(accounts, PASSWORD, username="WANG张三").username == "Wang张三"
    assert _events(accounts, "user_added")[-1][1]["username"] == "Wang张三"


def test_a_refused_sign_in_logs_a_look_alike_name_so_that_it_cannot_read_like_another(accounts):
    cfg = accounts.settings.auth
    for typed in ("ｚｈａｎｇｓａｎ", "zhangsan\u200b"):
        with pytest.raises(AuthFailed):
            service.sign_in(accounts.sessions, accounts.custody, username=typed, password="wrong-password",
                            ip="10.0.0.9", user_agent=None, settings=cfg, tool="test")
    assert [actor for actor, _ in _events(accounts, "sign_in_failed")] == [
        "user:zhangsan", "user:'zhangsan\\u200b'"]
