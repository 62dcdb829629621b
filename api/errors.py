"""Every ``LiuhenError`` leaves the API as ``{"code", "detail"}`` with a fitting HTTP status.

``detail`` is the same sentence the CLI prints: what failed, on which file, what to do.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from archive.errors import (
    IntakeRefused,
    StationMismatch,
    StationNotEnrolled,
    StoreError,
    StoreFull,
    TokenRefused,
    UploadConflict,
)
from archive.search import BadQuery
from auth.errors import AuthFailed, Forbidden, InvalidAccount
from hashing.errors import BadSignature
from roster.service import RosterError
from ingest.manifest import ManifestInvalid
from liuhen.errors import LiuhenError, NotFound

log = logging.getLogger("liuhen.api")

class RangeNotSatisfiable(LiuhenError):
    code = "range_not_satisfiable"

    def __init__(self, size: int) -> None:
        super().__init__(f"The requested byte range is outside the file ({size} bytes).",
                         "Ask for a range within the file, or for the whole file without a Range header.")
        self.size = size


# First match wins: subclasses before their bases.
STATUS: tuple[tuple[type[LiuhenError], int], ...] = (
    (IntakeRefused, 422),  # DigestMismatch too: final for this file, the station must not resend it
    (ManifestInvalid, 422),
    (BadSignature, 422),
    (NotFound, 404),
    (TokenRefused, 401),
    (AuthFailed, 401),
    (Forbidden, 403),
    (BadQuery, 400),
    (InvalidAccount, 400),
    (RosterError, 400),
    (RangeNotSatisfiable, 416),
    (StationMismatch, 403),
    (StationNotEnrolled, 409),
    (UploadConflict, 409),
    (StoreFull, 507),
    (StoreError, 503),  # transient: the station keeps the file and retries
)


def status_of(err: LiuhenError) -> int:
    for cls, status in STATUS:
        if isinstance(err, cls):
            return status
    return 500


def _liuhen_error(request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, LiuhenError)
    status = status_of(err)
    headers: dict[str, str] = {}
    if isinstance(err, (TokenRefused, AuthFailed)):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(err, RangeNotSatisfiable):
        headers["Content-Range"] = f"bytes */{err.size}"
    if isinstance(err, UploadConflict):
        headers["Upload-Offset"] = str(err.offset)
    if status >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, err.diagnostics())
    html = getattr(request.app.state, "html_error", None)
    if html is not None and not request.url.path.startswith("/api/"):
        return html(request, err, status)  # a console page: the same sentence, as a page
    return JSONResponse(err.to_dict(), status_code=status, headers=headers)


def _invalid_request(request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, RequestValidationError)
    where = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in err.errors())
    fix = ("Upgrade the station software to match the archive's API (/api/v1/docs)."
           if request.url.path.startswith("/api/v1/intake") else
           "Correct the request as described in the API documentation (/api/v1/docs).")
    return JSONResponse({"code": "invalid_request", "detail": f"The request was not understood ({where}). {fix}"},
                        status_code=422)


def _unexpected(request: Request, err: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path, exc_info=err)
    return JSONResponse({"code": "internal",
                         "detail": "The archive hit an unexpected error; nothing was acknowledged. Retry later; "
                                   "if it repeats, the administrator finds the cause in the archive's log."},
                        status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(LiuhenError, _liuhen_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _unexpected)
