"""The console page 权责清单与执法流程 (``/publication/powers``): the user's units' powers and procedures
documents, every version (the current one and its history), and for a publisher the form that
uploads a document or its next version (``publication.powers.upload``, the same as ``POST
/api/v1/publication/powers``: a PDF or UTF-8 plain text/Markdown without HTML, at most 20 MiB).

For ``publication.view`` to read, ``publication.publish`` to upload; the form carries the session's
csrf token; every refusal is an ``access_denied`` event like every console refusal."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from api import access
from api.deps import ArchiveDep
from console.pages import _user, render
from console.records import _form_user
from liuhen.words import said
from publication import powers
from publication.errors import PowersDocumentRefused
from publication.powers_models import KINDS

router = APIRouter(include_in_schema=False)
KIND_WORDS = dict(zip(KINDS, ("powers", "procedure", "guide", "other"), strict=True))  # pp.kind.<word>


@router.get("/publication/powers")
def powers_page(request: Request, archive: ArchiveDep, done: str | None = None) -> Response:
    p = _user(archive, request)
    with archive.reads.begin() as db:
        access.require(archive, db, p, "publication.view", request)
        units = access.visible_unit_rows(db, p)
        names = {u.id: u.name for u in units}
        rows = powers.documents_of(db, units=p.scope.units)
        newest = powers.current_versions(db, {d.unit_id for d in rows})
        docs = [{**powers.to_dict(d, unit_name=names.get(d.unit_id, ""),
                                  current=d.version == newest[(d.unit_id, d.title)]), "uploaded_at": d.uploaded_at}
                for d in rows]
    return render(request, "publication_powers.html", user=p, docs=docs, units=units, kinds=KIND_WORDS,
                  done=done if done == "uploaded" else None)


@router.post("/publication/powers")
async def powers_upload(request: Request, archive: ArchiveDep) -> Response:
    """The body is bounded by ``api.limits`` (``[web] max_record_mb``) before it is read; the file is
    taken only once the form's csrf token and the user's permission are checked."""
    from fastapi.concurrency import run_in_threadpool

    form = await request.form(max_files=1, max_fields=6)
    try:
        csrf, file = str(form.get("csrf") or ""), form.get("file")
        p = await run_in_threadpool(_form_user, archive, request, csrf, "publication.publish")
        if not isinstance(file, UploadFile) or not file.filename:
            raise PowersDocumentRefused(said("没有选择文件", "No file was chosen."),
                                        said("请选择要公示的 PDF 或纯文本文件。", "Choose the PDF or plain-text document."))
        name = os.path.basename(file.filename) or "document"
        if file.size is not None:
            powers.check_size(name, file.size)
        data = await file.read(powers.MAX_BYTES + 1)
        fields = {k: str(form.get(k) or "") for k in ("title", "kind", "unit_code", "note")}
    finally:
        await form.close()

    def store() -> None:
        with archive.sessions.begin() as db:
            unit_id = (access.own_unit(archive, db, p, "publication.publish", fields["unit_code"], request).id
                       if fields["unit_code"] else p.unit_id)
            powers.upload(db, archive.custody, unit_id=unit_id, title=fields["title"], kind=fields["kind"],
                          file_name=name, data=data, actor=p.actor, note=fields["note"][:2000])

    await run_in_threadpool(store)
    return RedirectResponse("/publication/powers?done=uploaded", status_code=303)
