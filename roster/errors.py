from liuhen.errors import LiuhenError, NotFound


class RosterError(LiuhenError):
    code = "roster"


class OfficerExists(RosterError):
    code = "officer_exists"


class UnknownOfficer(NotFound):
    code = "unknown_officer"


class CertificateExists(RosterError):
    code = "certificate_exists"


class UnknownCertificate(NotFound):
    code = "unknown_certificate"
