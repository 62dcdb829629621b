"""User names with characters that mean something in a URL (``/``, ``?``, ``#``, ``%``, a space) work
in the console's administration: the list links to the user's page, every form on it posts to that
same user, and each action lands back on their page (console/admin.py percent-encodes each path
part; its routes take the rest of the path). Through the real app, with an administrator's token."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.api_world import World, user_of, world_for

ADMIN = user_of("admin")
# (no "%2F" inside a name here: Starlette's TestClient decodes a path twice, which a real server does not)
NAMES = ["ab/cd", "ef?gh", "ij#kl", "五十%折", "q/../r"]


@pytest.fixture(scope="module", params=["sqlite"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          make_clip: Callable[..., Path]) -> Iterator[World]:
    yield from world_for(request, tmp_path_factory, make_clip)


def _actions(page: str) -> list[str]:
    return [html.unescape(a) for a in re.findall(r'<form method="post" action="([^"]+)"', page)]


@pytest.mark.parametrize("name", NAMES)
def test_a_user_whose_name_holds_url_characters_is_managed_from_their_page(world: World, name: str) -> None:
    c = world.client(ADMIN)
    added = c.post("/admin/users", data={"csrf": "", "username": name, "password": "一个足够长的初始密码呀呀呀",
                                         "role": "investigator", "unit_code": "110101"},
                   headers={"Accept": "text/html"}, follow_redirects=False)
    assert added.status_code == 303, added.text[:400]
    where = added.headers["location"].split("?")[0]
    assert unquote(where.removeprefix("/admin/users/")) == name and "/" not in where.removeprefix("/admin/users/")

    listed = c.get("/admin/users", headers={"Accept": "text/html"}).text
    assert f'href="{html.escape(where)}"' in listed or f'href="{where}"' in listed
    page = c.get(where, headers={"Accept": "text/html"})
    assert page.status_code == 200 and html.escape(name) in page.text, (where, re.sub(r"<[^>]+>", " ", page.text.split("<main")[-1])[:600])
    actions = _actions(page.text)
    assert actions and all(a.startswith(where + "/") for a in actions), actions

    changed = c.post(f"{where}/change", data={"csrf": "", "role": "records_manager", "unit_code": "110101"},
                     headers={"Accept": "text/html"}, follow_redirects=False)
    assert changed.status_code == 303 and changed.headers["location"].split("?")[0] == where, changed.text[:400]
    (e,) = [e for e in world.events_since(0) if e.action == "user_changed" and name in (e.detail or "")][-1:]
    assert '"records_manager"' in (e.detail or "")
    assert "records_manager" in c.get(where, headers={"Accept": "text/html"}).text
