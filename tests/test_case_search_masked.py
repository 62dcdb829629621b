"""The words of a case search (``GET /api/v1/cases/steps?q=``) may be a party's name: the
``searched`` custody event keeps them masked (张**) with a keyed digest, never in clear, so that an
auditor (who sees parties masked, no ``cases.personal_data``) does not read them in the log."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.api_world import World, user_of, world_for

API = "/api/v1"


@pytest.fixture(scope="module", params=["sqlite"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          make_clip: Callable[..., Path]) -> Iterator[World]:
    yield from world_for(request, tmp_path_factory, make_clip)


def test_a_party_name_searched_is_masked_in_the_custody_log(world: World) -> None:
    c = world.client(user_of("investigator"))
    r = c.post(f"{API}/cases", json={"unit_code": "110101", "category": "行政处罚", "title": "当事人检索",
                                     "parties": [{"name": "欧阳丰收", "id_number": "110101199003071234"}]})
    assert r.status_code == 201, r.text
    since = world.last_seq()
    found = c.get(f"{API}/cases/steps", params={"q": "欧阳丰收"}).json()
    assert [x["case_id"] for x in found] == [r.json()["case_id"]]  # (the investigator may search parties)
    (e,) = [e for e in world.events_since(since) if e.action == "searched"]
    assert "欧阳丰收" not in (e.detail or "") and "丰收" not in (e.detail or "")
    query = json.loads(e.detail)["query"]
    assert query["open_cases"] == "欧***"
    assert query["open_cases_tag"] == world.archive.data_key.tag("欧阳丰收", "search")  # the same words: the same tag
    again = world.last_seq()
    c.get(f"{API}/cases/steps", params={"q": "欧阳丰收"})
    (e2,) = [e for e in world.events_since(again) if e.action == "searched"]
    assert json.loads(e2.detail)["query"] == query

    auditor = world.client(user_of("auditor"))  # what the auditor reads of that event
    audit = auditor.get(f"{API}/audit", params={"action": "searched"})
    assert audit.status_code == 200, audit.text
    assert "欧***" in audit.text and "欧阳丰收" not in audit.text
