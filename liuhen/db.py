"""Database: typed SQLAlchemy 2 base, engines for SQLite and PostgreSQL, the schema version.

SQLite (embedded default) runs in WAL mode and every writing transaction begins IMMEDIATE, so
that writers are serialised up front rather than failing half-way. A read transaction
(``make_read_sessionmaker``) begins DEFERRED with ``PRAGMA query_only`` on: it takes no lock that
a writer waits for, and it can never be upgraded to a write (which, in WAL, could fail with
SQLITE_BUSY half-way); on PostgreSQL it is a ``READ ONLY`` transaction. PostgreSQL (grown) uses the
server's locking (``FOR UPDATE`` / ``SKIP LOCKED``).

``synchronous=FULL`` stays: a commit returns after the write-ahead log is on disk, so a committed
custody event survives a power loss, not only a crash of the process; reads' custody events are
committed in groups (``hashing.batch``), one sync for many events, which keeps FULL affordable.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import DateTime, Engine, String, TypeDecorator, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from liuhen.durable import private_file
from liuhen.errors import ConfigError
from liuhen.words import said


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on both backends, microseconds kept.

    SQLite has no time zone type, so values are stored as ISO-8601 text there.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; liuhen stores only timezone-aware times")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
        return value

    def process_result_value(self, value: Any, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        when: dt.datetime = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return when.astimezone(dt.UTC)


class Base(DeclarativeBase):
    pass


READ = "liuhen_read"  # the execution option of a read-only engine (``read_engine``)
POOL_SIZE = 24  # connections held open: the server's request threads (app.web.REQUEST_THREADS) and workers


def make_engine(url: str, *, pool_size: int = POOL_SIZE, **kw: Any) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":  # (an in-memory database has one connection per thread)
            kw.setdefault("pool_size", pool_size)
            kw.setdefault("max_overflow", 8)
            private_file(path)  # 0600 in a 0700 folder; SQLite gives its -wal and -shm the same mode
        engine = create_engine(url, connect_args={"timeout": 60, "isolation_level": None}, **kw)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _rec: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            if conn.get_execution_options().get(READ):
                conn.exec_driver_sql("PRAGMA query_only=ON")  # a write in it fails at once, never upgrades
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("PRAGMA query_only=OFF")
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql"):
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        kw.setdefault("pool_size", pool_size)
        kw.setdefault("max_overflow", 8)
        engine = create_engine(url, pool_pre_ping=True, **kw)

        @event.listens_for(engine, "begin")
        def _begin_pg(conn: Any) -> None:
            if conn.get_execution_options().get(READ):
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")

        return engine
    raise ConfigError(said(f"数据库地址 {url!r} 既不是 SQLite 也不是 PostgreSQL", f"The database URL {url!r} is neither SQLite nor PostgreSQL."),
                      said("请将 archive.database_url 设为 sqlite:///路径 或 postgresql://用户@主机/数据库。", "Set archive.database_url to sqlite:///PATH or postgresql://USER@HOST/DB."))


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def writer_engine(engine: Engine) -> Engine:
    """A second engine on ``engine``'s database with one connection of its own (for one writer thread);
    ``engine`` itself for an in-memory SQLite database, which a second engine would not share."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "sqlite" and (engine.url.database or ":memory:") == ":memory:":
        return engine
    return make_engine(url, pool_size=1)


def read_engine(engine: Engine) -> Engine:
    """``engine`` (the same pool) whose transactions only read: no write lock is taken, none can be."""
    return engine.execution_options(**{READ: True})


def make_read_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions for the read part of a request (``read_engine``); ``is_read(db)`` tells them apart."""
    return sessionmaker(read_engine(engine), expire_on_commit=False, info={READ: True})


def is_read(db: Session) -> bool:
    return bool(db.info.get(READ))


SCHEMA_HEAD = "0018"  # the newest migration; tests/test_db.py checks it against Alembic's own head


def schema_version(engine: Engine) -> str | None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    try:
        with engine.connect() as c:
            return c.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None
