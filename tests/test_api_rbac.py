"""Who may do what: every role × every route of the published API (/api/v1) × own and foreign
unit, on SQLite and PostgreSQL.

The expected answer of every cell is written out below (``EXPECTED``), by hand, from the product
rules — the README's "Who may do what" and the intent stated in ``auth/policy.py``'s docstring,
read as a specification — and NOT computed from ``auth.policy.PERMISSIONS``, the table the code
enforces: a wrong permission table must fail here. The rules, as read:

* the dock operator runs the dock: sees stations, recorders and jobs, marks recordings important,
  assigns recorders; searches, views and plays their units' footage and annotates it, but never
  takes originals or exports, verifies, or reads the custody log; no cases;
* investigators and records managers work evidence (search, view, play, download, export, verify,
  annotate, custody) and build cases (open, steps, links, text records, close); the records manager
  also keeps the roster (officers) and watches the jobs;
* the legal reviewer works evidence like them and reads cases, their records, coverage and bag, but
  does not change the case file;
* the auditor reads the audit trail, custody logs, evidence metadata and cases, but cannot play or
  take media (no play, download, export of evidence or of a case bag, which holds the originals);
* the administrator manages accounts, units, stations, officers, docks and jobs, assigns recorders to
  officers and reads the audit trail, but neither sees nor plays evidence, and has no cases;
* legal holds (保全): legal reviewers and records managers place and release them; they and the
  auditor read them; a hold, or an evidence to hold, of another unit is 404 exactly as if missing;
* legal review (法制审核): whoever reads cases (investigators, legal reviewers, records managers,
  the auditor) reads the catalogue, a case's review, the queue, a round's workspace and the notices,
  and marks a notice read; the handling unit's investigators and records managers submit; they and
  the legal reviewers mark a case major by hand; only legal reviewers answer the checklist and
  decide; a round (its case's unit or its reviewing unit not the user's) or a notice of another
  unit is 404 exactly as if missing;
* publication (行政执法公示): whoever reads cases (investigators, legal reviewers, records managers,
  the auditor) lists and reads their units' decision notices; legal reviewers and records managers
  publish them (mask more, publish, withdraw); a notice of another unit is 404 exactly as if missing;
  the same readers list and read the powers and procedures documents (权责清单, 事前公示), the same
  publishers upload them (a unit of another tree to upload into is 403 naming it), and a document
  version of another unit is 404 exactly as if missing;
* everyone signed in may ask who they are (``/me``) and list their units' officers.

Units: a role refusal comes first (403, whatever the target); a permitted role asking for another
unit's evidence or case gets 404 exactly as if it did not exist; a roster target of another unit (a
unit to create an officer or case in) is 403 naming it; an officer of another unit to assign a
recorder to answers 404 exactly like an officer that does not exist (issue #10: the answer must not
tell which officer numbers other units hold).

Every refusal (each 403, and each 404 for a foreign unit's evidence, case or officer) must leave exactly one
new ``access_denied`` custody event naming the user as actor, with outcome ``denied``; an allowed
request leaves none.

The users are one of every role in district A (110101) and an investigator in district B
(110102). "Own" evidence is 张三's recording for A (李四's for B); "foreign" is the other's. Cases,
steps, links and text records of both districts are made here on top of the shared world
(``tests.api_world``, built once per database for the whole module).

The station intake routes (``/api/v1/intake``) answer to station tokens, not users: they are not in
the role table; ``test_the_station_door_refuses_every_users_token`` checks that no user's token
opens them, and ``test_a_station_token_opens_no_users_route`` that a station's token opens no
user route.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import itertools
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select

from archive import stations
from archive.models import Evidence
from auth import service as accounts
from cases import records as text_records
from cases import service as case_service
from hashing.binding import bound
from hashing.models import CustodyEvent
from liuhen.db import utcnow
from retention.bindings import DISPOSAL
from retention.models import Disposal
from tests.api_world import BACKENDS, PASSWORD, A, B, World, offload, user_of, world_for
from tests.docks import put

API = "/api/v1"
ROLES = ("operator", "investigator", "legal_reviewer", "records_manager", "auditor", "admin")
USERS = [(user_of(role), role, A) for role in ROLES] + [(user_of("investigator", "b"), "investigator", B)]
MISSING = "missing"  # a "unit" whose objects do not exist (ids that were never issued)
MISSING_ID = 987654321
ACTOR = "test:rbac"
TZ = ZoneInfo("Asia/Shanghai")
_fresh = itertools.count(1)

# ---------------------------------------------------------------------------- the table
#
# One row per route (method and path as the app declares them under /api/v1), one column per role.
# A cell is the status for a user of that role in district A (and for the B investigator, with
# "own" and "foreign" swapped): "200" for a route with no target; "200/404" = own unit / foreign
# unit for a route with one; a single "403" on a route with a target is the role refusal, for both.

EXPECTED_TABLE = """
| route                                              | operator | investigator | legal_reviewer | records_manager | auditor | admin   |
|----------------------------------------------------|----------|--------------|----------------|-----------------|---------|---------|
| GET    /evidence                                   | 200      | 200          | 200            | 200             | 200     | 403     |
| GET    /evidence/{evidence_id}                     | 200/404  | 200/404      | 200/404        | 200/404         | 200/404 | 403     |
| GET    /evidence/{evidence_id}/custody             | 403      | 200/404      | 200/404        | 200/404         | 200/404 | 403     |
| GET    /evidence/{evidence_id}/media/{kind}        | 200/404  | 200/404      | 200/404        | 200/404         | 403     | 403     |
| GET    /evidence/{evidence_id}/original            | 403      | 206/404      | 206/404        | 206/404         | 403     | 403     |
| GET    /evidence/{evidence_id}/export              | 403      | 200/404      | 200/404        | 200/404         | 403     | 403     |
| POST   /evidence/{evidence_id}/original/link       | 403      | 201/404      | 201/404        | 201/404         | 403     | 403     |
| POST   /evidence/{evidence_id}/export/link         | 403      | 201/404      | 201/404        | 201/404         | 403     | 403     |
| POST   /evidence/{evidence_id}/verify              | 403      | 200/404      | 200/404        | 200/404         | 403     | 403     |
| PUT    /evidence/{evidence_id}/important           | 200/404  | 403          | 403            | 403             | 403     | 403     |
| POST   /evidence/{evidence_id}/tags                | 200/404  | 200/404      | 200/404        | 200/404         | 403     | 403     |
| DELETE /evidence/{evidence_id}/tags/{tag:path}     | 200/404  | 200/404      | 200/404        | 200/404         | 403     | 403     |
| POST   /evidence/{evidence_id}/notes               | 201/404  | 201/404      | 201/404        | 201/404         | 403     | 403     |
| GET    /me                                         | 200      | 200          | 200            | 200             | 200     | 200     |
| GET    /dock                                       | 200      | 403          | 403            | 403             | 403     | 200     |
| GET    /officers                                   | 200      | 200          | 200            | 200             | 200     | 200     |
| POST   /officers                                   | 403      | 403          | 403            | 201/403         | 403     | 201/403 |
| PATCH  /officers/{officer_no}                      | 403      | 403          | 403            | 200/404         | 403     | 200/404 |
| POST   /officers/{officer_no}/certificates         | 403      | 403          | 403            | 201/404         | 403     | 201/404 |
| PATCH  /officers/{officer_no}/certificates/{number} | 403     | 403          | 403            | 200/404         | 403     | 200/404 |
| GET    /recorders                                  | 200      | 403          | 403            | 403             | 403     | 200     |
| PUT    /recorders/{device_id}/officer              | 200/404  | 403          | 403            | 403             | 403     | 200/404 |
| GET    /jobs                                       | 200      | 403          | 403            | 200             | 403     | 200     |
| GET    /audit                                      | 403      | 403          | 403            | 403             | 200     | 200     |
| GET    /cases                                      | 403      | 200          | 200            | 200             | 200     | 403     |
| POST   /cases                                      | 403      | 201/403      | 403            | 201/403         | 403     | 403     |
| GET    /cases/{case_id}                            | 403      | 200/404      | 200/404        | 200/404         | 200/404 | 403     |
| POST   /cases/{case_id}/steps                      | 403      | 201/404      | 403            | 201/404         | 403     | 403     |
| POST   /cases/steps/{step_id}/links                | 403      | 201/404      | 403            | 201/404         | 403     | 403     |
| DELETE /cases/links/{link_id}                      | 403      | 204/404      | 403            | 204/404         | 403     | 403     |
| GET    /cases/steps/{step_id}/suggestions          | 403      | 200/404      | 200/404        | 200/404         | 200/404 | 403     |
| GET    /cases/{case_id}/coverage                   | 403      | 200/404      | 200/404        | 200/404         | 200/404 | 403     |
| POST   /cases/{case_id}/close                      | 403      | 200/404      | 403            | 200/404         | 403     | 403     |
| POST   /cases/{case_id}/records                    | 403      | 201/404      | 403            | 201/404         | 403     | 403     |
| POST   /cases/{case_id}/forms                      | 403      | 201/404      | 403            | 201/404         | 403     | 403     |
| GET    /cases/records/{record_id}/versions/{version} | 403    | 200/404      | 200/404        | 200/404         | 403     | 403     |
| POST   /cases/records/{record_id}/versions/{version}/link | 403 | 201/404   | 201/404        | 201/404         | 403     | 403     |
| GET    /cases/records/{record_id}/versions/{version}/pii | 403 | 200/404    | 403            | 200/404         | 403     | 403     |
| POST   /cases/records/{record_id}/redactions       | 403      | 201/404      | 403            | 201/404         | 403     | 403     |
| GET    /cases/records/{record_id}/redactions/{redaction_id} | 403 | 200/404 | 200/404       | 200/404         | 403     | 403     |
| POST   /cases/{case_id}/export/link                | 403      | 201/404      | 201/404        | 201/404         | 403     | 403     |
| GET    /cases/{case_id}/export                     | 403      | 200/404      | 200/404        | 200/404         | 403     | 403     |
| POST   /cases/{case_id}/reopen                     | 403      | 200/404      | 403            | 200/404         | 403     | 403     |
| GET    /retention/rules                            | 403      | 403          | 200            | 200             | 200     | 403     |
| GET    /retention/report                           | 403      | 403          | 200            | 200             | 200     | 403     |
| POST   /retention/evidence/{evidence_id}/class     | 403      | 200/404      | 403            | 200/404         | 403     | 403     |
| POST   /retention/recompute                        | 403      | 403          | 403            | 200             | 403     | 403     |
| PATCH  /users/{username}                           | 403      | 403          | 403            | 403             | 403     | 200/404 |
| POST   /users/{username}/disable                   | 403      | 403          | 403            | 403             | 403     | 200/404 |
| POST   /users/{username}/enable                    | 403      | 403          | 403            | 403             | 403     | 200/404 |
| POST   /users/{username}/password                  | 403      | 403          | 403            | 403             | 403     | 200/404 |
| POST   /users/{username}/unlock                    | 403      | 403          | 403            | 403             | 403     | 200/404 |
| POST   /users/{username}/tokens/revoke             | 403      | 403          | 403            | 403             | 403     | 200/404 |
| POST   /me/password                                | 200      | 200          | 200            | 200             | 200     | 200     |
| GET    /disposals                                  | 403      | 403          | 200            | 200             | 200     | 403     |
| GET    /disposals/log                              | 403      | 403          | 200            | 200             | 200     | 403     |
| POST   /disposals/{disposal_id}/restore            | 403      | 200/404      | 200/404        | 200/404         | 403     | 403     |
| POST   /disposals/{disposal_id}/approve            | 403      | 403          | 403            | 200/404         | 403     | 403     |
| POST   /disposals/run                              | 403      | 403          | 403            | 200             | 403     | 403     |
| GET    /holds                                      | 403      | 403          | 200            | 200             | 200     | 403     |
| POST   /holds                                      | 403      | 403          | 201/404        | 201/404         | 403     | 403     |
| GET    /holds/{hold_id}                            | 403      | 403          | 200/404        | 200/404         | 200/404 | 403     |
| POST   /holds/{hold_id}/release                    | 403      | 403          | 200/404        | 200/404         | 403     | 403     |
| GET    /review/catalogue                           | 403      | 200          | 200            | 200             | 200     | 403     |
| GET    /cases/{case_id}/review                     | 403      | 200/404      | 200/404        | 200/404         | 200/404 | 403     |
| POST   /cases/{case_id}/review/mark                | 403      | 201/404      | 201/404        | 201/404         | 403     | 403     |
| POST   /cases/{case_id}/review                     | 403      | 201/404      | 403            | 201/404         | 403     | 403     |
| GET    /review/queue                               | 403      | 200          | 200            | 200             | 200     | 403     |
| GET    /review/rounds/{round_id}                   | 403      | 200/404      | 200/404        | 200/404         | 200/404 | 403     |
| PUT    /review/rounds/{round_id}/answers/{element:path} | 403 | 403          | 200/404        | 403             | 403     | 403     |
| POST   /review/rounds/{round_id}/decide            | 403      | 403          | 200/404        | 403             | 403     | 403     |
| GET    /review/notices                             | 403      | 200          | 200            | 200             | 200     | 403     |
| POST   /review/notices/{notice_id}/read            | 403      | 200/404      | 200/404        | 200/404         | 200/404 | 403     |
| GET    /review/figures                             | 403      | 403          | 200            | 200             | 200     | 403     |
| GET    /publication/notices                        | 403      | 200          | 200            | 200             | 200     | 403     |
| GET    /publication/notices/{notice_id}            | 403      | 200/404      | 200/404        | 200/404         | 200/404 | 403     |
| POST   /publication/notices/{notice_id}/mask       | 403      | 403          | 200/404        | 200/404         | 403     | 403     |
| POST   /publication/notices/{notice_id}/publish    | 403      | 403          | 200/404        | 200/404         | 403     | 403     |
| POST   /publication/notices/{notice_id}/withdraw   | 403      | 403          | 200/404        | 200/404         | 403     | 403     |
| GET    /publication/powers                         | 403      | 200          | 200            | 200             | 200     | 403     |
| GET    /publication/powers/{document_id}           | 403      | 200/404      | 200/404        | 200/404         | 200/404 | 403     |
| POST   /publication/powers                         | 403      | 403          | 201/403        | 201/403         | 403     | 403     |
| GET    /health                                     | 200      | 200          | 200            | 200             | 200     | 200     |
| GET    /openapi.json                               | 200      | 200          | 200            | 200             | 200     | 200     |
| GET    /docs                                       | 200      | 200          | 200            | 200             | 200     | 200     |
| POST   /evidence/{evidence_id}/play                | 200/404  | 200/404      | 200/404        | 200/404         | 403     | 403     |
| POST   /exports                                    | 403      | 202/404      | 202/404        | 202/404         | 403     | 403     |
| GET    /exports                                    | 403      | 200          | 200            | 200             | 403     | 403     |
| GET    /exports/{export_id}                        | 403      | 200/404      | 200/404        | 200/404         | 403     | 403     |
| GET    /exports/{export_id}/download               | 403      | 200/404      | 200/404        | 200/404         | 403     | 403     |
| POST   /exports/{export_id}/download/link          | 403      | 201/404      | 201/404        | 201/404         | 403     | 403     |
| POST   /audit/verify                               | 403      | 403          | 403            | 403             | 200     | 200     |
"""
# The last five rows (export, issue #14 item 8): an export is its maker's only; for them "own" is the
# caller's own export and "foreign" one made in the other unit (Ctx.export).
# cases (issue #14): evidence ↔ case — the cases a recording is linked to (whoever reads cases and may see the
# recording), and the case picker's open cases with their steps (whoever reads cases)
EXPECTED_TABLE += """| GET    /evidence/{evidence_id}/cases               | 403      | 200/404      | 200/404        | 200/404         | 200/404 | 403     |
| GET    /cases/steps                                | 403      | 200          | 200            | 200             | 200     | 403     |
| GET    /users                                      | 403      | 403          | 403            | 403             | 403     | 200     |
| POST   /users                                      | 403      | 403          | 403            | 403             | 403     | 201/403 |
| GET    /users/{username}/tokens                    | 403      | 403          | 403            | 403             | 403     | 200/404 |
| POST   /users/{username}/tokens                    | 403      | 403          | 403            | 403             | 403     | 201/404 |
| GET    /units                                      | 200      | 200          | 200            | 200             | 200     | 200     |
| POST   /units                                      | 403      | 403          | 403            | 403             | 403     | 201/403 |
| PATCH  /units/{code}                               | 403      | 403          | 403            | 403             | 403     | 200/403 |
| GET    /stations                                   | 403      | 403          | 403            | 403             | 403     | 200     |
| POST   /stations                                   | 403      | 403          | 403            | 403             | 403     | 201/403 |
| POST   /stations/{station_id}/token                | 403      | 403          | 403            | 403             | 403     | 200/404 |
| PUT    /stations/{station_id}/unit                 | 403      | 403          | 403            | 403             | 403     | 200/404 |
| POST   /stations/{station_id}/disable              | 403      | 403          | 403            | 403             | 403     | 200/404 |
"""
# privacy redaction (issue #15): investigators and records managers edit plans (redaction.edit) and ask for
# detection and renders; legal reviewers and records managers approve (redaction.approve, four eyes); all
# three read plans, renders, logs and previews and release approved copies (redaction.release); a plan or
# render of another unit's recording answers 404 like a missing one
EXPECTED_TABLE += """| POST   /evidence/{evidence_id}/redaction           | 403      | 201/404      | 403            | 201/404         | 403     | 403     |
| GET    /evidence/{evidence_id}/redaction           | 403      | 200/404      | 200/404        | 200/404         | 403     | 403     |
| GET    /redaction/{plan_id}                        | 403      | 200/404      | 200/404        | 200/404         | 403     | 403     |
| PUT    /redaction/{plan_id}                        | 403      | 200/404      | 403            | 200/404         | 403     | 403     |
| POST   /redaction/{plan_id}/tracks/{track_id}      | 403      | 200/404      | 403            | 200/404         | 403     | 403     |
| POST   /redaction/{plan_id}/detect                 | 403      | 202/404      | 403            | 202/404         | 403     | 403     |
| POST   /redaction/{plan_id}/render                 | 403      | 202/404      | 403            | 202/404         | 403     | 403     |
| POST   /redaction/{plan_id}/approve                | 403      | 403          | 200/404        | 200/404         | 403     | 403     |
| GET    /redaction/{plan_id}/preview                | 403      | 200/404      | 200/404        | 200/404         | 403     | 403     |
| GET    /redaction/renders/{render_id}              | 403      | 200/404      | 200/404        | 200/404         | 403     | 403     |
| GET    /redaction/renders/{render_id}/log          | 403      | 200/404      | 200/404        | 200/404         | 403     | 403     |
| GET    /redaction/renders/{render_id}/download     | 403      | 200/404      | 200/404        | 200/404         | 403     | 403     |
| POST   /redaction/release                          | 403      | 200/404      | 200/404        | 200/404         | 403     | 403     |
"""
# annual figures (年度行政执法数据): whoever reads notices reads their units' figures (JSON and CSV);
# legal reviewers and records managers approve one unit's figures of a year that has ended
EXPECTED_TABLE += """| GET    /publication/figures                        | 403      | 200          | 200            | 200             | 200     | 403     |
| GET    /publication/figures.csv                    | 403      | 200          | 200            | 200             | 200     | 403     |
| POST   /publication/figures/approve                | 403      | 403          | 200            | 200             | 403     | 403     |
"""
# (the last twelve rows: administration (系统管理) — accounts, units and stations are the administrator's
# (users.manage), in their own units; a unit of another tree to act in is 403 naming it, another unit's
# user or station is 404 as if missing)

# The station's door: station tokens only (not in the role table).
INTAKE_ROUTES = {
    ("POST", "/intake/register"), ("POST", "/intake/uploads"), ("GET", "/intake/uploads/{upload_id}"),
    ("HEAD", "/intake/uploads/{upload_id}"), ("PATCH", "/intake/uploads/{upload_id}"),
    ("POST", "/intake/uploads/{upload_id}/complete"), ("POST", "/intake/release"), ("POST", "/intake/status"),
}

# A one-time link is used by the user it was issued to; anyone else's GET (any token that is not a
# live link of theirs) is 404 link_gone, with no event: tests/test_privacy.py covers it.
LINK_ROUTES = {("GET", "/links/{token}")}

# Where the table and the code disagree (the code is left as it is; the case is marked xfail, strict):
# (route, role, target) -> why the table expects what it expects. (None now: the auditor's foreign case
# export, which answered 404, is refused by role first like every route, issue #10.)
DISAGREEMENTS: dict[tuple[tuple[str, str], str, str | None], str] = {}

Key = tuple[str, str]


def parse_table(text: str) -> dict[Key, dict[str, tuple[int, ...]]]:
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.strip().splitlines()]
    header, body = rows[0], [r for r in rows[2:]]
    assert tuple(header[1:]) == ROLES, header
    table: dict[Key, dict[str, tuple[int, ...]]] = {}
    for row in body:
        method, path = row[0].split()
        assert (method, path) not in table, f"{method} {path} is in the table twice"
        table[(method, path)] = {role: tuple(int(x) for x in cell.split("/")) for role, cell in zip(ROLES, row[1:])}
    return table


EXPECTED = parse_table(EXPECTED_TABLE)

# ---------------------------------------------------------------------------- how to call each route


@dataclass(frozen=True)
class CaseObjects:
    case_id: int
    step_id: int
    link_id: int
    record_id: int


FORM_FIELDS = {"party": "某商店", "facts": "无证经营", "law": "《行政处罚法》", "decision": "责令改正",
               "remedy": "六十日内申请复议", "decided_on": "2026-11-23"}
PDF = b"%PDF-1.4\n% liuhen rbac\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def officer_of(unit: str) -> str:
    return "000123" if unit == A else "000456"


@dataclass
class Ctx:
    """The world, plus a case of each district (a step linked to the district's recording, a text
    record), and fresh objects for the routes that use their target up (close, unlink)."""

    world: World
    cases: dict[str, CaseObjects] = field(default_factory=dict)
    holds: dict[str, int] = field(default_factory=dict)
    rounds: dict[str, int] = field(default_factory=dict)
    notices: dict[str, int] = field(default_factory=dict)
    exports: dict[tuple[str, str], int] = field(default_factory=dict)
    redactions: dict[str, int] = field(default_factory=dict)
    plans: dict[str, int] = field(default_factory=dict)
    renders: dict[str, int] = field(default_factory=dict)
    powers: dict[str, int] = field(default_factory=dict)
    user: str = ""  # who makes the call now (an export is its maker's only)

    def export(self, unit: str) -> int:
        """A finished export of ``unit``'s recording: the caller's own if the caller is of that unit and
        may export, else one made by that unit's investigator."""
        if unit == MISSING:
            return MISSING_ID
        from api.exports import HANDLERS as EXPORT_JOBS
        from jobs import queue
        from jobs.worker import run_one

        role, home = next(((r, un) for name, r, un in USERS if name == self.user), ("", ""))
        maker = (self.user if home == unit and role in ("investigator", "legal_reviewer", "records_manager")
                 else user_of("investigator", "a" if unit == A else "b"))
        if (maker, unit) not in self.exports:
            r = self.world.client(maker).post(f"{API}/exports", json={"evidence_ids": [self.evidence(unit)]})
            assert r.status_code == 202, r.text
            self.exports[(maker, unit)] = r.json()["export_id"]
            while (job := queue.claim(self.world.archive, worker="rbac", kinds=("export",))) is not None:
                run_one(self.world.archive, job, EXPORT_JOBS)
        return self.exports[(maker, unit)]

    def original_sha256(self, unit: str) -> str:
        if unit == MISSING:
            return "0" * 64
        with self.world.archive.sessions() as db:
            return db.get_one(Evidence, self.evidence(unit)).sha256

    def fresh_plan(self, unit: str, *, proposed: bool = False) -> int:
        """A new redaction plan of ``unit``'s recording, made by the archive's operator (version 1, or 2
        with one detected track still proposed)."""
        from redaction import service as redaction
        from redaction.plan import Box, Key, Track

        if unit == MISSING:
            return MISSING_ID
        w = self.world
        with w.archive.sessions.begin() as db:
            row = redaction.create(w.archive, db, evidence=db.get_one(Evidence, self.evidence(unit)), actor=ACTOR)
            if proposed:
                plan = redaction.content(redaction.latest(db, row.id)).with_track(Track(
                    id="d1", kind="face", source="detector", keys=(Key(0.0, Box(0.1, 0.1, 0.2, 0.2)),)))
                redaction.save(w.archive, db, plan_id=row.id, base_version=1, plan=plan, actor=ACTOR)
            return row.id

    def plan(self, unit: str) -> int:
        if unit == MISSING:
            return MISSING_ID
        if unit not in self.plans:
            self.plans[unit] = self.fresh_plan(unit)
        return self.plans[unit]

    def render(self, unit: str) -> int:
        """A done render of an approved plan of ``unit``'s recording (a box over the first second)."""
        from jobs import queue
        from jobs.worker import run_one
        from redaction import service as redaction
        from redaction.plan import Box, Key, Track

        if unit == MISSING:
            return MISSING_ID
        if unit not in self.renders:
            w = self.world
            plan_id = self.fresh_plan(unit)
            with w.archive.sessions.begin() as db:
                plan = redaction.content(redaction.latest(db, plan_id)).with_track(Track(
                    id="h1", kind="face", state="accepted", keys=(Key(0.0, Box(0.1, 0.1, 0.3, 0.3)),
                                                                  Key(0.9, Box(0.5, 0.5, 0.3, 0.3)))))
                redaction.save(w.archive, db, plan_id=plan_id, base_version=1, plan=plan, actor=ACTOR)
                redaction.approve(w.archive, db, plan_id=plan_id, version=2, actor="test:rbac-approver")
                r = redaction.ask_render(w.archive, db, plan_id=plan_id, actor=ACTOR)
                self.renders[unit] = r.id
            while (job := queue.claim(w.archive, worker="rbac", kinds=(redaction.RENDER_KIND,))) is not None:
                run_one(w.archive, job, redaction.HANDLERS)
        return self.renders[unit]

    def evidence(self, unit: str) -> int:
        if unit == MISSING:
            return MISSING_ID
        return self.world.evidence["zhangsan" if unit == A else "lisi"]

    def case(self, unit: str) -> CaseObjects:
        if unit == MISSING:
            return CaseObjects(MISSING_ID, MISSING_ID, MISSING_ID, MISSING_ID)
        if unit not in self.cases:
            case_id, step_id, link_id = self._case_with_a_link(unit)
            record = text_records.add_form(self.world.archive, case_id=case_id, actor=ACTOR, kind="决定书",
                                           fields=FORM_FIELDS)
            self.cases[unit] = CaseObjects(case_id, step_id, link_id, record.record_id)
        return self.cases[unit]

    def redaction(self, unit: str) -> int:
        """A confirmed masking of ``unit``'s text record (made once, by the archive's operator)."""
        if unit == MISSING:
            return MISSING_ID
        if unit not in self.redactions:
            from redaction import records as redacting

            objs = self.case(unit)
            with self.world.archive.sessions.begin() as db:
                row = redacting.confirm(self.world.archive, db, actor=ACTOR, record_id=objs.record_id, version=1,
                                        masks=[], why="权限矩阵", case_id=objs.case_id, case_number=unit)
                self.redactions[unit] = row.id
        return self.redactions[unit]

    def _case_with_a_link(self, unit: str, case_id: int | None = None) -> tuple[int, int, int]:
        w = self.world
        with w.archive.sessions.begin() as db:
            if case_id is None:
                c = case_service.create_case(db, w.archive.custody, w.settings.cases, unit_id=w.units[unit],
                                             unit_code=unit, category="行政强制", title=f"权限矩阵 {unit}", actor=ACTOR)
            else:
                c = case_service.get_case(db, case_id)
            st = case_service.add_step(db, w.archive.custody, w.settings.cases, case=c, kind="现场检查",
                                       started_at=dt.datetime(2026, 11, 23, 9, 29, tzinfo=TZ),
                                       ended_at=dt.datetime(2026, 11, 23, 10, 5, tzinfo=TZ), actor=ACTOR,
                                       officers=[officer_of(unit)])
            ev = db.get(Evidence, self.evidence(unit))
            assert ev is not None
            lk = case_service.link(db, w.archive.custody, step=st, evidence=ev, actor=ACTOR)
            return c.id, st.id, lk.id

    def hold(self, unit: str) -> int:
        """A legal hold of ``unit`` on its recording (placed once, by the archive's operator)."""
        if unit == MISSING:
            return MISSING_ID
        if unit not in self.holds:
            self.holds[unit] = self.fresh_hold(unit)
        return self.holds[unit]

    def fresh_hold(self, unit: str) -> int:
        """A new legal hold of ``unit`` for a release (a release is final)."""
        from retention import holds

        if unit == MISSING:
            return MISSING_ID
        with self.world.archive.sessions.begin() as db:
            return holds.place(db, self.world.archive.custody, scope_kind="evidence",
                               scope={"evidence": [self.evidence(unit)]}, reason="权限矩阵", actor=ACTOR,
                               unit_id=self.world.units[unit], visible_units=None).id

    def fresh_user(self, unit: str, role: str = "investigator") -> str:
        """A new user (an investigator) of ``unit`` for an administrator to act on (never the acting admin)."""
        if unit == MISSING:
            return "no_such_user"
        name = f"managed_{next(_fresh)}"
        with self.world.archive.sessions.begin() as db:
            accounts.add_user(db, self.world.archive.custody, username=name, password=PASSWORD, role=role,
                              unit_code=unit, actor=ACTOR, settings=self.world.settings.auth)
        return name

    def fresh_officer(self, unit: str, certificate: str | None = None) -> str:
        """A new officer of ``unit`` (with a certificate numbered ``certificate``) for a change that uses it up."""
        from archive.attribution import add_officer
        from roster.service import add_certificate

        if unit == MISSING:
            return "N9999999"
        no = f"F{next(_fresh):05d}"
        with self.world.archive.sessions.begin() as db:
            add_officer(db, self.world.archive.custody, officer_no=no, name="赵六", unit_id=self.world.units[unit],
                        actor=ACTOR)
            if certificate is not None:
                add_certificate(db, self.world.archive.custody, officer_no=no, number=certificate, category="市场监管",
                                area="东城区", valid_from=dt.date(2026, 1, 1), valid_until=dt.date(2030, 12, 31),
                                actor=ACTOR)
        return no

    def fresh_certificate(self, unit: str) -> str:
        number = f"C{next(_fresh):08d}"
        return f"/officers/{self.fresh_officer(unit, number)}/certificates/{number}"

    def fresh_case(self, unit: str) -> int:
        if unit == MISSING:
            return MISSING_ID
        with self.world.archive.sessions.begin() as db:
            return case_service.create_case(db, self.world.archive.custody, self.world.settings.cases,
                                            unit_id=self.world.units[unit], unit_code=unit, category="行政强制",
                                            title="权限矩阵 待结案", actor=ACTOR).id

    def fresh_disposal(self, unit: str) -> int:
        """A new recording of ``unit`` (a fresh station of that unit offloads it), pending disposal as
        scheduled by the archive itself."""
        if unit == MISSING:
            return MISSING_ID
        w = self.world
        n = next(_fresh)
        base = w.settings.station
        st = dataclasses.replace(base, id=f"st-disp-{n}", dock_root=base.dock_root.parent / f"dock-disp-{n}",
                                 state_path=base.state_path.parent / f"station-disp-{n}")
        stamp = (dt.datetime(2020, 1, 1, 9) + dt.timedelta(seconds=n)).strftime("%Y%m%d%H%M%S")
        name = f"DSJ-D001_000123_{stamp}_{n:04d}.JPG"
        put(st.dock_root, f"bay1/{name}", os.urandom(1024))
        assert offload(st, w.archive, w.units[unit]) == ["archived"]
        with w.archive.sessions.begin() as db:
            ev = db.scalars(select(Evidence).where(Evidence.file_name == name)).one()
            d = Disposal(evidence_id=ev.id, state="pending", rule='{"class":"unclassified","reasons":[]}',
                         scheduled_at=utcnow(), scheduled_by="system:retention", due_at=utcnow())
            db.add(d)
            db.flush()
            w.archive.custody.record(db, actor=ACTOR, action="disposal_scheduled", tool="test", tool_version="1",
                                     evidence_id=ev.id, object_sha256=ev.sha256,
                                     detail={"bound": bound((DISPOSAL, d))})
            return d.id
    def fresh_closed_case(self, unit: str) -> int:
        """A new closed case of ``unit`` (for reopen, which uses its target up)."""
        case_id = self.fresh_case(unit)
        if unit != MISSING:
            with self.world.archive.sessions.begin() as db:
                case_service.close_case(db, self.world.archive.custody, case=case_service.get_case(db, case_id),
                                        actor=ACTOR)
        return case_id

    def round(self, unit: str) -> int:
        """A review round of ``unit``, submitted and opened (answered again by the reviewers' calls)."""
        if unit == MISSING:
            return MISSING_ID
        if unit not in self.rounds:
            self.rounds[unit] = self.fresh_round(unit)
        return self.rounds[unit]

    def fresh_round(self, unit: str) -> int:
        """A new round of a new case of ``unit``, submitted, opened and answered, for a decision (which is
        final)."""
        from auth.models import User
        from review import service as review
        from review.catalogue import Proposal

        if unit == MISSING:
            return MISSING_ID
        case_id = self.fresh_case(unit)
        w = self.world
        with w.archive.sessions.begin() as db:
            rnd = review.submit(db, w.archive.custody, w.settings, case=case_service.get_case(db, case_id),
                                proposal=Proposal("罚款", "罚款五百元", "《行政处罚法》", amount_fen=50000),
                                statement="权限矩阵", actor=ACTOR)
            # opened by a reviewer who sees the unit (a reviewer is refused outside the reviewing unit)
            name = user_of("legal_reviewer") if unit == A else user_of("investigator", "city")
            reviewer = db.scalars(select(User).where(User.username == name)).one()
            reviewer.legal_qualification = True
            review.open_round(db, w.archive.custody, w.settings, rnd=rnd, user=reviewer, actor=ACTOR)
            for element in w.settings.review.elements:  # (a decision needs every element answered)
                review.answer(db, w.archive.custody, w.settings, rnd=rnd, element=element, answer="na", comment="",
                              actor=ACTOR)
            return rnd.id

    def notice(self, unit: str) -> int:
        """A notice to ``unit`` (as a decided round leaves one)."""
        from review.models import ReviewNotice

        if unit == MISSING:
            return MISSING_ID
        if unit not in self.notices:
            round_id = self.round(unit)
            with self.world.archive.sessions.begin() as db:
                n = ReviewNotice(unit_id=self.world.units[unit], case_id=self.case(unit).case_id, round_id=round_id,
                                 message="权限矩阵")
                db.add(n)
                db.flush()
                self.notices[unit] = n.id
        return self.notices[unit]

    def draft(self, unit: str) -> int:
        """The draft notice of ``unit``'s shared case (its 决定书 drafted it)."""
        from publication.models import Notice

        if unit == MISSING:
            return MISSING_ID
        record_id = self.case(unit).record_id
        with self.world.archive.sessions() as db:
            return db.scalars(select(Notice.id).where(Notice.record_id == record_id).order_by(Notice.id)).first()  # type: ignore[return-value]

    def fresh_draft(self, unit: str, *, published: bool = False) -> int:
        """A new draft notice of ``unit`` (a new case's 决定书), published too if asked, for a change that uses it up."""
        from publication import service as publication
        from publication.models import Notice

        if unit == MISSING:
            return MISSING_ID
        case_id = self.fresh_case(unit)
        record = text_records.add_form(self.world.archive, case_id=case_id, actor=ACTOR, kind="决定书",
                                       fields=FORM_FIELDS)
        with self.world.archive.sessions.begin() as db:
            n = db.scalars(select(Notice).where(Notice.record_id == record.record_id)).one()
            if published:
                publication.publish(db, self.world.archive.custody, self.world.settings, notice=n, actor=ACTOR)
            return n.id

    def powers_document(self, unit: str) -> int:
        """A powers document (权责清单) of ``unit``, uploaded by the service as its publisher would."""
        from auth.models import Unit
        from publication import powers

        if unit == MISSING:
            return MISSING_ID
        if unit not in self.powers:
            with self.world.archive.sessions.begin() as db:
                unit_id = db.scalars(select(Unit.id).where(Unit.code == unit)).one()
                doc = powers.upload(db, self.world.archive.custody, unit_id=unit_id, title="权限矩阵 权责清单",
                                    kind="权责清单", file_name="权责清单.pdf", data=PDF, actor=ACTOR)
                self.powers[unit] = doc.id
        return self.powers[unit]

    def fresh_unit(self, unit: str) -> str:
        """A new unit below ``unit`` (for a rename, which must change its name)."""
        if unit == MISSING:
            return "no-such-unit"
        code = f"{unit}-R{next(_fresh)}"
        with self.world.archive.sessions.begin() as db:
            accounts.add_unit(db, code=code, name="权限矩阵 单位", parent_code=unit)
        return code

    def fresh_station(self, unit: str) -> str:
        """A new station enrolled in ``unit`` (a disable uses it up)."""
        if unit == MISSING:
            return "no-such-station"
        station_id = f"st-rbac-{next(_fresh)}"
        stations.add_station(self.world.archive, station_id=station_id)
        stations.set_unit(self.world.archive, station_id=station_id, unit_code=unit)
        return station_id

    def fresh_link(self, unit: str) -> int:
        if unit == MISSING:
            return MISSING_ID
        return self._case_with_a_link(unit, self.case(unit).case_id)[2]


Request = tuple[str, dict[str, Any]]  # the path under /api/v1, and the keyword arguments of the request


@dataclass(frozen=True)
class Call:
    """How to call a route for a target of a given unit, and what its refusals name."""

    make: Callable[[Ctx, str], Request]
    permission: str | None = None  # named by the route's refusals; None: anyone signed in (or public)
    target: str | None = None  # "evidence", "case", "disposal", "hold", "user", "round", "notice", "publication" or "powers" (foreign: 404 as
    # if missing), "roster" (foreign: 403)
    public: bool = False  # no sign-in needed
    named_by_role: dict[str, str] = field(default_factory=dict)  # a role refused on another permission


def _ev(suffix: str = "", **kw: Any) -> Callable[[Ctx, str], Request]:
    return lambda c, u: (f"/evidence/{c.evidence(u)}{suffix}", kw)


def _case(suffix: str = "", **kw: Any) -> Callable[[Ctx, str], Request]:
    return lambda c, u: (f"/cases/{c.case(u).case_id}{suffix}", kw)


def _user(suffix: str, **kw: Any) -> Callable[[Ctx, str], Request]:
    return lambda c, u: (f"/users/{c.fresh_user(u)}{suffix}", kw)


def _plain(path: str) -> Callable[[Ctx, str], Request]:
    return lambda c, u: (path, {})


REVIEW = {"decision_kind": "罚款", "content": "罚款五百元", "legal_basis": "《行政处罚法》", "amount": "500",
          "statement": "权限矩阵"}
STEP = {"kind": "调查", "started_at": "2026-11-23T10:00:00+08:00", "ended_at": "2026-11-23T10:05:00+08:00"}

CALLS: dict[Key, Call] = {
    ("GET", "/evidence"): Call(_plain("/evidence"), "evidence.search"),
    ("GET", "/evidence/{evidence_id}"): Call(_ev(), "evidence.view", "evidence"),
    ("GET", "/evidence/{evidence_id}/custody"): Call(_ev("/custody"), "custody.view", "evidence"),
    # (a poster: the same check as the proxy, fewer bytes)
    ("GET", "/evidence/{evidence_id}/media/{kind}"): Call(_ev("/media/poster"), "evidence.play", "evidence"),
    ("GET", "/evidence/{evidence_id}/original"): Call(_ev("/original", headers={"Range": "bytes=0-99"}),
                                                      "evidence.download_original", "evidence"),
    ("GET", "/evidence/{evidence_id}/export"): Call(_ev("/export"), "evidence.export", "evidence"),
    ("POST", "/evidence/{evidence_id}/verify"): Call(_ev("/verify"), "evidence.verify", "evidence"),
    ("PUT", "/evidence/{evidence_id}/important"): Call(_ev("/important", json={"important": True}),
                                                       "dock.mark_important", "evidence"),
    ("POST", "/evidence/{evidence_id}/tags"): Call(_ev("/tags", json={"tag": "权限"}), "evidence.annotate",
                                                   "evidence"),
    ("DELETE", "/evidence/{evidence_id}/tags/{tag:path}"): Call(_ev("/tags/权限"), "evidence.annotate", "evidence"),
    ("POST", "/evidence/{evidence_id}/notes"): Call(_ev("/notes", json={"text": "权限矩阵"}), "evidence.annotate",
                                                    "evidence"),
    ("GET", "/me"): Call(_plain("/me")),
    ("GET", "/dock"): Call(_plain("/dock"), "dock.view"),
    ("GET", "/officers"): Call(_plain("/officers")),
    ("POST", "/officers"): Call(lambda c, u: ("/officers", {"json": {
        "officer_no": f"R{next(_fresh):05d}", "name": "赵六", "unit_code": u}}), "officers.manage", "roster"),
    ("PATCH", "/officers/{officer_no}"): Call(lambda c, u: (f"/officers/{c.fresh_officer(u)}", {"json": {
        "name": "赵六六", "active": False}}), "officers.manage", "roster"),
    ("POST", "/officers/{officer_no}/certificates"): Call(lambda c, u: (
        f"/officers/{c.fresh_officer(u)}/certificates", {"json": {
            "number": f"C{next(_fresh):08d}", "category": "市场监管", "area": "东城区", "valid_from": "2026-01-01",
            "valid_until": "2030-12-31"}}), "officers.manage", "roster"),
    ("PATCH", "/officers/{officer_no}/certificates/{number}"): Call(lambda c, u: (c.fresh_certificate(u), {
        "json": {"area": "西城区"}}), "officers.manage", "roster"),
    ("GET", "/recorders"): Call(_plain("/recorders"), "dock.view"),
    ("PUT", "/recorders/{device_id}/officer"): Call(lambda c, u: ("/recorders/DSJ-A001/officer", {"json": {
        "officer_no": officer_of(u)}}), "recorder.assign", "roster"),
    ("GET", "/jobs"): Call(_plain("/jobs"), "jobs.view"),
    ("GET", "/audit"): Call(_plain("/audit"), "audit.view"),
    ("POST", "/audit/verify"): Call(_plain("/audit/verify"), "audit.view"),  # search/audit (issue #14)
    ("GET", "/cases"): Call(_plain("/cases"), "cases.view"),
    ("POST", "/cases"): Call(lambda c, u: ("/cases", {"json": {"unit_code": u, "category": "行政强制",
                                                                "title": "权限矩阵 新案"}}), "cases.manage", "roster"),
    ("GET", "/cases/{case_id}"): Call(_case(), "cases.view", "case"),
    ("POST", "/cases/{case_id}/steps"): Call(_case("/steps", json=STEP), "cases.manage", "case"),
    ("POST", "/cases/steps/{step_id}/links"): Call(lambda c, u: (f"/cases/steps/{c.case(u).step_id}/links", {
        "json": {"evidence_id": c.evidence(u)}}), "cases.manage", "case"),
    ("DELETE", "/cases/links/{link_id}"): Call(lambda c, u: (f"/cases/links/{c.fresh_link(u)}", {}),
                                               "cases.manage", "case"),
    ("GET", "/cases/steps/{step_id}/suggestions"): Call(
        lambda c, u: (f"/cases/steps/{c.case(u).step_id}/suggestions", {}), "cases.view", "case"),
    ("GET", "/cases/{case_id}/coverage"): Call(_case("/coverage"), "cases.view", "case"),
    ("POST", "/cases/{case_id}/close"): Call(lambda c, u: (f"/cases/{c.fresh_case(u)}/close", {}),
                                             "cases.manage", "case"),
    ("POST", "/cases/{case_id}/records"): Call(_case("/records", files={"file": ("权限.pdf", PDF, "application/pdf")},
                                                     data={"kind": "决定书"}), "cases.manage", "case"),
    ("POST", "/cases/{case_id}/forms"): Call(_case("/forms", json={"kind": "决定书", "fields": FORM_FIELDS}),
                                             "cases.manage", "case"),
    ("GET", "/cases/records/{record_id}/versions/{version}"): Call(
        lambda c, u: (f"/cases/records/{c.case(u).record_id}/versions/1", {}), "cases.documents", "case"),
    ("POST", "/cases/records/{record_id}/versions/{version}/link"): Call(
        lambda c, u: (f"/cases/records/{c.case(u).record_id}/versions/1/link", {}), "cases.documents", "case"),
    ("GET", "/cases/records/{record_id}/versions/{version}/pii"): Call(
        lambda c, u: (f"/cases/records/{c.case(u).record_id}/versions/1/pii", {}), "redaction.edit", "case"),
    ("POST", "/cases/records/{record_id}/redactions"): Call(
        lambda c, u: (f"/cases/records/{c.case(u).record_id}/redactions",
                      {"json": {"version": 1, "masks": [], "why": "公示前脱敏"}}), "redaction.edit", "case"),
    ("GET", "/cases/records/{record_id}/redactions/{redaction_id}"): Call(
        lambda c, u: (f"/cases/records/{c.case(u).record_id}/redactions/{c.redaction(u)}", {}), "redaction.release",
        "case"),
    ("POST", "/cases/{case_id}/export/link"): Call(_case("/export/link"), "evidence.export", "case"),
    ("POST", "/evidence/{evidence_id}/original/link"): Call(_ev("/original/link"), "evidence.download_original",
                                                            "evidence"),
    ("POST", "/evidence/{evidence_id}/export/link"): Call(_ev("/export/link"), "evidence.export", "evidence"),
    ("GET", "/cases/{case_id}/export"): Call(_case("/export"), "cases.view", "case",
                                             named_by_role={"auditor": "evidence.export"}),
    ("POST", "/cases/{case_id}/reopen"): Call(lambda c, u: (f"/cases/{c.fresh_closed_case(u)}/reopen", {
        "json": {"reason": "权限矩阵 重新立案"}}), "cases.manage", "case"),
    ("GET", "/retention/rules"): Call(_plain("/retention/rules"), "retention.view"),
    ("GET", "/retention/report"): Call(_plain("/retention/report"), "retention.view"),
    ("POST", "/retention/evidence/{evidence_id}/class"): Call(lambda c, u: (
        f"/retention/evidence/{c.evidence(u)}/class", {"json": {"class": "important", "reason": "权限矩阵"}}),
        "retention.classify", "evidence"),
    ("POST", "/retention/recompute"): Call(_plain("/retention/recompute"), "retention.dispose"),
    ("PATCH", "/users/{username}"): Call(_user("", json={"legal_qualification": True, "officer_no": ""}),
                                         "users.manage", "user"),
    ("POST", "/users/{username}/disable"): Call(_user("/disable"), "users.manage", "user"),
    ("POST", "/users/{username}/enable"): Call(_user("/enable"), "users.manage", "user"),
    ("POST", "/users/{username}/password"): Call(_user("/password", json={"password": "临时密码请尽快修改它"}),
                                                 "users.manage", "user"),
    ("POST", "/users/{username}/unlock"): Call(_user("/unlock"), "users.manage", "user"),
    ("POST", "/users/{username}/tokens/revoke"): Call(_user("/tokens/revoke", json={}), "users.manage", "user"),
    # (each user changes their own password once: from the world's to another)
    ("POST", "/me/password"): Call(lambda c, u: ("/me/password", {"json": {
        "old_password": PASSWORD, "new_password": "权限矩阵里的新密码一二三"}})),
    ("GET", "/disposals"): Call(_plain("/disposals"), "retention.view"),
    ("GET", "/disposals/log"): Call(_plain("/disposals/log"), "retention.view"),
    ("POST", "/disposals/{disposal_id}/restore"): Call(lambda c, u: (f"/disposals/{c.fresh_disposal(u)}/restore", {
        "json": {"reason": "权限矩阵"}}), "retention.restore", "disposal"),
    ("POST", "/disposals/{disposal_id}/approve"): Call(lambda c, u: (f"/disposals/{c.fresh_disposal(u)}/approve", {}),
                                                       "retention.dispose", "disposal"),
    ("POST", "/disposals/run"): Call(lambda c, u: ("/disposals/run", {"params": {"dry_run": "true"}}),
                                     "retention.dispose"),
    ("GET", "/holds"): Call(_plain("/holds"), "retention.view"),
    ("POST", "/holds"): Call(lambda c, u: ("/holds", {"json": {
        "scope_kind": "evidence", "scope": {"evidence": [c.evidence(u)]}, "reason": "权限矩阵"}}),
        "retention.hold", "evidence"),
    ("GET", "/holds/{hold_id}"): Call(lambda c, u: (f"/holds/{c.hold(u)}", {}), "retention.view", "hold"),
    ("POST", "/holds/{hold_id}/release"): Call(lambda c, u: (f"/holds/{c.fresh_hold(u)}/release", {
        "json": {"reason": "权限矩阵"}}), "retention.hold", "hold"),
    ("GET", "/review/catalogue"): Call(_plain("/review/catalogue"), "review.view"),
    ("GET", "/cases/{case_id}/review"): Call(_case("/review"), "review.view", "case"),
    # (a fresh case: marked major, the shared case would refuse the decision documents other rows file)
    ("POST", "/cases/{case_id}/review/mark"): Call(lambda c, u: (f"/cases/{c.fresh_case(u)}/review/mark", {
        "json": {"major": True, "reason": "权限矩阵"}}),
                                                   "review.mark", "case"),
    ("POST", "/cases/{case_id}/review"): Call(lambda c, u: (f"/cases/{c.fresh_case(u)}/review", {"json": REVIEW}),
                                              "review.submit", "case"),
    ("GET", "/review/queue"): Call(_plain("/review/queue"), "review.view"),
    ("GET", "/review/rounds/{round_id}"): Call(lambda c, u: (f"/review/rounds/{c.round(u)}", {}), "review.view",
                                               "round"),
    ("PUT", "/review/rounds/{round_id}/answers/{element:path}"): Call(lambda c, u: (
        f"/review/rounds/{c.round(u)}/answers/执法资格", {"json": {"answer": "yes", "comment": "权限矩阵"}}),
        "review.decide", "round"),
    ("POST", "/review/rounds/{round_id}/decide"): Call(lambda c, u: (f"/review/rounds/{c.fresh_round(u)}/decide", {
        "json": {"outcome": "补充材料", "opinion": "权限矩阵：请补充材料"}}), "review.decide", "round"),
    ("GET", "/review/notices"): Call(_plain("/review/notices"), "review.view"),
    ("POST", "/review/notices/{notice_id}/read"): Call(lambda c, u: (f"/review/notices/{c.notice(u)}/read", {}),
                                                       "review.view", "notice"),
    ("GET", "/review/figures"): Call(_plain("/review/figures"), "review.figures"),
    # publication (行政执法公示): a decision document drafts its notice; a fresh draft or published one per change
    ("GET", "/publication/notices"): Call(_plain("/publication/notices"), "publication.view"),
    ("GET", "/publication/notices/{notice_id}"): Call(lambda c, u: (f"/publication/notices/{c.draft(u)}", {}),
                                                      "publication.view", "publication"),
    ("POST", "/publication/notices/{notice_id}/mask"): Call(lambda c, u: (
        f"/publication/notices/{c.fresh_draft(u)}/mask", {"json": {"field": "decision", "text": "改正"}}),
        "publication.publish", "publication"),
    ("POST", "/publication/notices/{notice_id}/publish"): Call(lambda c, u: (
        f"/publication/notices/{c.fresh_draft(u)}/publish", {}), "publication.publish", "publication"),
    ("POST", "/publication/notices/{notice_id}/withdraw"): Call(lambda c, u: (
        f"/publication/notices/{c.fresh_draft(u, published=True)}/withdraw", {"json": {"reason": "决定已撤销"}}),
        "publication.publish", "publication"),
    # annual figures (年度行政执法数据): the figures of 2025 (a year that has ended) of the caller's unit
    ("GET", "/publication/figures"): Call(lambda c, u: ("/publication/figures", {"params": {"year": 2025}}),
                                          "publication.view"),
    ("GET", "/publication/figures.csv"): Call(lambda c, u: ("/publication/figures.csv", {"params": {"year": 2025}}),
                                              "publication.view"),
    ("POST", "/publication/figures/approve"): Call(lambda c, u: ("/publication/figures/approve", {
        "json": {"year": 2025, "unit": A}}), "publication.publish"),
    # powers and procedures (权责清单, 事前公示): a document per unit; each upload its next version
    ("GET", "/publication/powers"): Call(_plain("/publication/powers"), "publication.view"),
    ("GET", "/publication/powers/{document_id}"): Call(lambda c, u: (f"/publication/powers/{c.powers_document(u)}", {}),
                                                       "publication.view", "powers"),
    ("POST", "/publication/powers"): Call(lambda c, u: ("/publication/powers", {
        "files": {"file": ("权责清单.pdf", PDF, "application/pdf")},
        "data": {"title": "权限矩阵 上传", "kind": "权责清单", "unit_code": u}}), "publication.publish", "roster"),
    # cases (issue #14): evidence ↔ case
    ("GET", "/evidence/{evidence_id}/cases"): Call(_ev("/cases"), "cases.view", "evidence"),
    ("GET", "/cases/steps"): Call(lambda c, u: ("/cases/steps", {"params": {"q": "权限矩阵"}}), "cases.view"),
    ("GET", "/health"): Call(_plain("/health"), public=True),
    ("GET", "/openapi.json"): Call(_plain("/openapi.json"), public=True),
    ("GET", "/docs"): Call(_plain("/docs"), public=True),
    # dock and player (issue #14): pressing play opens the user's play session
    ("POST", "/evidence/{evidence_id}/play"): Call(_ev("/play"), "evidence.play", "evidence"),
    # export (issue #14 item 8)
    ("POST", "/exports"): Call(lambda c, u: ("/exports", {"json": {"evidence_ids": [c.evidence(u)]}}),
                               "evidence.export", "evidence"),
    ("GET", "/exports"): Call(_plain("/exports"), "evidence.export"),
    ("GET", "/exports/{export_id}"): Call(lambda c, u: (f"/exports/{c.export(u)}", {}), "evidence.export", "export"),
    ("GET", "/exports/{export_id}/download"): Call(lambda c, u: (f"/exports/{c.export(u)}/download", {}),
                                                   "evidence.export", "export"),
    ("POST", "/exports/{export_id}/download/link"): Call(lambda c, u: (f"/exports/{c.export(u)}/download/link", {}),
                                                         "evidence.export", "export"),
    # privacy redaction (issue #15)
    ("POST", "/evidence/{evidence_id}/redaction"): Call(_ev("/redaction", json={"title": "权限矩阵"}),
                                                        "redaction.edit", "evidence"),
    ("GET", "/evidence/{evidence_id}/redaction"): Call(_ev("/redaction"), "redaction.release", "evidence"),
    ("GET", "/redaction/{plan_id}"): Call(lambda c, u: (f"/redaction/{c.plan(u)}", {}), "redaction.release",
                                          "redaction_plan"),
    ("PUT", "/redaction/{plan_id}"): Call(lambda c, u: (f"/redaction/{c.fresh_plan(u)}", {"json": {
        "base_version": 1, "why": "权限矩阵", "plan": {"original_sha256": c.original_sha256(u), "ranges": [
            {"id": "r1", "kind": "audio", "start": 0.0, "end": 0.5, "effect": "mute"}]}}}),
        "redaction.edit", "redaction_plan"),
    ("POST", "/redaction/{plan_id}/tracks/{track_id}"): Call(lambda c, u: (
        f"/redaction/{c.fresh_plan(u, proposed=True)}/tracks/d1", {"json": {"state": "accepted", "why": "权限矩阵"}}),
        "redaction.edit", "redaction_plan"),
    ("POST", "/redaction/{plan_id}/detect"): Call(lambda c, u: (f"/redaction/{c.plan(u)}/detect", {}),
                                                  "redaction.edit", "redaction_plan"),
    ("POST", "/redaction/{plan_id}/render"): Call(lambda c, u: (f"/redaction/{c.plan(u)}/render", {"json": {}}),
                                                  "redaction.edit", "redaction_plan"),
    ("POST", "/redaction/{plan_id}/approve"): Call(lambda c, u: (f"/redaction/{c.fresh_plan(u)}/approve", {
        "json": {"version": 1}}), "redaction.approve", "redaction_plan"),
    ("GET", "/redaction/{plan_id}/preview"): Call(lambda c, u: (f"/redaction/{c.plan(u)}/preview", {
        "params": {"t": "0.2"}}), "redaction.release", "redaction_plan"),
    ("GET", "/redaction/renders/{render_id}"): Call(lambda c, u: (f"/redaction/renders/{c.render(u)}", {}),
                                                    "redaction.release", "redaction_render"),
    ("GET", "/redaction/renders/{render_id}/log"): Call(lambda c, u: (f"/redaction/renders/{c.render(u)}/log", {}),
                                                        "redaction.release", "redaction_render"),
    ("GET", "/redaction/renders/{render_id}/download"): Call(lambda c, u: (
        f"/redaction/renders/{c.render(u)}/download", {}), "redaction.release", "redaction_render"),
    ("POST", "/redaction/release"): Call(lambda c, u: ("/redaction/release", {"json": {"render_ids": [c.render(u)]}}),
                                         "redaction.release", "redaction_render"),
    # administration (系统管理)
    ("GET", "/users"): Call(_plain("/users"), "users.manage"),
    ("POST", "/users"): Call(lambda c, u: ("/users", {"json": {
        "username": f"made_{next(_fresh)}", "password": PASSWORD, "role": "investigator", "unit_code": u}}),
        "users.manage", "roster"),
    ("GET", "/users/{username}/tokens"): Call(_user("/tokens"), "users.manage", "user"),
    # (for an account that sees no evidence: one that does is refused a token made by someone else,
    # test_an_administrator_cannot_issue_a_token_for_an_account_that_sees_evidence)
    ("POST", "/users/{username}/tokens"): Call(lambda c, u: (f"/users/{c.fresh_user(u, 'admin')}/tokens",
                                                             {"json": {"name": "权限矩阵"}}), "users.manage", "user"),
    ("GET", "/units"): Call(_plain("/units")),
    ("POST", "/units"): Call(lambda c, u: ("/units", {"json": {
        "code": f"{u}-U{next(_fresh)}", "name": "权限矩阵 新单位", "parent_code": u}}), "users.manage", "roster"),
    ("PATCH", "/units/{code}"): Call(lambda c, u: (f"/units/{c.fresh_unit(u)}", {"json": {
        "name": f"权限矩阵 更名 {next(_fresh)}"}}), "users.manage", "roster"),
    ("GET", "/stations"): Call(_plain("/stations"), "users.manage"),
    ("POST", "/stations"): Call(lambda c, u: ("/stations", {"json": {
        "station_id": f"st-new-{next(_fresh)}", "unit_code": u}}), "users.manage", "roster"),
    ("POST", "/stations/{station_id}/token"): Call(lambda c, u: (f"/stations/{c.fresh_station(u)}/token", {}),
                                                   "users.manage", "station"),
    ("PUT", "/stations/{station_id}/unit"): Call(lambda c, u: (f"/stations/{c.fresh_station(u)}/unit", {"json": {
        "unit_code": u if u != MISSING else A}}), "users.manage", "station"),
    ("POST", "/stations/{station_id}/disable"): Call(lambda c, u: (f"/stations/{c.fresh_station(u)}/disable", {}),
                                                     "users.manage", "station"),
}

HIDDEN_CODE = {"disposal": "unknown_disposal", "evidence": "not_found", "case": "unknown_case", "roster": "unknown_officer",
               "user": "unknown_user", "hold": "unknown_hold", "round": "unknown_review_round",
               "notice": "unknown_review_round", "export": "export_not_found", "publication": "unknown_notice",
               "powers": "unknown_powers_document",
               "station": "unknown_station", "redaction_plan": "unknown_redaction_plan",
               "redaction_render": "unknown_redaction_render"}  # the code of "no such thing (that you may see)"


def label(key: Key) -> str:
    return f"{key[0]} {key[1]}"


def user_cells() -> Iterator[Any]:
    for username, role, unit in USERS:
        for key, call in CALLS.items():
            if call.public:
                continue
            for target in (("own", "foreign") if call.target else (None,)):
                marks = []
                if (key, role, target) in DISAGREEMENTS:
                    marks.append(pytest.mark.xfail(strict=True, reason=DISAGREEMENTS[(key, role, target)]))
                yield pytest.param(username, role, unit, key, target, marks=marks,
                                   id=f"{username}-{label(key)}" + (f"-{target}" if target else ""))


def expected(role: str, key: Key, target: str | None) -> int:
    cell = EXPECTED[key][role]
    if target is None or len(cell) == 1:
        assert len(cell) == 1, f"{label(key)}: {role} has a target-less route with two answers"
        return cell[0]
    return cell[0] if target == "own" else cell[1]


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          make_clip: Callable[..., Path]) -> Iterator[World]:
    yield from world_for(request, tmp_path_factory, make_clip)


@pytest.fixture(scope="module")
def ctx(world: World) -> Ctx:
    c = Ctx(world)
    c.case(A), c.case(B)
    return c


def denials(world: World, username: str) -> list[CustodyEvent]:
    with world.archive.sessions() as db:
        rows = list(db.scalars(select(CustodyEvent).where(CustodyEvent.action == "access_denied",
                                                          CustodyEvent.actor == f"user:{username}")
                               .order_by(CustodyEvent.seq)))
        db.expunge_all()
        return rows


def _flat(routes: list[Any]) -> Iterator[tuple[Any, str, set[str]]]:
    """(route, full path, methods) of every route, also those of included routers (which FastAPI
    0.165 keeps behind one entry per ``include_router``)."""
    for r in routes:
        contexts = getattr(r, "effective_route_contexts", None)
        if contexts is not None:
            for c in contexts():
                yield c.original_route, c.path, set(c.methods or ())
        else:
            yield r, getattr(r, "path", ""), set(getattr(r, "methods", None) or ())


def app_routes(world: World) -> set[Key]:
    """Every (method, path) the app answers under /api/v1, path relative to /api/v1 (a HEAD that
    Starlette adds beside a GET of a plain route is not a route of its own)."""
    out: set[Key] = set()
    for route, path, methods in _flat(world.app.routes):
        if not path.startswith(API + "/"):
            continue
        if not isinstance(route, APIRoute) and "GET" in methods:
            methods.discard("HEAD")
        out |= {(m, path[len(API):]) for m in methods}
    return out


# ---------------------------------------------------------------------------- the matrix


@pytest.mark.parametrize(("username", "role", "unit", "key", "target"), list(user_cells()))
def test_every_role_gets_what_the_table_says_and_every_refusal_is_logged(
        world: World, ctx: Ctx, username: str, role: str, unit: str, key: Key, target: str | None) -> None:
    call = CALLS[key]
    other = B if unit == A else A
    target_unit = {None: unit, "own": unit, "foreign": other}[target]
    ctx.user = username
    path, kwargs = call.make(ctx, target_unit)
    # (a redaction plan's or render's refusal names its recording, as an evidence refusal does)
    evidence_id = (ctx.evidence(target_unit)
                   if call.target in ("evidence", "redaction_plan", "redaction_render") else None)
    method = key[0]

    before = denials(world, username)
    r = world.client(username).request(method, API + path, **kwargs)
    after = denials(world, username)

    want = expected(role, key, target)
    assert r.status_code == want, f"{role} {method} {path}: {r.status_code} {r.text[:300]}"
    if want < 300:
        assert [e.seq for e in after] == [e.seq for e in before], "an allowed request left an access_denied event"
        return
    assert set(r.json()) == {"code", "detail", "message"}
    assert r.json()["code"] == (HIDDEN_CODE[call.target] if want == 404 else "forbidden")  # type: ignore[index]
    new = after[len(before):]
    assert len(new) == 1, f"{len(new)} access_denied events for one refusal"
    (event,) = new
    assert event.outcome == "denied" and event.actor == f"user:{username}"
    detail = json.loads(event.detail)
    assert detail["role"] == role and detail["path"] == API + path and detail["method"] == method
    by_role = expected(role, key, "own") >= 400  # refused whatever the target: the role is refused
    assert detail["permission"] == (call.named_by_role.get(role, call.permission) if by_role else call.permission)
    if by_role:
        assert detail["reason"] == "role"
    elif call.target == "case":
        assert detail["reason"].startswith("unit (case "), detail["reason"]
    else:
        assert detail["reason"] == "unit"
    assert event.evidence_id == (evidence_id if want == 404 else None)


@pytest.mark.parametrize("key", [k for k, c in CALLS.items() if c.public], ids=label)
def test_the_health_check_and_the_api_documentation_need_no_sign_in(world: World, ctx: Ctx, key: Key) -> None:
    path, kwargs = CALLS[key].make(ctx, A)
    for username in [None] + [u for u, _, _ in USERS]:
        r = world.client(username).request(key[0], API + path, **kwargs)
        assert r.status_code == expected(ROLES[0], key, None) == 200, (username, r.status_code, r.text[:200])


@pytest.mark.parametrize("key", [k for k, c in CALLS.items() if not c.public], ids=label)
def test_every_users_route_refuses_no_token_and_a_station_token(world: World, ctx: Ctx, key: Key) -> None:
    station_token = stations.add_station(world.archive, station_id="st-rbac")
    # the token is a live station token: the station's door takes it (an unknown upload, not a refusal)
    door = world.client().get(f"{API}/intake/uploads/none", headers={"Authorization": f"Bearer {station_token}"})
    assert door.status_code == 404, door.text
    path, kwargs = CALLS[key].make(ctx, A)
    since = world.last_seq()
    for headers in ({}, {"Authorization": f"Bearer {station_token}"}):
        r = world.client().request(key[0], API + path, **{**kwargs, "headers": {**kwargs.get("headers", {}),
                                                                                   **headers}})
        assert r.status_code == 401, (headers, r.status_code, r.text[:200])
        assert r.json()["code"] == "auth_failed" and r.headers["www-authenticate"] == "Bearer"
    assert [e.action for e in world.events_since(since)] == []


@pytest.mark.parametrize("key", sorted(INTAKE_ROUTES), ids=label)
def test_the_station_door_refuses_every_users_token(world: World, key: Key) -> None:
    method, path = key
    path = path.replace("{upload_id}", "u1")
    body: dict[str, Any] = {"json": {}}
    if method == "PATCH":
        body = {"content": b"x", "headers": {"Upload-Offset": "0"}}
    elif method in ("GET", "HEAD"):
        body = {}
    for username, _, _ in USERS:
        c = world.client(username)
        r = c.request(method, API + path, **body)
        assert r.status_code == 401, (username, r.status_code, r.text[:200])
        if method != "HEAD":
            assert r.json()["code"] == "token_refused"


# ---------------------------------------------------------------------------- the table covers the API


def test_the_table_lists_every_route_of_the_api_and_nothing_else(world: World) -> None:
    """A new route fails here until its row is added to EXPECTED_TABLE (and CALLS)."""
    routes = app_routes(world)
    assert routes - INTAKE_ROUTES - LINK_ROUTES - set(EXPECTED) == set(), "routes of the app missing from EXPECTED_TABLE"
    assert set(EXPECTED) - routes == set(), "rows of EXPECTED_TABLE that the app does not have"
    assert INTAKE_ROUTES <= routes
    assert set(CALLS) == set(EXPECTED)
    # and the published document lists no operation the table does not
    doc = world.client().get(f"{API}/openapi.json").json()
    published = {(m.upper(), p[len(API):]) for p, ops in doc["paths"].items() for m in ops}

    def bare(keys: set[Key]) -> set[Key]:  # "{tag:path}" is "{tag}" in the document
        return {(m, re.sub(r"\{(\w+):\w+\}", r"{\1}", p)) for m, p in keys}

    listed = bare(set(EXPECTED) | INTAKE_ROUTES | LINK_ROUTES)
    assert published and published <= listed, published - listed
    assert bare({k for k in EXPECTED if not CALLS[k].public}) <= published


def test_the_table_is_well_formed() -> None:
    # (auth.policy only to check that the table has a column for every role the code knows)
    from auth import policy

    assert set(ROLES) == set(policy.ROLES)
    for key, cells in EXPECTED.items():
        call = CALLS[key]
        for role, cell in cells.items():
            if call.target is None:
                assert len(cell) == 1, (key, role)
            else:
                # a role refusal is one 403 for both; else own is 2xx and foreign is hidden or refused (a roster
                # target: another unit is refused, another unit's officer hidden like a missing one, issue #10)
                assert cell == (403,) or (len(cell) == 2 and 200 <= cell[0] < 300
                                          and cell[1] in ((404,) if call.target != "roster" else (403, 404))), (key, role)
            if call.public or call.permission is None:
                assert all(200 <= s < 300 for s in cell), (key, role)
    # every role is allowed somewhere and refused somewhere
    for role in ROLES:
        outcomes = {min(EXPECTED[k][role]) < 300 for k, c in CALLS.items() if not c.public}
        assert outcomes == {True, False}, role


def permissions_named_in(*modules: object) -> set[str]:
    """Every action of the permission table that the source of ``modules`` names."""
    from auth import policy

    text = "".join(inspect.getsource(m) for m in modules)  # type: ignore[arg-type]
    return {a for a in re.findall(r'"([a-z_]+\.[a-z_]+)"', text) if a in policy.ACTIONS}


# permissions that shape what is shown and never refuse: parties masked without it (test_privacy_api.py)
VIEW_ONLY = {"cases.personal_data"}


def test_every_permission_the_api_checks_is_exercised_by_the_table() -> None:
    from api import (
        access,
        audit,
        cases,
        disposals,
        dock,
        evidence,
        exports,
        holds,
        jobs,
        links,
        me,
        officers,
        publication,
        publication_figures,
        publication_powers,
        recorders,
        redaction,
        retention,
        review,
    )

    named = {c.permission for c in CALLS.values()} | {p for c in CALLS.values() for p in c.named_by_role.values()}
    checked = permissions_named_in(evidence, dock, cases, me, officers, recorders, jobs, audit, access, links,
                                   disposals, holds, retention, review, exports, publication, redaction,
                                   publication_figures, publication_powers)
    assert checked - VIEW_ONLY <= named - {None}


# ---------------------------------------------------------------------------- hidden like missing


def hidden_cells() -> Iterator[Any]:
    for key, call in CALLS.items():
        if call.target not in ("evidence", "case", "disposal", "round", "notice", "publication", "powers", "redaction_plan",
                               "redaction_render"):
            continue
        role = next(r for r in ROLES if EXPECTED[key][r][-1] == 404)  # the first role that may, in its units
        marks = []
        if key in HIDDEN_DIFFERS:
            marks.append(pytest.mark.xfail(strict=True, reason=HIDDEN_DIFFERS[key]))
        yield pytest.param(key, role, marks=marks, id=f"{role}-{label(key)}")


# (Foreign steps, links and text records named the case that holds them, issue #10: they answer like
# missing ones now, so nothing here is marked xfail.)
HIDDEN_DIFFERS: dict[Key, str] = {}


@pytest.mark.parametrize(("key", "role"), list(hidden_cells()))
def test_another_units_evidence_or_case_answers_exactly_like_one_that_does_not_exist(
        world: World, ctx: Ctx, key: Key, role: str) -> None:
    """The README: outside a user's units answers exactly like what does not exist (status, code,
    and the sentence, but for the number asked for)."""
    client = world.client(user_of(role))
    answers = []
    for unit in (B, MISSING):
        path, kwargs = CALLS[key].make(ctx, unit)
        r = client.request(key[0], API + path, **kwargs)
        # the first id in the path, else in the body (POST /holds names its evidence in the body)
        asked = (re.search(r"\d+", path) or re.search(r"\d+", json.dumps(kwargs.get("json", {})))).group()  # type: ignore[union-attr]
        answers.append((r.status_code, r.json()["code"], re.sub(rf"(?<!\d){asked}(?!\d)", "N", r.json()["detail"])))
    assert answers[0] == answers[1]
    assert answers[0][0] == 404


# ---------------------------------------------------------------------------- refusals change nothing


def test_a_refused_request_changes_nothing(world: World, ctx: Ctx) -> None:
    """Refused writes (a foreign unit's evidence or case, or a role without the permission) leave the
    evidence and the case as they were: no mark, tag, note, step or record, the case open, and no
    custody event but the refusal."""
    lisi, own = world.evidence["lisi"], world.evidence["zhangsan_2"]
    a_case, b_case = ctx.case(A).case_id, ctx.case(B).case_id
    attempts = [(user_of("operator"), "PUT", f"/evidence/{lisi}/important", {"important": True}),
                (user_of("investigator"), "POST", f"/evidence/{lisi}/tags", {"tag": "越权"}),
                (user_of("investigator"), "POST", f"/evidence/{lisi}/notes", {"text": "越权"}),
                (user_of("auditor"), "POST", f"/evidence/{own}/tags", {"tag": "越权"}),
                (user_of("admin"), "POST", f"/evidence/{own}/notes", {"text": "越权"}),
                (user_of("investigator"), "PUT", f"/evidence/{own}/important", {"important": True}),
                (user_of("legal_reviewer"), "POST", f"/cases/{a_case}/steps", STEP),
                (user_of("legal_reviewer"), "POST", f"/cases/{a_case}/close", None),
                (user_of("auditor"), "POST", f"/cases/{a_case}/forms", {"kind": "越权", "fields": {"x": "越权"}}),
                (user_of("investigator"), "POST", f"/cases/{b_case}/steps", STEP),
                (user_of("investigator"), "POST", f"/cases/{b_case}/close", None)]
    city = world.client(user_of("investigator", "city"))
    cases_before = {c: city.get(f"{API}/cases/{c}").json() for c in (a_case, b_case)}
    since = world.last_seq()
    for username, method, path, body in attempts:
        assert world.client(username).request(method, API + path, json=body).status_code in (403, 404), path
    assert [e.action for e in world.events_since(since)] == ["access_denied"] * len(attempts)
    for eid in (lisi, own):
        r = city.get(f"{API}/evidence/{eid}")
        assert r.status_code == 200, r.text
        record = r.json()
        assert "越权" not in record["tags"] and all(n["text"] != "越权" for n in record["notes"])
        assert record["important"] is False
    for c, was in cases_before.items():
        now = city.get(f"{API}/cases/{c}").json()
        assert now["status"] == was["status"] == "open"
        assert [s["step_id"] for s in now["steps"]] == [s["step_id"] for s in was["steps"]] != []
        assert [x["record_id"] for x in now["records"]] == [x["record_id"] for x in was["records"]] != []


def test_an_administrator_cannot_issue_a_token_for_an_account_that_sees_evidence(world: World, ctx: Ctx) -> None:
    """Separation of duties: a token for an investigator made by the administrator would let them play
    and take footage unnoticed; refused (403, logged), and nothing is issued."""
    target = ctx.fresh_user(A)
    admin = user_of("admin")
    before = denials(world, admin)
    r = world.client(admin).post(f"{API}/users/{target}/tokens", json={"name": "越权"})
    assert r.status_code == 403 and "evidence" in r.json()["detail"], r.text
    assert len(denials(world, admin)) == len(before) + 1
    assert world.client(admin).get(f"{API}/users/{target}/tokens").json() == []
