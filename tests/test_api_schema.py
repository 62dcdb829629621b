"""The published OpenAPI document is the truth: schemathesis generates requests from it.

Against the real app (in process, through ASGI) on a real archive built by ``tests.api_world``
(SQLite), with a valid API token, every operation is called with generated valid data and with
generated invalid data, and every check schemathesis has is applied to every answer: no 5xx,
the status code is documented, the content type is documented, the body matches the documented
schema, documented headers are present and right, invalid data is refused, valid data is
accepted, a missing required header is refused, auth is enforced (the request is re-sent
without the token and must get 401).

Left out: the station intake (``/api/v1/intake/...``), and for now the case routes (see
``LEFT_OUT``). The intake routes speak the station's own
protocol: a station's token (not a user's), an Ed25519-signed manifest whose SHA-256 must match
bytes uploaded in chunks at exact offsets, so generated requests could only ever be refused at
the first step; they are tested with a real station in ``tests/test_http_intake.py``.

(schemathesis' pytest plugin, ``schema.parametrize()`` on a fixture-loaded schema, does not run
under pytest 9.2, so each operation runs here as a Hypothesis test of its own, built from
``APIOperation.as_strategy``, the documented way to use schemathesis inside other tests.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Flaky
from schemathesis.generation import GenerationMode
from sqlalchemy import select

from hashing.models import CustodyEvent
from tests.api_world import World, user_of, world_for

MAX_EXAMPLES = 30


@pytest.fixture(scope="module", params=["sqlite"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          make_clip: Callable[..., Path]) -> Iterator[World]:
    yield from world_for(request, tmp_path_factory, make_clip)


LEFT_OUT = (
    "/api/v1/intake/",  # the station's own protocol (see above)
)
# Operations run with invalid data only: what makes their valid data valid cannot be said in OpenAPI.
# A powers document (权责清单) must be a PDF or UTF-8 plain text without HTML, by its bytes: generated
# files could only be refused (400 powers_document_refused); tests/test_publication_powers.py uploads real ones.
NEGATIVE_ONLY = {("POST", "/api/v1/publication/powers")}


def operations(world: World) -> list[schemathesis.APIOperation]:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", world.app)
    ops = [r.ok() for r in schema.get_all_operations()]
    assert ops, "the OpenAPI document lists no operations"
    return [op for op in ops if not op.path.startswith(LEFT_OUT)]


def fuzz(world: World, username: str, max_examples: int, modes: tuple[GenerationMode, ...]) -> list[str]:
    """Run every operation in ``modes``; return what failed, one entry per operation and mode.

    Generated evidence ids are mostly numbers no evidence has, so half the cases use the id of a
    real recording: one of the user's unit (张三's) and one of the other district (李四's).
    """
    headers = {"Authorization": f"Bearer {world.tokens[username]}"}
    real_ids = (world.evidence["zhangsan"], world.evidence["lisi"])
    failed: list[str] = []
    for op in operations(world):
        headers_taken = [h for h in op.headers if h.name.lower() != "authorization"]
        declared = len(op.path_parameters) + len(op.query) + len(headers_taken) + len(op.body) + len(op.cookies)
        # (an operation that takes nothing but the token, fixed here, has no invalid form to generate)
        for mode in modes if declared else (GenerationMode.POSITIVE,):
            if mode == GenerationMode.POSITIVE and (op.method.upper(), op.path) in NEGATIVE_ONLY:
                continue
            # the token is fixed in every case (never generated, never mutated away in a negative case) and
            # sent as an explicit header too, so that the auth check re-sends each request without it
            strategy = op.as_strategy(generation_mode=mode, headers=headers)
            if "evidence_id" in {p.name for p in op.path_parameters}:
                for eid in real_ids:
                    strategy |= op.as_strategy(generation_mode=mode, headers=headers,
                                               path_parameters={"evidence_id": eid})

            @given(case=strategy)
            @settings(max_examples=max_examples, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            def run(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=headers)

            try:
                try:
                    run()
                except Flaky:
                    # Hypothesis saw a failure it could not replay (the archive's state moved under it, or a
                    # slow machine): run the operation once more; a failure that holds is reported below
                    run()
            except (Exception, BaseExceptionGroup) as e:  # every operation is tried; all failures are reported
                failed.append(f"{op.label} ({mode.value}):\n{e}")
    return failed


def actions_of(world: World, username: str) -> set[str]:
    with world.archive.sessions() as db:
        return set(db.scalars(select(CustodyEvent.action).where(CustodyEvent.actor == f"user:{username}")))


def test_every_operation_answers_as_documented_for_a_records_manager(world: World) -> None:
    user = user_of("records_manager")
    failed = fuzz(world, user, MAX_EXAMPLES, (GenerationMode.POSITIVE, GenerationMode.NEGATIVE))
    assert not failed, "\n\n".join(failed)
    # the generated requests reached real evidence, not only "no such evidence"
    assert {"searched", "viewed", "played", "downloaded", "exported", "verified", "tagged",
            "noted", "access_denied"} <= actions_of(world, user)


def test_every_operation_answers_as_documented_for_an_operator(world: World) -> None:
    user = user_of("operator")
    failed = fuzz(world, user, MAX_EXAMPLES // 2, (GenerationMode.POSITIVE,))
    assert not failed, "\n\n".join(failed)
    assert {"searched", "marked_important", "recorder_assigned", "access_denied"} <= actions_of(world, user)

