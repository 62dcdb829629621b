"""The errors of legal review (``api.errors`` gives each its HTTP status)."""

from liuhen.errors import LiuhenError, NotFound


class ReviewError(LiuhenError):
    code = "review"


class UnknownRound(NotFound):
    code = "unknown_review_round"


class ReviewRequired(ReviewError):
    """A decision on a major case without a passing review, or not the decision that was reviewed."""

    code = "review_required"


class ReviewConflict(ReviewError):
    """Separation of duties or qualification: this person may not review this case."""

    code = "review_conflict"


class CalendarUncovered(ReviewError):
    """A date in a year neither ``chinesecalendar`` nor ``[review.holidays]`` covers: never guessed."""

    code = "calendar_uncovered"
