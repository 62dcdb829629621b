"""Dependencies shared by the routers: the archive the app was created with."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from liuhen.runtime import Archive


def get_archive(request: Request) -> Archive:
    archive: Archive = request.app.state.archive
    return archive


ArchiveDep = Annotated[Archive, Depends(get_archive)]
