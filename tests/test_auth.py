"""Accounts: argon2id passwords, lockout, idle sessions, hashed tokens, unit visibility, the role table.

Every test runs on SQLite and on PostgreSQL, against a database migrated to head.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json

import pytest
from sqlalchemy import select, update

from auth import policy, service
from auth.errors import AccountLocked, AuthFailed, Forbidden, SessionExpired, UnknownRole, UnknownUnit, WeakPassword
from auth.models import ApiToken, User
from auth.models import Session as LoginSession
from hashing.models import CustodyEvent
from liuhen import config
from liuhen.db import utcnow

PASSWORD = "正确的马电池订书钉"  # 10 characters


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
                         unit_code="110101", display_name="张三", actor="test")
    return archive


def _auth(archive, password: str, settings: config.AuthSettings | None = None) -> User:
    with archive.sessions.begin() as db:
        return service.authenticate(db, username="zhangsan", password=password, ip="10.0.0.7",
                                    settings=settings or archive.settings.auth)


def _user(archive, username: str = "zhangsan") -> User:
    with archive.sessions() as db:
        return db.scalars(select(User).where(User.username == username)).one()


def test_passwords_are_stored_as_argon2id_never_in_the_clear(accounts):
    u = _user(accounts)
    assert u.password_hash.startswith("$argon2id$")
    assert PASSWORD not in u.password_hash
    assert u.display_name == "张三" and u.role == "investigator"
    assert _auth(accounts, PASSWORD).id == u.id
    assert _user(accounts).last_login_at is not None


def test_five_failed_logins_lock_the_account_until_an_administrator_unlocks_it(accounts):
    assert accounts.settings.auth.lockout_attempts == 5
    for i in range(4):
        with pytest.raises(AuthFailed) as e:
            _auth(accounts, "wrong-password")
        assert type(e.value) is AuthFailed and e.value.code == "auth_failed"
        assert _user(accounts).failed_logins == i + 1  # counted although the error rolled the block back
    with pytest.raises(AccountLocked) as e:
        _auth(accounts, "wrong-password")
    assert e.value.code == "account_locked"
    assert "账户已锁定" in e.value.diagnostics() and "ask an administrator to unlock" in e.value.diagnostics()
    assert _user(accounts).locked_at is not None

    with pytest.raises(AccountLocked):
        _auth(accounts, PASSWORD)  # the right password is refused too

    with accounts.sessions.begin() as db:
        service.unlock(db, accounts.custody, username="zhangsan", actor="test")
    u = _user(accounts)
    assert u.locked_at is None and u.failed_logins == 0
    assert _auth(accounts, PASSWORD).username == "zhangsan"


def test_a_good_login_resets_the_count_of_failures(accounts):
    for _ in range(4):
        with pytest.raises(AuthFailed):
            _auth(accounts, "wrong-password")
    _auth(accounts, PASSWORD)
    assert _user(accounts).failed_logins == 0
    for _ in range(4):
        with pytest.raises(AuthFailed):
            _auth(accounts, "wrong-password")
    assert _user(accounts).locked_at is None


def test_lockout_minutes_lifts_a_lock_by_itself_only_when_configured(accounts):
    timed = dataclasses.replace(accounts.settings.auth, lockout_attempts=2, lockout_minutes=15)
    for _ in range(2):
        with pytest.raises(AuthFailed):
            _auth(accounts, "wrong-password", timed)
    with pytest.raises(AccountLocked):
        _auth(accounts, PASSWORD, timed)
    with accounts.sessions.begin() as db:
        db.execute(update(User).values(locked_at=utcnow() - dt.timedelta(minutes=16)))
    with pytest.raises(AccountLocked):  # the default (0): locked until an administrator unlocks
        _auth(accounts, PASSWORD, dataclasses.replace(timed, lockout_minutes=0))
    assert _auth(accounts, PASSWORD, timed).failed_logins == 0


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(accounts):
    with accounts.sessions.begin() as db:
        with pytest.raises(AuthFailed) as unknown:
            service.authenticate(db, username="lisi", password=PASSWORD, settings=accounts.settings.auth)
    with pytest.raises(AuthFailed) as wrong:
        _auth(accounts, "wrong-password")
    assert unknown.value.diagnostics() == wrong.value.diagnostics()


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


def test_signing_out_and_locking_end_a_session(accounts):
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
        db.execute(update(User).values(locked_at=utcnow()))
    with pytest.raises(AccountLocked), accounts.sessions.begin() as db:
        service.session_user(db, token=t2, settings=cfg)
    with accounts.sessions.begin() as db:
        service.unlock(db, accounts.custody, username="zhangsan", actor="test")
    with pytest.raises(SessionExpired), accounts.sessions.begin() as db:
        service.session_user(db, token=t2, settings=cfg)  # unlocking does not revive it


def test_api_tokens_are_stored_only_hashed_and_can_be_revoked(accounts):
    user = _user(accounts)
    with accounts.sessions.begin() as db:
        token = service.issue_api_token(db, accounts.custody, user=user, name="案件系统对接", actor="test")
    with accounts.sessions() as db:
        row = db.scalars(select(ApiToken)).one()
        assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
        assert token not in (row.token_sha256, row.name)
    with accounts.sessions.begin() as db:
        assert service.token_user(db, token=token).username == "zhangsan"
    with accounts.sessions() as db:
        assert db.scalars(select(ApiToken)).one().last_used_at is not None
    with pytest.raises(AuthFailed), accounts.sessions.begin() as db:
        service.token_user(db, token=token + "x")
    with accounts.sessions.begin() as db:
        service.revoke_api_token(db, token=token)
    with pytest.raises(AuthFailed) as e, accounts.sessions.begin() as db:
        service.token_user(db, token=token)
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
    with accounts.sessions.begin() as db:
        with pytest.raises(UnknownRole) as e:
            service.add_user(db, accounts.custody, username="lisi", password=PASSWORD, role="superuser",
                             unit_code="110101", actor="test")
        assert "superuser" in e.value.diagnostics() and "legal_reviewer" in e.value.diagnostics()
        with pytest.raises(UnknownUnit) as e:
            service.add_user(db, accounts.custody, username="lisi", password=PASSWORD, role="auditor",
                             unit_code="999999", actor="test")
        assert "999999" in e.value.diagnostics()
        with pytest.raises(WeakPassword) as e:
            service.add_user(db, accounts.custody, username="lisi", password="short", role="auditor",
                             unit_code="110101", actor="test")
        assert "8" in e.value.diagnostics()
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
        ("user_added", "test", "liuhen", {"username": "zhangsan", "role": "investigator", "unit": "110101"}),
        ("user_unlocked", "cli:admin", "liuhen", {"username": "zhangsan"}),
        ("api_token_issued", "cli:admin", "liuhen", {"username": "zhangsan", "name": "案件系统对接"}),
    ]
    assert all(token not in json.dumps(d, ensure_ascii=False) for *_, d in events)  # the token is never logged


def test_auth_settings_are_read_from_the_auth_table(make_settings):
    s = make_settings('[auth]\nidle_minutes = 5\nlockout_attempts = 3\nsession_cookie = "sid"\n')
    assert s.auth == config.AuthSettings(idle_minutes=5, lockout_attempts=3, lockout_minutes=0,
                                         session_cookie="sid")
    assert make_settings().auth == config.AuthSettings()
