"""The job queue's errors."""

from liuhen.errors import LiuhenError


class LeaseLost(LiuhenError):
    code = "lease_lost"
