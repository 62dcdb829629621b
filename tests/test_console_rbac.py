"""Who may open which console page: every role × every page of the console × own and foreign unit.

The console is the API's sibling for people: the same permissions, the same unit walls. The
expected answer of every cell is written out here BY HAND from the README's "Who may do what"
(not computed from ``auth.policy.PERMISSIONS``): a wrong permission table must fail here too.

* pages a role may not open answer 403 as a page (HTML, in the user's language), never JSON;
* another unit's evidence, case, hold, round or notice answers 404 as a page, exactly like one that
  does not exist;
* every refusal (403, or 404 for another unit's object) leaves one ``access_denied`` custody event
  naming the user; an allowed page, or an object that does not exist, none.

Pages are opened with the user's API token (the console accepts it, as it does the session cookie;
the cookie path with its CSRF token is exercised by the browser tests). SQLite only: the console
adds no SQL of its own beyond the API's, whose matrix runs on both databases.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from tests.api_world import A, B, World, user_of, world_for
from tests.test_api_rbac import MISSING, ROLES, Ctx, _flat, denials

OP, INV, LR, RM, AUD, ADM = ROLES
EVIDENCE_READERS = {OP, INV, LR, RM, AUD}
CASE_READERS = {INV, LR, RM, AUD}
RECORDS = {LR, RM, AUD}  # retention.view
REVIEW_READERS = {INV, LR, RM, AUD}
FIGURES = {LR, RM, AUD}
PUBLICATION_READERS = {INV, LR, RM, AUD}  # publication.view

# page -> (who may open it, what its target is: None, or the kind of object of a unit)
# (opening a notice marks it read and sends the reader to its case: 303 where allowed; see REDIRECTS)
PAGES: dict[str, tuple[set[str], str | None]] = {
    "/dock": ({OP, ADM}, None),
    "/jobs": ({OP, RM, ADM}, None),
    "/search": (EVIDENCE_READERS, None),
    "/evidence/{evidence_id}": (EVIDENCE_READERS, "evidence"),
    "/audit": ({AUD, ADM}, None),
    "/cases": (CASE_READERS, None),
    "/cases/{case_id}": (CASE_READERS, "case"),
    "/retention": (RECORDS, None),
    "/retention/holds": (RECORDS, None),
    "/retention/holds/{hold_id}": (RECORDS, "hold"),
    "/retention/pending": (RECORDS, None),
    "/retention/destroyed": (RECORDS, None),
    "/review": (REVIEW_READERS, None),
    "/review/rounds/{round_id}": (REVIEW_READERS, "round"),
    "/review/notices/{notice_id}": (REVIEW_READERS, "notice"),
    "/review/figures": (FIGURES, None),
    # 年度行政执法数据 (annual figures): whoever reads notices (publication.view)
    "/publication/figures": (CASE_READERS, None),
    # exports (issue #14 item 8): whoever may export sees their own exports; another's answers 404
    "/exports": ({INV, LR, RM}, None),
    "/exports/{export_id}": ({INV, LR, RM}, "export"),
    # the redaction editor (隐私遮蔽, issue #15): whoever edits, approves or releases redacted copies
    "/evidence/{evidence_id}/redaction": ({INV, LR, RM}, "evidence"),
    # administration (系统管理): accounts, units and stations for the administrator; the roster also
    # for the records manager; recorders for whoever runs the dock. /admin sends each to their first section.
    "/admin": ({ADM, RM}, None),
    "/admin/users": ({ADM}, None),
    "/admin/users/{username:path}": ({ADM}, "user"),
    "/admin/units": ({ADM}, None),
    "/admin/officers": ({ADM, RM}, None),
    "/admin/recorders": ({OP, ADM}, None),
    "/admin/stations": ({ADM}, None),
    # publication (行政执法公示, issue #16): whoever reads cases sees their units' notices (publication.view)
    "/publication": (PUBLICATION_READERS, None),
    "/publication/{notice_id}": (PUBLICATION_READERS, "publication"),
    # publication (行政执法公示, 事前公示): whoever reads the notices reads the powers documents; publishers
    # (legal reviewers, records managers) also see the upload form
    "/publication/powers": (CASE_READERS, None),
}
REDIRECTS = {"/review/notices/{notice_id}": "/cases/", "/admin": "/admin/"}
# pages every visitor may open, signed in or not, and pages that only send the visitor elsewhere
# (the public site, /public/..., is open to anyone by design: tests/test_publication_api.py checks it shows notices only)
OPEN = {"/login", "/lang/{code}", "/", "/public", "/public/", "/public/notices", "/public/notices/{public_no}",
        "/public/figures", "/public/figures/{year}", "/public/officers", "/public/powers", "/public/powers/{public_id}"}


def target_id(ctx: Ctx, kind: str, unit: str) -> int | str:
    return {"evidence": ctx.evidence, "case": lambda u: ctx.case(u).case_id, "hold": ctx.hold,
            "round": ctx.round, "notice": ctx.notice, "export": ctx.export, "user": ctx.fresh_user,
            "publication": ctx.draft}[kind](unit)


def cells() -> Iterator[tuple[str, str, str, str | None]]:
    for page, (_, kind) in PAGES.items():
        for role in ROLES:
            for target in ((None,) if kind is None else ("own", "foreign", MISSING)):
                yield page, role, user_of(role), target


def expected(page: str, role: str, target: str | None) -> int:
    allowed, _ = PAGES[page]
    if role not in allowed:
        return 403
    if target not in (None, "own"):
        return 404
    return 303 if page in REDIRECTS else 200


@pytest.fixture(scope="module", params=["sqlite"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          make_clip: Callable[..., Path]) -> Iterator[World]:
    yield from world_for(request, tmp_path_factory, make_clip)


@pytest.fixture(scope="module")
def ctx(world: World) -> Ctx:
    c = Ctx(world)
    c.case(A), c.case(B)
    return c


@pytest.mark.parametrize(("page", "role", "username", "target"), list(cells()))
def test_every_role_opens_the_pages_the_table_says(world: World, ctx: Ctx, page: str, role: str, username: str,
                                                   target: str | None) -> None:
    _, kind = PAGES[page]
    path, ident = page, ""
    ctx.user = username  # an export is its maker's: "own" is the user's own
    if kind is not None:
        unit = {"own": A, "foreign": B, MISSING: MISSING}[target or "own"]
        ident = str(target_id(ctx, kind, unit))
        path = _fill(page, ident)
    before = denials(world, username)
    r = world.client(username).get(path, headers={"Accept": "text/html"}, follow_redirects=False)
    after = denials(world, username)
    want = expected(page, role, target)
    assert r.status_code == want, f"{role} GET {path}: {r.status_code} {r.text[:300]}"
    if want == 303:
        assert r.headers["location"].startswith(REDIRECTS[page]), r.headers["location"]
    else:
        assert r.headers["content-type"].startswith("text/html"), f"{role} GET {path}: {r.headers['content-type']}"
    if want < 400:
        assert len(after) == len(before), "an allowed page left an access_denied event"
        return
    assert "<html" in r.text and '"detail"' not in r.text
    refused = want == 403 or target == "foreign"  # a thing that does not exist is not a refusal
    assert len(after) == len(before) + refused, f"{len(after) - len(before)} access_denied events"
    if want == 404 and target == "foreign":
        absent = str(target_id(ctx, kind or "", MISSING))
        missing = world.client(username).get(_fill(page, absent), headers={"Accept": "text/html"})
        assert missing.status_code == 404
        assert _visible(missing.text) == _visible(r.text).replace(ident, absent), \
            "another unit's object must read exactly like a missing one"


def _fill(page: str, ident: int | str) -> str:
    """The page's address with the object's id in its ``{...}`` (which may stand before a last part)."""
    import re

    return re.sub(r"\{\w+(?::path)?\}", str(ident), page, count=1)


def _visible(html: str) -> str:
    import re

    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.split("<main>", 1)[-1].split("</main>", 1)[0])).strip()


def test_the_table_lists_every_page_of_the_console(world: World) -> None:
    """A console page added without a row here fails: its answers per role must be written out."""
    pages = {path for route, path, methods in _flat(world.app.routes)
             if "GET" in methods and isinstance(route, APIRoute) and not path.startswith(("/api/", "/static"))
             and route.include_in_schema is False}
    assert pages - OPEN == set(PAGES), f"not in the table: {sorted(pages - OPEN - set(PAGES))}; " \
                                       f"gone: {sorted(set(PAGES) - pages)}"


# ---------------------------------------------------------------------------- the console's forms
#
# Every form a page POSTs, by hand: who may send it. A role that may not is refused (403, a page,
# one access_denied event naming the role) before anything is looked up; a role that may is let
# through the role check — its request names things that do not exist (or is empty), so it changes
# nothing and answers as a missing thing or a bad form would (never 403, no access_denied for the role).
# (Sign-in and sign-out are for everyone.)

POSTS: dict[str, set[str]] = {
    "/admin/users": {ADM},
    "/admin/users/{username:path}/change": {ADM},
    "/admin/users/{username:path}/password": {ADM},
    "/admin/users/{username:path}/unlock": {ADM},
    "/admin/users/{username:path}/disable": {ADM},
    "/admin/users/{username:path}/enable": {ADM},
    "/admin/users/{username:path}/tokens": {ADM},
    "/admin/users/{username:path}/tokens/revoke": {ADM},
    "/admin/units": {ADM},
    "/admin/units/{code:path}/rename": {ADM},
    "/admin/officers": {ADM, RM},
    "/admin/officers/{officer_no:path}": {ADM, RM},
    "/admin/recorders/{device_id:path}": {OP, ADM},
    "/admin/stations": {ADM},
    "/admin/stations/{station_id:path}/token": {ADM},
    "/admin/stations/{station_id:path}/unit": {ADM},
    "/admin/stations/{station_id:path}/disable": {ADM},
    "/audit/export": {AUD, ADM},
    "/retention/holds": {LR, RM},
    "/retention/holds/{hold_id}/release": {LR, RM},
    "/retention/pending/{disposal_id}/restore": {INV, LR, RM},
    "/retention/pending/{disposal_id}/approve": {RM},
    "/evidence/{evidence_id}/retention/class": {INV, RM},
    "/cases/{case_id}/review/submit": {INV, RM},
    "/cases/{case_id}/review/mark": {INV, LR, RM},
    "/cases/{case_id}/review/decision": {INV, RM},
    "/review/rounds/{round_id}/answer": {LR},
    "/review/rounds/{round_id}/decide": {LR},
    "/publication/{notice_id}/mask": {LR, RM},  # publication.publish
    "/publication/{notice_id}/publish": {LR, RM},
    "/publication/{notice_id}/withdraw": {LR, RM},
    "/publication/figures/approve": {LR, RM},  # 年度行政执法数据: publication.publish
    "/publication/powers": {LR, RM},  # a powers document (权责清单): publishers
}
OPEN_POSTS = {"/login", "/logout"}
ABSENT = {"username": "no_such_user", "code": "no-such-unit", "officer_no": "no-such-officer",
          "device_id": "DSJ-NO-SUCH", "station_id": "st-no-such", "hold_id": "987654321",
          "disposal_id": "987654321", "evidence_id": "987654321", "case_id": "987654321", "round_id": "987654321",
          "notice_id": "987654321"}


@pytest.mark.parametrize(("form", "role"), [(f, r) for f in POSTS for r in ROLES])
def test_every_form_is_refused_to_the_roles_the_table_says(world: World, form: str, role: str) -> None:
    import re

    username = user_of(role)
    path = re.sub(r"\{(\w+)(?::path)?\}", lambda m: ABSENT[m.group(1)], form)
    before = denials(world, username)
    r = world.client(username).post(path, data={"csrf": ""}, headers={"Accept": "text/html"},
                                    follow_redirects=False)
    new = denials(world, username)[len(before):]
    if role in POSTS[form]:
        assert r.status_code != 403, f"{role} POST {path} was refused: {r.text[:300]}"
        assert not [e for e in new if json.loads(e.detail or "{}").get("reason") == "role"], "an allowed role was refused"
        return
    assert r.status_code == 403, f"{role} POST {path}: {r.status_code} {r.text[:300]}"
    assert r.headers["content-type"].startswith("text/html") and '"detail"' not in r.text
    assert len(new) == 1 and json.loads(new[0].detail or "{}")["reason"] == "role", [e.detail for e in new]
    assert json.loads(new[0].detail or "{}")["permission"] != "csrf"


def test_the_table_lists_every_form_of_the_console(world: World) -> None:
    posts = {path for route, path, methods in _flat(world.app.routes)
             if "POST" in methods and isinstance(route, APIRoute) and not path.startswith("/api/")
             and route.include_in_schema is False}
    assert posts - OPEN_POSTS == set(POSTS), f"not in the table: {sorted(posts - OPEN_POSTS - set(POSTS))}; " \
                                             f"gone: {sorted(set(POSTS) - posts)}"
