"""A failed job's error on the jobs list (``GET /api/v1/jobs``, the console's 任务 page) in the
reader's language: ``error`` is the sentence in the request's language (the console's choice, else
Accept-Language), ``last_error`` stays as recorded (both languages)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobs.models import Job
from liuhen.db import utcnow
from liuhen.errors import LiuhenError
from liuhen.words import said
from tests.api_world import World, user_of, world_for


@pytest.fixture(scope="module", params=["sqlite"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          make_clip: Callable[..., Path]) -> Iterator[World]:
    yield from world_for(request, tmp_path_factory, make_clip)


def test_a_failed_jobs_error_reads_in_the_readers_language(world: World) -> None:
    recorded = LiuhenError(said("转码失败：文件已损坏", "Transcoding failed: the file is damaged."),
                           said("请从记录仪重新采集。", "Offload it again from the recorder.")).diagnostics()
    with world.archive.sessions.begin() as db:
        job = Job(kind="probe-words", evidence_id=world.evidence["zhangsan"], state="failed", run_after=utcnow(),
                  max_attempts=1, attempts=1, last_error=recorded)
        db.add(job)
        db.flush()
        job_id = job.id
    c = world.client(user_of("operator"))
    for lang, want, not_want in (("zh-CN", "转码失败：文件已损坏", "Transcoding"),
                                 ("en", "Transcoding failed: the file is damaged.", "转码")):
        rows = c.get("/api/v1/jobs", headers={"Accept-Language": lang}).json()
        (row,) = [r for r in rows if r["job_id"] == job_id]
        assert row["last_error"] == recorded
        assert want in row["error"] and not_want not in row["error"], row
    admin = world.client(user_of("admin"))  # sees no evidence: the error (which names files) is hidden, in words
    (row,) = [r for r in admin.get("/api/v1/jobs", headers={"Accept-Language": "zh-CN"}).json() if r["job_id"] == job_id]
    assert row["error"].startswith("（错误信息中含有录像名称") and "recording" not in row["error"]
