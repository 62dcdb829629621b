"""Digests, signatures and the hash-chained custody log."""

from hashing.digest import Digest

__all__ = ["Digest"]
