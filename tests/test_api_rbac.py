"""Who may do what: every role × every evidence, dock, roster, jobs and audit route × own and
foreign unit, on SQLite and PostgreSQL.

The expected answer of every cell is computed from ``auth.policy.PERMISSIONS``, the table the
code enforces, not written out by hand:

* the role does not have the route's permission → 403;
* it has it, and the target is in the user's units → 2xx;
* it has it, but the evidence is another unit's → 404, exactly as if it did not exist
  (for a roster target of another unit — an officer, a unit — 403 naming it).

Every refusal (each 403, and each 404 for a foreign unit's evidence) must leave exactly one new
``access_denied`` custody event naming the user as actor, with outcome ``denied``; an allowed
request leaves none.

The users are one of every role in district A (110101) and an investigator in district B
(110102). "Own" evidence is 张三's recording for A (李四's for B); "foreign" is the other's.
The archive is built once per database for the whole module (``tests.api_world``).
"""

from __future__ import annotations

import inspect
import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from auth import policy
from hashing.models import CustodyEvent
from tests.api_world import A, B, BACKENDS, World, user_of, world_for

API = "/api/v1"
USERS = [(user_of(role), role, A) for role in policy.ROLES] + [(user_of("investigator", "b"), "investigator", B)]
_fresh = itertools.count(1)


@dataclass(frozen=True)
class Route:
    name: str
    permission: str | None  # None: any signed-in user
    method: str
    path: str  # "{id}" is the evidence
    evidence: bool = False  # the target is evidence (own / foreign); else None, or a roster target below
    body: Callable[[str], Any] | None = None  # unit code of the target -> JSON body
    headers: dict[str, str] | None = None


def officer_of(unit: str) -> str:
    return "000123" if unit == A else "000456"


ROUTES = [
    # evidence: own unit's and another unit's
    Route("view", "evidence.view", "GET", "/evidence/{id}", evidence=True),
    Route("custody", "custody.view", "GET", "/evidence/{id}/custody", evidence=True),
    Route("play", "evidence.play", "GET", "/evidence/{id}/media/poster", evidence=True),  # (a poster: same check
    # as the proxy, fewer bytes)
    Route("download", "evidence.download_original", "GET", "/evidence/{id}/original", evidence=True,
          headers={"Range": "bytes=0-99"}),
    Route("export", "evidence.export", "GET", "/evidence/{id}/export", evidence=True),
    Route("verify", "evidence.verify", "POST", "/evidence/{id}/verify", evidence=True),
    Route("mark_important", "dock.mark_important", "PUT", "/evidence/{id}/important", evidence=True,
          body=lambda unit: {"important": True}),
    Route("tag", "evidence.annotate", "POST", "/evidence/{id}/tags", evidence=True, body=lambda unit: {"tag": "权限"}),
    Route("untag", "evidence.annotate", "DELETE", "/evidence/{id}/tags/权限", evidence=True),
    Route("note", "evidence.annotate", "POST", "/evidence/{id}/notes", evidence=True,
          body=lambda unit: {"text": "权限矩阵"}),
    # roster: an officer of the user's unit, and one of another unit
    Route("assign_recorder", "recorder.assign", "PUT", "/recorders/DSJ-A001/officer",
          body=lambda unit: {"officer_no": officer_of(unit)}),
    Route("add_officer", "officers.manage", "POST", "/officers",
          body=lambda unit: {"officer_no": f"R{next(_fresh):05d}", "name": "赵六", "unit_code": unit}),
    # no target
    Route("search", "evidence.search", "GET", "/evidence"),
    Route("dock", "dock.view", "GET", "/dock"),
    Route("recorders", "dock.view", "GET", "/recorders"),
    Route("officers", None, "GET", "/officers"),
    Route("jobs", "jobs.view", "GET", "/jobs"),
    Route("audit", "audit.view", "GET", "/audit"),
    Route("me", None, "GET", "/me"),
]


def cells() -> Iterator[Any]:
    for username, role, unit in USERS:
        for route in ROUTES:
            targets = ("own", "foreign") if route.evidence or route.body else (None,)
            for target in targets:
                label = f"{username}-{route.name}" + (f"-{target}" if target else "")
                yield pytest.param(username, role, unit, route, target, id=label)


def expected(role: str, route: Route, target: str | None) -> int:
    """The status the permission table calls for (2xx as 200)."""
    if route.permission is not None and not policy.allowed(role, route.permission):
        return 403
    if target == "foreign":
        return 404 if route.evidence else 403
    return 200


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          make_clip: Callable[..., Path]) -> Iterator[World]:
    yield from world_for(request, tmp_path_factory, make_clip)


def denials(world: World, username: str) -> list[CustodyEvent]:
    with world.archive.sessions() as db:
        rows = list(db.scalars(select(CustodyEvent).where(CustodyEvent.action == "access_denied",
                                                          CustodyEvent.actor == f"user:{username}")
                               .order_by(CustodyEvent.seq)))
        db.expunge_all()
        return rows


@pytest.mark.parametrize(("username", "role", "unit", "route", "target"), list(cells()))
def test_every_role_gets_what_the_permission_table_allows_and_every_refusal_is_logged(
        world: World, username: str, role: str, unit: str, route: Route, target: str | None) -> None:
    other = B if unit == A else A
    target_unit = {None: unit, "own": unit, "foreign": other}[target]
    path = route.path
    evidence_id = None
    if route.evidence:
        evidence_id = world.evidence["zhangsan" if target_unit == A else "lisi"]
        path = path.replace("{id}", str(evidence_id))
    body = route.body(target_unit) if route.body else None

    before = denials(world, username)
    r = world.client(username).request(route.method, API + path, json=body, headers=route.headers)
    after = denials(world, username)

    want = expected(role, route, target)
    if want == 200:
        assert 200 <= r.status_code < 300, f"{role} {route.method} {path}: {r.status_code} {r.text[:300]}"
        assert [e.seq for e in after] == [e.seq for e in before], "an allowed request left an access_denied event"
        return
    assert r.status_code == want, f"{role} {route.method} {path}: {r.status_code} {r.text[:300]}"
    assert set(r.json()) == {"code", "detail"}
    assert r.json()["code"] == ("not_found" if want == 404 else "forbidden")
    new = after[len(before):]
    assert len(new) == 1, f"{len(new)} access_denied events for one refusal"
    (event,) = new
    assert event.outcome == "denied" and event.actor == f"user:{username}"
    detail = json.loads(event.detail)
    assert detail["role"] == role and detail["path"] == API + path and detail["method"] == route.method
    assert detail["permission"] == route.permission
    assert detail["reason"] == ("role" if not policy.allowed(role, route.permission or "evidence.view") else "unit")
    assert event.evidence_id == (evidence_id if want == 404 else None)


def permissions_named_in(*modules: object) -> set[str]:
    """Every action of the permission table that the source of ``modules`` names."""
    text = "".join(inspect.getsource(m) for m in modules)  # type: ignore[arg-type]
    return {a for a in re.findall(r'"([a-z_]+\.[a-z_]+)"', text) if a in policy.ACTIONS}


def test_the_matrix_covers_every_role_and_every_permission_the_evidence_and_dock_api_checks() -> None:
    from api import audit, dock, evidence, jobs, me, officers, recorders

    modules = (evidence, dock, me, officers, recorders, jobs, audit)
    assert {role for _, role, _ in USERS} == set(policy.ROLES)
    assert {r.permission for r in ROUTES} - {None} == permissions_named_in(*modules)
    routes = {(m, r.path) for module in modules for r in module.router.routes for m in r.methods}
    assert len(routes) == len(ROUTES), ("a route of api/evidence.py, dock.py, me.py, officers.py, recorders.py, "
                                        "jobs.py or audit.py is missing from the matrix")
    # every role is allowed somewhere and refused somewhere
    for role in policy.ROLES:
        outcomes = {expected(role, route, None) for route in ROUTES}
        assert outcomes == {200, 403}, role


def test_a_refused_request_changes_nothing(world: World) -> None:
    """Refused writes (a foreign unit's evidence, or a role without the permission) leave the
    evidence as it was: no mark, tag or note, and no custody event but the refusal."""
    lisi, own = world.evidence["lisi"], world.evidence["zhangsan_2"]
    attempts = [(user_of("operator"), "PUT", f"/evidence/{lisi}/important", {"important": True}),
                (user_of("investigator"), "POST", f"/evidence/{lisi}/tags", {"tag": "越权"}),
                (user_of("investigator"), "POST", f"/evidence/{lisi}/notes", {"text": "越权"}),
                (user_of("auditor"), "POST", f"/evidence/{own}/tags", {"tag": "越权"}),
                (user_of("admin"), "POST", f"/evidence/{own}/notes", {"text": "越权"}),
                (user_of("investigator"), "PUT", f"/evidence/{own}/important", {"important": True})]
    since = world.last_seq()
    for username, method, path, body in attempts:
        assert world.client(username).request(method, API + path, json=body).status_code in (403, 404)
    assert [e.action for e in world.events_since(since)] == ["access_denied"] * len(attempts)
    city = world.client(user_of("investigator", "city"))
    for eid in (lisi, own):
        record = city.get(f"{API}/evidence/{eid}").json()
        assert "越权" not in record["tags"] and all(n["text"] != "越权" for n in record["notes"])
        assert record["important"] is False
