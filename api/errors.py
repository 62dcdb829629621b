"""Every ``LiuhenError`` leaves the API as ``{"code", "detail"}`` with a fitting HTTP status.

``detail`` is the same sentence the CLI prints: what failed, on which file, what to do.
"""

from __future__ import annotations

import logging
from typing import cast

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from archive.errors import (
    AnnotationRefused,
    BadQuery,
    ExportError,
    ExportFixityFailed,
    ExportNotReady,
    IntakeRefused,
    StationMismatch,
    StationNotEnrolled,
    StoreError,
    StoreFull,
    TokenRefused,
    UploadConflict,
)
from auth.errors import AlreadyExists, AuthFailed, Forbidden, InvalidAccount, LoginBusy, UnknownUnit
from cases.errors import CaseClosed, CaseError
from hashing.batch import CustodyUnavailable
from hashing.errors import BadSignature
from ingest.wire import ManifestInvalid
from liuhen.errors import LiuhenError, NotFound
from retention.errors import Destroyed, DisposalRefused, ReasonRequired, RetentionError, StoreUnavailable, UnknownClass
from retention.holds import AlreadyDestroyed, HoldReleased
from review.errors import CalendarUncovered, ReviewConflict, ReviewError, ReviewRequired
from roster.errors import CertificateExists, OfficerExists, RosterError

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
    (AnnotationRefused, 400),
    (CaseClosed, 409),
    (ReviewRequired, 409),  # a decision on a major case without a passing review of that decision (法制审核)
    (ReviewConflict, 403),  # this reviewer may not review this case (handled it; no 法律职业资格): a refusal
    (CalendarUncovered, 422),  # the deadline falls in a year the holiday calendar does not cover: never guessed
    (ReviewError, 400),
    (Destroyed, 410),  # the bytes were destroyed under the retention rules; the record stays
    (HoldReleased, 409),  # a release is final: it says when and by whom
    (AlreadyDestroyed, 409),  # a hold on evidence destroyed already: nothing left to hold
    (DisposalRefused, 409),  # not pending, or an approver who may not sign it
    (StoreUnavailable, 503),  # nothing was destroyed: the store could not be reached
    (UnknownClass, 409),  # a name the rules in force do not define (GET /api/v1/retention/rules lists them)
    (ReasonRequired, 400),
    (RetentionError, 400),
    (CaseError, 400),
    (UnknownUnit, 404),
    (AlreadyExists, 409),
    (InvalidAccount, 400),
    (OfficerExists, 409),
    (CertificateExists, 409),
    (RosterError, 400),
    (ExportFixityFailed, 409),
    (ExportNotReady, 409),  # an export job's zip before it is made, or after it failed or was removed  # the stored copy no longer matches: no retry will help (it is in the custody log)
    (ExportError, 503),
    (RangeNotSatisfiable, 416),
    (StationMismatch, 403),
    (StationNotEnrolled, 409),
    (UploadConflict, 409),
    (StoreFull, 507),
    (LoginBusy, 503),  # every password-checking worker busy: try again
    (CustodyUnavailable, 503),  # a read whose custody event could not be written is not served
    (StoreError, 503),  # transient: the station keeps the file and retries
)


def status_of(err: LiuhenError) -> int:
    for cls, status in STATUS:
        if isinstance(err, cls):
            return status
    return 500


def _liuhen_error(request: Request, err: Exception) -> Response:
    assert isinstance(err, LiuhenError)
    status = status_of(err)
    headers: dict[str, str] = {}
    if isinstance(err, (TokenRefused, AuthFailed)):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(err, (LoginBusy, CustodyUnavailable)):
        headers["Retry-After"] = "1"
    if isinstance(err, RangeNotSatisfiable):
        headers["Content-Range"] = f"bytes */{err.size}"
    if isinstance(err, UploadConflict):
        headers["Upload-Offset"] = str(err.offset)
    if status >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, err.diagnostics())
    html = getattr(request.app.state, "html_error", None)
    if html is not None and not request.url.path.startswith("/api/"):
        return cast(Response, html(request, err, status))  # a console page: the same sentence, as a page
    return JSONResponse(err.to_dict(), status_code=status, headers=headers)


def _invalid_request(request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, RequestValidationError)
    where = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in err.errors())
    fix = ("Upgrade the station software to match the archive's API (/api/v1/docs)."
           if request.url.path.startswith("/api/v1/intake") else
           "Correct the request as described in the API documentation (/api/v1/docs).")
    return JSONResponse({"code": "invalid_request", "detail": f"The request was not understood ({where}). {fix}"},
                        status_code=422)


_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 406: "not_acceptable",
               413: "too_large", 415: "unsupported_media_type"}


async def _http_error(request: Request, err: Exception) -> Response:
    """Errors raised by the framework itself (an unknown path, a method the path does not take, a body
    that cannot be read) in the same ``{"code", "detail"}`` shape as every other API error."""
    assert isinstance(err, StarletteHTTPException)
    if not request.url.path.startswith("/api/"):
        return await http_exception_handler(request, err)
    detail = err.detail if isinstance(err.detail, str) else str(err.detail)
    if err.status_code == 400 and "parsing the body" in detail:
        detail = ("The request body could not be read as JSON. Send a JSON body as described in the API "
                  "documentation (/api/v1/docs), with Content-Type: application/json.")
    elif err.status_code == 405:
        detail = (f"{request.method} is not possible on {request.url.path}. Use one of the methods in the "
                  "Allow header.")
    elif err.status_code == 404:
        detail = (f"There is nothing at {request.url.path}. Check the address against the API documentation "
                  "(/api/v1/docs).")
    return JSONResponse({"code": _HTTP_CODES.get(err.status_code, "http_error"), "detail": detail},
                        status_code=err.status_code, headers=dict(err.headers or {}))


def _unexpected(request: Request, err: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path, exc_info=err)
    return JSONResponse({"code": "internal",
                         "detail": "The archive hit an unexpected error; nothing was acknowledged. Retry later; "
                                   "if it repeats, the administrator finds the cause in the archive's log."},
                        status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(LiuhenError, _liuhen_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
