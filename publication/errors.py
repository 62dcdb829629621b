"""The errors of publication (``api.errors`` gives each its HTTP status by its base)."""

from liuhen.errors import LiuhenError, NotFound


class PublicationError(LiuhenError):
    code = "publication"


class UnknownNotice(NotFound):
    code = "unknown_notice"


class NoticeState(PublicationError):
    """The notice is not in a state that allows this (published twice, withdrawn before publication …)."""

    code = "notice_state"


class PersonalDataFound(PublicationError):
    """The rendered public page still holds personal data: nothing is published."""

    code = "personal_data_found"


class UnknownFiguresUnit(NotFound):
    """A unit that does not exist or is not the user's: the same answer for both."""

    code = "unknown_unit"


class FiguresNotFinal(PublicationError):
    """The annual figures of a year that has not ended yet cannot be approved."""

    code = "figures_not_final"


class UnknownPowersDocument(NotFound):
    code = "unknown_powers_document"


class PowersDocumentRefused(PublicationError):
    """An upload of a powers document that is not a PDF or plain text/Markdown, empty, or too large."""

    code = "powers_document_refused"
