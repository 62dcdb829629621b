"""The errors of cases, steps, links and text records (``api.errors`` gives each its HTTP status)."""

from liuhen.errors import LiuhenError, NotFound


class CaseError(LiuhenError):
    code = "case"


class CaseClosed(CaseError):
    code = "case_closed"


class UnknownCase(NotFound):
    code = "unknown_case"


class RecordRefused(CaseError):
    code = "record_refused"
