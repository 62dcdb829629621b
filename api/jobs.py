"""``/api/v1/jobs``: the media jobs of evidence of the user's units, and their progress.

An administrator, who sees no evidence, gets the jobs' kinds and states without evidence ids,
file names or error texts (which name the recording).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from api import access
from api.access import CurrentUser
from api.deps import ArchiveDep, StrictQuery
from api.errors import request_lang
from api.schemas import ERRORS
from archive import views
from liuhen.errors import as_said
from liuhen.words import said

router = APIRouter(responses={**ERRORS}, dependencies=[StrictQuery])


class JobOut(BaseModel):
    job_id: int
    kind: str
    evidence_id: int | None
    file_name: str | None
    state: str
    progress: float
    note: str | None
    attempts: int
    last_error: str | None  # as recorded (both languages, "中文 / English")
    error: str | None  # the same in the request's language (Accept-Language; the console's choice)


_HIDDEN = said("（错误信息中含有录像名称；有权查看证据的用户可以看到）",
               "(the error names the recording; a user who may see evidence can read it)")


def _error(last_error: str | None, sees: bool, lang: str) -> tuple[str | None, str | None]:
    """``last_error`` as recorded and in ``lang``; hidden from a user who sees no evidence."""
    if last_error is None:
        return None, None
    if not sees:
        return str(_HIDDEN), _HIDDEN.in_(lang)
    return last_error, as_said(last_error).in_(lang)


@router.get("/jobs", response_model=list[JobOut], tags=["jobs"], summary="Media jobs and their progress")
def list_jobs(archive: ArchiveDep, p: CurrentUser, request: Request,
              state: Literal["pending", "running", "done", "failed"] | None = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[JobOut]:
    with archive.reads.begin() as db:
        access.require(archive, db, p, "jobs.view", request)
        rows = views.job_list(db, where=p.scope.clause(), state=state, newest_first=True, limit=limit)
        sees = p.may("evidence.view")  # an administrator sees no evidence: no ids, names, or errors naming files
        lang = request_lang(request)
        out = []
        for j, e in rows:
            recorded, error = _error(j.last_error, sees, lang)
            out.append(JobOut(job_id=j.id, kind=j.kind, evidence_id=e.id if sees else None,
                              file_name=e.file_name if sees else None, state=j.state, progress=round(j.progress, 3),
                              note=j.note, attempts=j.attempts, last_error=recorded, error=error))
        return out
