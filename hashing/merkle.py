"""A Merkle tree with RFC 9162 hashing: roots, inclusion and consistency proofs, and their checks.

leaf = SHA-256(0x00 || leaf bytes), node = SHA-256(0x01 || left || right); the tree over n leaves
splits at the largest power of two below n (RFC 9162 section 2.1). Nothing here reads a database:
a proof is built from the hashes of *complete* subtrees (``Node``: level, index — the 2**level
leaves from index * 2**level), which the caller fetches in one batch (``needed``) and passes in.
An appended leaf completes at most log2(n) such subtrees (``Frontier.append``), so storing them
costs two rows per leaf on average, and a proof reads O(log n) of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hashing.errors import BadProof
from liuhen.words import said

Node = tuple[int, int]  # (level, index): the complete subtree over leaves [index << level, (index + 1) << level)
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


@dataclass
class Frontier:
    """The right edge of a growing tree: one hash per complete subtree, largest first (a set bit of
    ``size`` each). Enough to append a leaf and to compute the root."""

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)

    def append(self, leaf: bytes) -> list[tuple[Node, bytes]]:
        """Append one leaf hash; returns every complete subtree it completes, the leaf first."""
        idx, level, h = self.size, 0, leaf
        made = [((0, idx), h)]
        while idx & 1:
            h = node_hash(self.hashes.pop(), h)
            idx >>= 1
            level += 1
            made.append(((level, idx), h))
        self.hashes.append(h)
        self.size += 1
        return made

    def push(self, leaf: bytes) -> None:
        """``append`` without listing the subtrees it completes (for recomputing a whole tree)."""
        idx, h, hashes, sha256 = self.size, leaf, self.hashes, hashlib.sha256
        while idx & 1:
            h = sha256(b"\x01" + hashes.pop() + h).digest()
            idx >>= 1
        hashes.append(h)
        self.size += 1

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        r = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            r = node_hash(h, r)
        return r


def root_of(leaves: Sequence[bytes]) -> bytes:
    """The root over the given leaf hashes."""
    f = Frontier()
    for h in leaves:
        f.append(h)
    return f.root()


def parts(a: int, b: int) -> list[Node]:
    """The complete subtrees that make up the subtree over leaves [a, b), largest first (``a`` is
    aligned as in every subtree RFC 9162's proofs name)."""
    out: list[Node] = []
    while a < b:
        size = a & -a if a else 1 << (b.bit_length() - 1)
        while a + size > b:
            size >>= 1
        level = size.bit_length() - 1
        out.append((level, a >> level))
        a += size
    return out


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose subtree hashes form PATH(index, D[0:size]) (RFC 9162 2.1.3.1), leaf end first."""
    if not 0 <= index < size:
        raise BadProof(said(f"叶子 {index} 不在 {size} 个叶子的树中", f"Leaf {index} is not in a tree of {size} leaves."), said("请查询树内的叶子。", "Ask for a leaf inside the tree."))
    out: list[tuple[int, int]] = []
    a, b = 0, size
    while b - a > 1:
        k = _split(b - a)
        if index < a + k:
            out.append((a + k, b))
            b = a + k
        else:
            out.append((a, a + k))
            a += k
    return out[::-1]


def consistency_ranges(m: int, n: int) -> list[tuple[int, int]]:
    """The leaf ranges whose subtree hashes form PROOF(m, D[0:n]) (RFC 9162 2.1.4.1)."""
    if not 0 <= m <= n:
        raise BadProof(said(f"{m} 个叶子的树不可能是 {n} 个叶子的树的前缀", f"A tree of {m} leaves cannot be a prefix of one of {n}."), said("请使 m <= n。", "Ask for m <= n."))
    if m in (0, n):
        return []
    out: list[tuple[int, int]] = []
    a, b, rest, whole = 0, n, m, True
    while True:
        if rest == b - a:
            if not whole:
                out.append((a, b))
            break
        k = _split(b - a)
        if rest <= k:
            out.append((a + k, b))
            b = a + k
        else:
            out.append((a, a + k))
            a += k
            rest -= k
            whole = False
    return out[::-1]


def needed(ranges: Sequence[tuple[int, int]]) -> set[Node]:
    """The stored subtrees a proof over these ranges reads."""
    return {p for a, b in ranges for p in parts(a, b)}


def range_hash(a: int, b: int, nodes: Mapping[Node, bytes]) -> bytes:
    """MTH(D[a:b]) from the complete subtrees that make it up."""
    hs = [nodes[p] for p in parts(a, b)]
    r = hs[-1]
    for h in reversed(hs[:-1]):
        r = node_hash(h, r)
    return r


def build(ranges: Sequence[tuple[int, int]], nodes: Mapping[Node, bytes]) -> list[bytes]:
    return [range_hash(a, b, nodes) for a, b in ranges]


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to (RFC 9162 2.1.3.2); raises BadProof on a malformed proof."""
    if not 0 <= index < size:
        raise BadProof(said(f"叶子 {index} 不在 {size} 个叶子的树中", f"Leaf {index} is not in a tree of {size} leaves."), said("请检查证明的叶子序号和树的大小。", "Check the proof's leaf index and tree size."))
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise BadProof(said("包含证明比树的深度长", "The inclusion proof is longer than the tree is deep."), said("请按伪造的证明处理。", "Treat the proof as forged."))
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise BadProof(said("包含证明比树的深度短", "The inclusion proof is shorter than the tree is deep."), said("请按伪造的证明处理。", "Treat the proof as forged."))
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Return nothing if ``leaf`` is leaf ``index`` of the tree of ``size`` with ``root``; raise BadProof otherwise."""
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise BadProof(said(f"叶子 {index} 不在根为 {root.hex()}、{size} 个叶子的树中", f"Leaf {index} is not in the tree of {size} leaves with root {root.hex()}."),
                       said("请按事件或检查点已被改动处理。", "Treat the event or the checkpoint as altered."))


def verify_consistency(m: int, n: int, root_m: bytes, root_n: bytes, proof: Sequence[bytes]) -> None:
    """Return nothing if the tree of ``m`` leaves with ``root_m`` is a prefix of the tree of ``n`` with
    ``root_n`` (RFC 9162 2.1.4.2); raise BadProof otherwise."""
    bad = BadProof(said(f"{m} 个叶子的树（根 {root_m.hex()}）不是 {n} 个叶子的树（根 {root_n.hex()}）的前缀", f"The tree of {m} leaves (root {root_m.hex()}) is not a prefix of the tree of {n} leaves "
                        f"(root {root_n.hex()})."), said("日志在较早的检查点之后被改写：请调查。", "The log was rewritten after the earlier checkpoint: investigate."))
    if not 0 <= m <= n:
        raise bad
    if m == n or m == 0:
        if proof or (m == n and root_m != root_n):
            raise bad
        return
    path = list(proof)
    if m & (m - 1) == 0:  # m is a power of two: the old root is itself a node of the path
        path.insert(0, root_m)
    if not path:
        raise bad
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise bad
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if fr != root_m or sr != root_n or sn != 0:
        raise bad
