from liuhen.errors import LiuhenError, NotFound


class RosterError(LiuhenError):
    code = "roster"


class OfficerExists(RosterError):
    code = "officer_exists"


class UnknownOfficer(NotFound):
    code = "unknown_officer"
