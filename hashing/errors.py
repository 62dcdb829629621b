from liuhen.errors import LiuhenError


class BadSignature(LiuhenError):
    code = "bad_signature"


class ChainBroken(LiuhenError):
    code = "custody_chain_broken"


class BadProof(LiuhenError):
    code = "bad_proof"


class BadCheckpoint(LiuhenError):
    code = "bad_checkpoint"


class AnchorFailed(LiuhenError):
    code = "anchor_failed"
