"""Rows bound to the custody log: a content hash per meaningful row, carried by its custody event.

A ``Binding`` names one table's meaningful columns. ``Binding.of(row)`` hashes them: SHA-256 over
the canonical JSON of ``[table, id, value, ...]``, each value in a canonical form chosen by the
column's type (times as UTC text to the microsecond, floats as floats, bytes by their SHA-256), so
the hash of a row built in Python equals the hash of the same row read back from SQLite or
PostgreSQL. Personal columns (a party's ID number, phone, address) enter as an HMAC under a
secret only the archive key can make (a deterministic Ed25519 signature), so the hash in a
readable log cannot be used to guess them.

The service that writes or changes a row puts ``bound(...)`` into the detail of the custody event
it records in the same transaction: ``{"bound": {"evidence:12": [sha256, prints], ...}}``, where
``prints`` is 8 hex digits per column, so that ``liuhen verify`` can name which column changed.
``null`` instead of ``[sha256, prints]`` would say the row was legitimately removed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Boolean, DateTime, Float, Integer, LargeBinary, String, type_coerce
from sqlalchemy.exc import NoReferencedTableError
from sqlalchemy.types import NullType

from hashing.keys import SigningKey

DETAIL_KEY = "bound"
PRINT_HEX = 8


def personal_secret(key: SigningKey) -> bytes:
    """The HMAC key for personal columns: only the holder of the archive key can make it."""
    return hashlib.sha256(key.sign(b"liuhen binding: personal columns v1")).digest()


def _kind(coltype: Any) -> str:
    t = getattr(coltype, "impl", coltype)  # (a TypeDecorator: the type it stores as)
    if isinstance(t, Boolean):
        return "bool"
    if isinstance(t, Float):
        return "float"
    if isinstance(t, Integer):
        return "int"
    if isinstance(t, LargeBinary):
        return "bytes"
    if isinstance(t, DateTime):
        return "time"
    return "str"


def _column_type(col: Any) -> Any:
    """A column's type; a foreign key declared without one takes its target's (``units.id`` when the
    units table is not declared in this process: every ``*.id`` that is not declared here is an integer)."""
    if isinstance(col.type, NullType) and col.foreign_keys:
        fk = next(iter(col.foreign_keys))
        try:
            return fk.column.type
        except NoReferencedTableError:
            if fk.target_fullname.endswith(".id"):
                return Integer()
            raise
    return col.type


def _time(v: dt.datetime | str) -> str:
    """UTC ISO text to the microsecond. A time may also come as SQLite's stored text (a plain select
    that skips the datetime round trip): the stored form is already this text; other text is parsed as
    the column type would (text that is no time is kept as it is, so the row reads as changed)."""
    if isinstance(v, str):
        if len(v) == 32 and v[10] == "T" and v.endswith("+00:00"):
            return v
        try:
            when = dt.datetime.fromisoformat(v)
        except ValueError:
            return v
        v = when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)
    return v.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _bytes(v: bytes | str) -> str:
    # text where bytes belong (written around liuhen: SQLite keeps what it is given) hashes as its UTF-8,
    # so the row is named as changed rather than the check failing
    return "sha256:" + hashlib.sha256(v.encode() if isinstance(v, str) else bytes(v)).hexdigest()


# the canonical form of a non-NULL value of each kind (None stays None)
_CONVERT: dict[str, Callable[[Any], Any]] = {"time": _time, "float": float, "int": int, "bool": bool,
                                             "bytes": _bytes, "str": str}


def _token(kind: str, v: Any) -> Any:
    return None if v is None else _CONVERT[kind](v)


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode  # = json.dumps(...), made once


def _dump(obj: Any) -> bytes:
    return _encode(obj).encode("utf-8")


@dataclass(frozen=True)
class Binding:
    """One table's meaningful columns. ``model`` is the SQLAlchemy class; ``key`` its primary key."""

    name: str
    model: Any
    columns: tuple[str, ...]
    key: str = "id"
    personal: frozenset[str] = frozenset()
    # rows whose bound columns are all NULL need no event (a recorder seen but never assigned)
    blank_ok: bool = False
    _plan: dict[str, Any] = field(init=False, default_factory=dict, repr=False, compare=False)

    def _made(self) -> dict[str, Any]:
        """Each column's canonical form from its type, worked out on first use (a foreign key's type
        is known only once the table it points to is declared), with the positions of personal columns."""
        if "kinds" not in self._plan:
            kinds = tuple(_kind(_column_type(self.model.__table__.c[c])) for c in self.columns)
            self._plan.update(kinds=kinds, convert=[_CONVERT[k] for k in kinds],
                              personal=[i for i, c in enumerate(self.columns) if c in self.personal])
        return self._plan

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self._made()["kinds"])

    def select_columns(self, *, raw_times: bool = False) -> list[Any]:
        """The key and the bound columns, for a plain ``select``; with ``raw_times`` time columns as their
        stored text (SQLite: no datetime parsed and formatted again per value; ``tokens`` reads either)."""
        cols = [getattr(self.model, c) for c in self.columns]
        if raw_times:
            cols = [type_coerce(c, String()) if k == "time" else c for c, k in zip(cols, self.kinds)]  # noqa: B905
        return [getattr(self.model, self.key), *cols]

    def ref(self, key: Any) -> str:
        return f"{self.name}:{key}"

    def tokens(self, values: Sequence[Any], secret: bytes | None) -> list[Any]:
        if len(values) != len(self.columns):
            raise ValueError(f"{self.name}: {len(values)} values for {len(self.columns)} columns")
        plan = self._made()
        out = [None if v is None else f(v) for f, v in zip(plan["convert"], values)]  # noqa: B905 (checked)
        for i in plan["personal"]:
            if out[i] is not None:
                if secret is None:
                    raise ValueError(f"{self.name}.{self.columns[i]} is personal: its binding needs the archive "
                                     "key's secret")
                out[i] = "hmac:" + hmac.new(secret, _dump(out[i]), hashlib.sha256).hexdigest()
        return out

    def digest(self, key: Any, values: Sequence[Any], secret: bytes | None = None) -> str:
        return hashlib.sha256(_dump([self.name, str(key), *self.tokens(values, secret)])).hexdigest()

    def prints(self, values: Sequence[Any], secret: bytes | None = None) -> str:
        return "".join(hashlib.sha256(_dump(t)).hexdigest()[:PRINT_HEX] for t in self.tokens(values, secret))

    def values_of(self, row: Any) -> list[Any]:
        return [getattr(row, c) for c in self.columns]

    def entry(self, row: Any, secret: bytes | None = None) -> tuple[str, list[str]]:
        """``(ref, [sha256, prints])`` of an ORM row (flushed, so that its id and defaults are set)."""
        key = getattr(row, self.key)
        if key is None:
            raise ValueError(f"a {self.name} row must be flushed before it is bound")
        values = self.values_of(row)
        return self.ref(key), [self.digest(key, values, secret), self.prints(values, secret)]

    def changed_columns(self, values: Sequence[Any], prints: str, secret: bytes | None = None) -> list[str]:
        now = self.prints(values, secret)
        n = PRINT_HEX
        if len(prints) != len(now):
            return list(self.columns)
        return [c for i, c in enumerate(self.columns) if now[i * n:(i + 1) * n] != prints[i * n:(i + 1) * n]]


def bound(*rows: tuple[Binding, Any], secret: bytes | None = None) -> dict[str, list[str]]:
    """The ``bound`` part of an event's detail for ORM rows: ``{"evidence:12": [sha256, prints]}``."""
    return dict(b.entry(row, secret) for b, row in rows)
