from liuhen.errors import LiuhenError


class BadSignature(LiuhenError):
    code = "bad_signature"


class ChainBroken(LiuhenError):
    code = "custody_chain_broken"
