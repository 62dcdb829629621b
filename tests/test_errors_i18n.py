"""Errors speak the user's language: the API's body carries the stable English ``code``, ``detail``
(both languages, as before) and ``message`` in the request's language; every bad console address is a
page in the user's language with what to do — never raw JSON — and a Chinese page shows no English."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from app.runtime import open_archive
from app.web import create_app
from archive.context import Archive
from auth import policy
from auth import service as accounts
from auth.errors import Forbidden
from cases import service as case_service
from liuhen import config
from liuhen.errors import LiuhenError, NotFound
from liuhen.words import said
from tests.conftest import create_pg_database, write_config

PASSWORD = "正确的马电池订书钉和钥匙"
A, B = "110101", "110102"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@dataclass
class World:
    archive: Archive
    settings: config.Settings
    app: FastAPI
    case_b: int  # a case of unit B: investigator_a must get "no such case"

    def client(self, username: str | None = None, lang: str | None = None) -> TestClient:
        c = TestClient(self.app, raise_server_exceptions=False)
        if username is not None:
            user = accounts.authenticate(self.archive.sessions, username=username, password=PASSWORD,
                                         settings=self.settings.auth)
            with self.archive.sessions.begin() as db:
                token, _ = accounts.start_session(db, user=user, ip="10.1.2.3", user_agent="pytest")
            c.cookies.set(self.settings.auth.session_cookie, token)
        if lang is not None:
            c.cookies.set("lang", lang)
        return c


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder: Path = tmp_path_factory.mktemp(f"errors-{request.param}")
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'var' / 'liuhen.db'}"
    else:
        request.getfixturevalue("pg_ready")
        url, drop = create_pg_database()
    settings = config.load(write_config(folder, url), environ={})
    archive = open_archive(settings)
    try:
        with archive.sessions.begin() as db:
            units = {code: accounts.add_unit(db, code=code, name=name).id for code, name in ((A, "东城分局"), (B, "西城分局"))}
            for username, role, unit in (("investigator_a", "investigator", A), ("admin_a", "admin", A)):
                accounts.add_user(db, archive.custody, username=username, password=PASSWORD, role=role, unit_code=unit,
                                  display_name=f"{policy.ROLE_LABELS[role]}甲", actor="test", settings=settings.auth)
            case_b = case_service.create_case(db, archive.custody, settings.cases, unit_id=units[B], unit_code=B,
                                              category="行政强制", title="西城分局的案件", actor="test").id
        yield World(archive, settings, create_app(archive, sweep=False), case_b)
    finally:
        archive.close()
        if drop is not None:
            drop()


class _Text(HTMLParser):
    """The text a person sees, less tags, attributes, scripts, styles and ``<code>`` (codes such as
    ``not_found`` are stable English by design)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "code"):
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "code"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible(html: str) -> str:
    p = _Text()
    p.feed(html)
    return " ".join(" ".join(p.parts).split())


PROPER = {"liuhen", "English"}  # the product's name and the language switch's own name


def main(html: str) -> str:
    """The visible text of the page's own part (not the top bar, whose words are the pages' own)."""
    return visible(html.split("<main>", 1)[1].split("</main>", 1)[0])


def chinese(text: str) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]", text))


def english_words(text: str) -> list[str]:
    """Latin-script words that are not a code (``not_found``, ``evidence.search``, ``--config``), a
    number or unit (``2026-11-23``, ``22px``) or a proper name."""
    words = re.findall(r"[A-Za-z0-9_.:/\-]*[A-Za-z]{2,}[A-Za-z0-9_.:/\-]*", text)
    return [w for w in words if w not in PROPER and not re.search(r"[_.0-9/]", w) and not w.startswith("-")]


def test_an_api_error_has_the_code_the_bilingual_detail_and_the_message_in_the_requests_language(world: World) -> None:
    zh = world.client("investigator_a").get("/api/v1/evidence/999999")
    en = world.client("investigator_a", lang="en").get("/api/v1/evidence/999999")
    by_header = world.client("investigator_a").get("/api/v1/evidence/999999",
                                                   headers={"Accept-Language": "en-US,en;q=0.9,zh-CN;q=0.8"})
    for r in (zh, en, by_header):
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")
        assert set(r.json()) == {"code", "detail", "message"} and r.json()["code"] == "not_found"
        assert "999999" in r.json()["detail"] and "没有" in r.json()["detail"] and "No evidence" in r.json()["detail"]
    assert "没有编号为 999999 的证据" in zh.json()["message"] and not english_words(zh.json()["message"])
    assert en.json()["message"].startswith("No evidence 999999") and not chinese(en.json()["message"])
    assert by_header.json()["message"] == en.json()["message"]  # no cookie: Accept-Language decides
    preferred_zh = world.client("investigator_a").get("/api/v1/evidence/999999",
                                                      headers={"Accept-Language": "en;q=0.5, zh-CN"})
    assert preferred_zh.json()["message"] == zh.json()["message"]


def test_the_frameworks_own_api_errors_keep_json_with_a_message(world: World) -> None:
    c = world.client("investigator_a", lang="en")
    nope = c.get("/api/v1/nope")
    assert nope.status_code == 404 and nope.json()["code"] == "not_found"
    assert nope.json()["message"].startswith("There is nothing at /api/v1/nope")
    bad = world.client("investigator_a").get("/api/v1/evidence/abc")
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request" and "无法理解该请求" in bad.json()["message"]
    assert "The request was not understood" in bad.json()["detail"]


BAD_ADDRESSES = [  # (method, path, status, code)
    ("GET", "/evidence/abc", 422, "invalid_request"),
    ("GET", "/evidence/0", 422, "invalid_request"),
    ("GET", "/evidence/999999", 404, "not_found"),
    ("GET", "/nope", 404, "not_found"),
    ("GET", "/logout", 405, "method_not_allowed"),
    ("POST", "/retention/holds/abc/release", 422, "invalid_request"),
]


@pytest.mark.parametrize(("method", "path", "status", "code"), BAD_ADDRESSES)
def test_a_bad_console_address_is_a_page_in_the_users_language_never_json(world: World, method: str, path: str,
                                                                           status: int, code: str) -> None:
    for lang in ("zh", "en"):
        r = world.client("investigator_a", lang=lang).request(method, path)
        assert r.status_code == status and r.headers["content-type"].startswith("text/html"), (path, r.text[:200])
        assert f'data-code="{code}"' in r.text and 'id="error-home"' in r.text
        text = visible(r.text)
        if lang == "zh":
            assert not english_words(text), (path, english_words(text), text)
        else:
            assert not chinese(main(r.text)), (path, main(r.text))
        if status == 404:
            assert 'href="/search" id="error-look"' in r.text  # where to look for what is not there


def test_another_units_case_is_a_page_saying_there_is_no_such_case_in_chinese(world: World) -> None:
    mine = world.client("investigator_a").get(f"/cases/{world.case_b}")
    assert mine.status_code == 404 and "text/html" in mine.headers["content-type"]
    text = visible(mine.text)
    assert "没有" in text and str(world.case_b) in text and not english_words(text), text
    assert 'href="/cases" id="error-look"' in mine.text
    en = world.client("investigator_a", lang="en").get(f"/cases/{world.case_b}")
    assert en.status_code == 404 and not chinese(main(en.text)), main(en.text)


def test_a_role_refusal_on_a_page_is_chinese_and_the_admin_is_not_told_to_ask_the_admin(world: World) -> None:
    r = world.client("admin_a").get("/search")
    assert r.status_code == 403 and "text/html" in r.headers["content-type"]
    text = visible(r.text)
    assert "无权" in text and "职责分离" in text and "联系系统管理员" not in text, text
    assert not english_words(text), english_words(text)
    en = world.client("admin_a", lang="en").get("/search")
    assert "separation of duties" in visible(en.text) and "ask an administrator" not in visible(en.text)


def test_a_refused_search_shows_only_the_chinese_sentence_with_what_to_do(world: World) -> None:
    r = world.client("investigator_a").get("/search", params={"start": "2026-11-23T10:00:00+08:00",
                                                              "end": "2026-11-23T09:00:00+08:00"})
    text = visible(r.text)
    assert "时间范围的结束早于开始" in text and "请交换两个时间" in text, text
    assert not english_words(text), english_words(text)


def test_the_error_base_gives_one_language_and_keeps_both_for_logs() -> None:
    e = NotFound(said("没有案件 7", "There is no case 7."), said("请核对案件编号。", "Check the case number."))
    assert e.message("zh") == "没有案件 7。请核对案件编号。" and e.diagnostics("zh") == e.message("zh")
    assert e.message("en") == "There is no case 7. Check the case number."
    assert e.diagnostics() == "没有案件 7。请核对案件编号。 / There is no case 7. Check the case number."
    assert e.to_dict("en") == {"code": "not_found", "detail": e.diagnostics(), "message": e.message("en")}
    legacy = LiuhenError("没有案件 7 / There is no case 7.", "Check the case number.")  # a plain str: both languages
    assert legacy.message("zh") == "没有案件 7。Check the case number." and legacy.message("en").startswith("There is")
    assert Forbidden("plain").message("zh") == "plain"


def _cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("LIUHEN_LANG", "LC_ALL", "LC_MESSAGES", "LANG")}
    return subprocess.run([sys.executable, "-m", "app.cli", "--config", str(tmp_path / "absent.toml"), *args],
                          capture_output=True, text=True, timeout=120, env={**clean, **env})


def test_the_cli_speaks_the_terminals_language_and_its_json_carries_the_message(tmp_path: Path) -> None:
    zh = _cli(tmp_path, "ingest", "--once", LIUHEN_LANG="zh")
    assert zh.returncode == 1 and "错误：配置文件" in zh.stderr and "不存在" in zh.stderr
    assert not english_words(zh.stderr.replace(str(tmp_path / "absent.toml"), "")), zh.stderr
    en = _cli(tmp_path, "ingest", "--once", LANG="en_US.UTF-8")
    assert en.returncode == 1 and en.stderr.startswith("error: The config file") and not chinese(en.stderr)
    both = _cli(tmp_path, "ingest", "--once", "--json", LANG="C.UTF-8")  # a locale naming no language: both
    assert both.returncode == 1 and "错误：配置文件" in both.stderr and "error: The config file" in both.stderr
    body = json.loads(both.stdout)
    assert body["code"] == "config" and "不存在" in body["message"] and "does not exist" in body["detail"]
