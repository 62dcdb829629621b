"""The archive's HTTP API: ``create_app(archive)``; OpenAPI at ``/api/v1/openapi.json``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

import liuhen
from api import (
    audit,
    cases,
    disposals,
    dock,
    errors,
    evidence,
    exports,
    holds,
    intake,
    jobs,
    links,
    me,
    officers,
    public,
    publication,
    publication_figures,
    publication_powers,
    recorders,
    redaction,
    retention,
    review,
    review_figures,
    stations,
    text_redaction,
    units,
    users,
)
from api.deps import ArchiveDep, StrictQuery
from api.errors import RequestError, request_lang
from api.limits import BodyLimit
from api.schemas import ErrorOut
from archive.context import Archive
from archive.uploads import sweep_abandoned
from liuhen.words import said

PREFIX = "/api/v1"


REQUEST_THREADS = 20  # requests served at once; the pool (liuhen.db.POOL_SIZE) holds a connection for each


@asynccontextmanager
async def _threads(_app: FastAPI) -> AsyncIterator[None]:
    import anyio.to_thread

    # one pooled connection per request thread (and some for the workers and the station), so no request
    # waits for a connection once it has a thread
    anyio.to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
    yield
    if getattr(_app.state, "owns_archive", False):  # a web process of `liuhen serve --web-processes N`
        _app.state.archive.close()


SERVE_CONFIG = "LIUHEN_SERVE_CONFIG"  # the config file a web process of `liuhen serve` opens (serve_factory)


def serve_factory() -> FastAPI:
    """The app of one web process of ``liuhen serve --web-processes N`` (uvicorn starts N processes,
    each calling this): the archive of the config file ``serve`` named (in ``LIUHEN_SERVE_CONFIG``;
    ``LIUHEN_*`` overrides are inherited), its schema already brought up to date by ``serve``, its
    own connections and custody writer; the station, the media workers and the fixity scheduler run
    in ``serve``'s own process only."""
    import os

    from app.runtime import open_archive
    from liuhen import config

    archive = open_archive(config.load(os.environ.get(SERVE_CONFIG) or None), migrate=False)
    app = create_app(archive, sweep=False)
    app.state.owns_archive = True
    return app


def create_app(archive: Archive, *, sweep: bool = True) -> FastAPI:
    app = FastAPI(title="liuhen", version=liuhen.__version__,
                  description="留痕 liuhen: evidence archive for law-enforcement body cameras.",
                  openapi_url=f"{PREFIX}/openapi.json", docs_url=f"{PREFIX}/docs", redoc_url=None,
                  lifespan=_threads)
    app.state.archive = archive
    if sweep:
        sweep_abandoned(archive)  # uploads a station left unfinished for a week (it still holds the file)
    errors.install(app)
    app.add_middleware(BodyLimit, web=archive.settings.web)  # outermost but for errors: before any body is read
    app.include_router(intake.router, prefix=f"{PREFIX}/intake")
    app.include_router(links.router, prefix=PREFIX)  # downloads: a POST for a one-time link, then one GET
    app.include_router(evidence.router, prefix=f"{PREFIX}/evidence")
    for resource in (me, dock, officers, recorders, jobs, audit, users, units, stations):  # /me, /dock, /officers, /recorders, /jobs, /audit, /users, /units, /stations
        app.include_router(resource.router, prefix=PREFIX)
    app.include_router(cases.router, prefix=f"{PREFIX}/cases")
    app.include_router(text_redaction.router, prefix=f"{PREFIX}/cases")  # 文书脱敏: /cases/records/{id}/pii, /redactions
    app.include_router(exports.router, prefix=PREFIX)  # /exports: several recordings or a case, made by a job
    app.include_router(disposals.router, prefix=f"{PREFIX}/disposals")
    app.include_router(retention.router, prefix=f"{PREFIX}/retention")
    app.include_router(holds.router, prefix=f"{PREFIX}/holds")  # legal holds (保全)
    app.include_router(redaction.router, prefix=PREFIX)  # privacy redaction: /redaction/..., /evidence/{id}/redaction
    app.include_router(review.router, prefix=PREFIX)  # legal review (法制审核): /review/..., /cases/{id}/review
    app.include_router(review_figures.router, prefix=PREFIX)  # /review/figures (法制审核统计)
    app.include_router(publication.router, prefix=PREFIX)  # /publication/notices (行政执法公示, for publishers)
    app.include_router(publication_figures.router, prefix=PREFIX)  # /publication/figures (年度行政执法数据)
    app.include_router(publication_powers.router, prefix=PREFIX)  # /publication/powers (权责清单, 事前公示)
    app.include_router(public.router)  # /public/...: the public site, no sign-in: notices, officers, powers

    from fastapi.staticfiles import StaticFiles

    from console import pages

    app.state.html_error = pages.html_error
    app.include_router(pages.router)
    from console import audit as audit_page
    from console import search as search_page

    app.include_router(search_page.router)  # 检索: /search
    app.include_router(audit_page.router)  # 审计: /audit
    from console import records

    app.include_router(records.router)  # 档案管理: retention, holds, disposal
    from console import review_figures as figures_page

    app.include_router(figures_page.router)  # 法制审核统计
    from console import publication_figures as annual_figures_page

    # 年度行政执法数据: /publication/figures, included before any /publication/{id} page so that it is not read as an id
    app.include_router(annual_figures_page.router)
    from console import exports as export_pages

    app.include_router(export_pages.router)  # 我的导出, /exports/{id}
    from console import review as review_pages

    app.include_router(review_pages.router)  # 法制审核: case block, queue, workspace, notices
    from console import admin as admin_pages

    app.include_router(admin_pages.router)  # 系统管理: users, units, officers, recorders, stations
    from console import redaction as redaction_page

    app.include_router(redaction_page.router)  # 隐私遮蔽: the redaction editor of a recording
    from console import publication_powers as powers_page

    # 权责清单与执法流程: /publication/powers, the publishers' upload form; included before any
    # /publication/{id} page (console.publication) so that it is not read as an id
    app.include_router(powers_page.router)

    from console import publication as publication_pages

    app.include_router(publication_pages.router)  # 公示: the publishers' notices, masks, publish and withdraw
    app.mount("/static", StaticFiles(directory=str(pages.HERE / "static")), name="static")

    @app.get(f"{PREFIX}/health", tags=["health"], dependencies=[StrictQuery],
             responses={422: {"model": ErrorOut, "description": "the request was not understood"},
                        503: {"model": ErrorOut, "description": "the archive cannot reach its database"}})
    def health(archive: ArchiveDep, request: Request) -> Any:
        try:
            with archive.engine.connect() as c:
                c.execute(text("SELECT 1"))
        except SQLAlchemyError as e:
            err = RequestError("database_unavailable",
                               said(f"档案库无法连接数据库：{type(e).__name__}",
                                    f"The archive cannot reach its database: {type(e).__name__}."),
                               said("请检查数据库服务器是否在运行。", "Check that the database server is running."))
            return JSONResponse(err.to_dict(request_lang(request)), status_code=503)
        return {"status": "ok", "version": liuhen.__version__}

    return app
