"""Every ``LiuhenError`` leaves the API as ``{"code", "detail", "message"}`` with a fitting HTTP status.

``code`` is stable English; ``message`` is the sentence — what failed, on which file, what to do — in
the request's language (the ``lang`` cookie, else ``Accept-Language``, else Simplified Chinese);
``detail`` is that sentence in both languages, as it read before ``message`` existed. Outside
``/api/`` (the console's addresses) every error, the framework's own (404, 405, a form that does
not validate) included, is a page in the user's language instead (``app.state.html_error``).
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
from liuhen.words import Said, said
from publication.errors import NoticeState, PersonalDataFound, PublicationError
from redaction.errors import (
    ApprovalRefused,
    BadPlan,
    DetectorMissing,
    MasksRefused,
    PlanMismatch,
    RedactionError,
    ReleaseRefused,
    RenderNotReady,
    StalePlan,
    UnknownEncoder,
)
from retention.errors import Destroyed, DisposalRefused, ReasonRequired, RetentionError, StoreUnavailable, UnknownClass
from retention.holds import AlreadyDestroyed, HoldReleased
from review.errors import CalendarUncovered, ReviewConflict, ReviewError, ReviewRequired
from roster.errors import CertificateExists, OfficerExists, RosterError

log = logging.getLogger("liuhen.api")

class RangeNotSatisfiable(LiuhenError):
    code = "range_not_satisfiable"

    def __init__(self, size: int) -> None:
        super().__init__(said(f"请求的字节范围超出文件大小（{size} 字节）", f"The requested byte range is outside the file ({size} bytes)."),
                         said("请在文件范围内请求，或不带 Range 头请求整个文件。",
                              "Ask for a range within the file, or for the whole file without a Range header."))
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
    (NoticeState, 409),  # not a draft (mask, publish) or not published (withdraw)
    (PersonalDataFound, 422),  # the public page still holds personal data: nothing published
    (PublicationError, 400),
    (StalePlan, 409),  # an edit on an older version than the latest: reload, then edit again
    (ReleaseRefused, 409),  # a redacted copy of a version no second person approved (redaction_not_approved)
    (ApprovalRefused, 409),  # four eyes: the approver made or changed the version; tracks still undecided
    (RenderNotReady, 409),  # the render's job has not finished, or failed
    (PlanMismatch, 422),  # a plan for another original
    (BadPlan, 422),
    (DetectorMissing, 503),  # the face model or onnxruntime is not installed
    (UnknownEncoder, 422),
    (MasksRefused, 422),  # a detected ID number, mobile or bank card left unmasked; a span outside its field
    (RedactionError, 400),
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


LANGS = ("zh", "en")


def request_lang(request: Request) -> str:
    """The language an API answer speaks: the ``lang`` cookie (the console's 中文/English switch), else
    the first of Chinese or English in ``Accept-Language`` by preference, else Simplified Chinese."""
    cookie = request.cookies.get("lang")
    if cookie in LANGS:
        return cookie
    best: tuple[float, int, str] | None = None
    for i, part in enumerate(request.headers.get("accept-language", "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGS:
            continue
        q = 1.0
        for param in params.split(";"):
            k, _, v = param.strip().partition("=")
            if k.strip() == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        if q > 0 and (best is None or (q, -i) > best[:2]):
            best = (q, -i, primary)
    return best[2] if best else "zh"


class RequestError(LiuhenError):
    """An error the web framework found before any of liuhen's code ran (no such address, a method the
    address does not take, a body or form that does not validate), in the same shape as every other."""

    def __init__(self, code: str, detail: Said, action: Said) -> None:
        super().__init__(detail, action)
        self.code = code


def _console(request: Request) -> bool:
    return getattr(request.app.state, "html_error", None) is not None and not request.url.path.startswith("/api/")


def _answer(request: Request, err: LiuhenError, status: int, headers: dict[str, str] | None = None) -> Response:
    """A page in the user's language on a console address; ``{"code", "detail", "message"}`` under /api/."""
    if _console(request):
        resp = cast(Response, request.app.state.html_error(request, err, status))
        if status == 405 and headers and "allow" in {k.lower() for k in headers}:
            resp.headers.update(headers)
        return resp
    return JSONResponse(err.to_dict(request_lang(request)), status_code=status, headers=headers)


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
    if _console(request):
        return cast(Response, request.app.state.html_error(request, err, status))  # the same sentence, as a page
    return JSONResponse(err.to_dict(request_lang(request)), status_code=status, headers=headers)


def _invalid_request(request: Request, err: Exception) -> Response:
    assert isinstance(err, RequestValidationError)
    where = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in err.errors())
    if _console(request):
        fields = "、".join(dict.fromkeys(str(e.get("loc", ("",))[-1]) for e in err.errors()))
        return _answer(request, RequestError(
            "invalid_request",
            said(f"填写的内容有误（{fields}）", f"Something on the form or in the address is not valid ({fields})."),
            said("请返回上一页，检查填写的内容后重新提交。", "Go back, check what you entered and submit it again.")), 422)
    if request.url.path.startswith("/api/v1/intake"):
        fix = said("请将采集站软件升级到与档案库 API 一致的版本（/api/v1/docs）。",
                   "Upgrade the station software to match the archive's API (/api/v1/docs).")
    else:
        fix = said("请按 API 文档（/api/v1/docs）更正请求。",
                   "Correct the request as described in the API documentation (/api/v1/docs).")
    return _answer(request, RequestError("invalid_request", said(f"无法理解该请求（{where}）",
                                                                 f"The request was not understood ({where})."), fix), 422)


_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 406: "not_acceptable",
               413: "too_large", 415: "unsupported_media_type"}


def _framework_error(request: Request, err: StarletteHTTPException) -> RequestError:
    code = _HTTP_CODES.get(err.status_code, "http_error")
    path, method = request.url.path, request.method
    if _console(request):
        if err.status_code == 404:
            return RequestError(code, said(f"这个地址没有页面：{path}", f"There is no page at {path}."),
                                said("请核对地址，或从检索页查找。", "Check the address, or look for it from the search page."))
        if err.status_code == 405:
            return RequestError(code, said(f"这个页面不能这样打开：{path}", f"{path} cannot be opened this way ({method})."),
                                said("请从页面上的按钮或链接操作，不要直接输入或收藏该地址。",
                                     "Use the buttons and links on the pages rather than typing or bookmarking this address."))
    detail = err.detail if isinstance(err.detail, str) else str(err.detail)
    if err.status_code == 400 and "parsing the body" in detail:
        return RequestError(code, said("无法将请求正文读作 JSON", "The request body could not be read as JSON."),
                            said("请按 API 文档（/api/v1/docs）发送 JSON 正文，并设置 Content-Type: application/json。",
                                 "Send a JSON body as described in the API documentation (/api/v1/docs), with "
                                 "Content-Type: application/json."))
    if err.status_code == 405:
        return RequestError(code, said(f"{path} 不支持 {method} 方法", f"{method} is not possible on {path}."),
                            said("请使用 Allow 头列出的方法。", "Use one of the methods in the Allow header."))
    if err.status_code == 404:
        return RequestError(code, said(f"{path} 没有内容", f"There is nothing at {path}."),
                            said("请对照 API 文档（/api/v1/docs）核对地址。",
                                 "Check the address against the API documentation (/api/v1/docs)."))
    return RequestError(code, said(f"请求未能完成（HTTP {err.status_code}）：{detail}",
                                   f"The request could not be carried out (HTTP {err.status_code}): {detail}"),
                        said("", ""))


async def _http_error(request: Request, err: Exception) -> Response:
    """Errors raised by the framework itself (an unknown path, a method the path does not take, a body
    that cannot be read): under /api/ in the same ``{"code", "detail", "message"}`` shape as every other
    API error, elsewhere a console page; a response without a body (304) stays as the framework sends it."""
    assert isinstance(err, StarletteHTTPException)
    if err.status_code < 400:
        return await http_exception_handler(request, err)
    return _answer(request, _framework_error(request, err), err.status_code, dict(err.headers or {}))


def _unexpected(request: Request, err: Exception) -> Response:
    log.exception("%s %s failed", request.method, request.url.path, exc_info=err)
    return _answer(request, RequestError(
        "internal", said("档案库发生意外错误，本次操作未被确认", "The archive hit an unexpected error; nothing was acknowledged."),
        said("请稍后重试；如反复出现，请管理员查看档案库日志找出原因。",
             "Retry later; if it repeats, the administrator finds the cause in the archive's log.")), 500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(LiuhenError, _liuhen_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
