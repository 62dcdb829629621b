"""Opening an archive: settings in, database migrated, store and keys loaded, passed down once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from archive.context import Archive
from archive.store import LocalStore, open_store
from hashing import keys
from hashing.custody import CustodyLog
from liuhen import db
from liuhen.config import Settings
from liuhen.durable import private_umask

MIGRATIONS = Path(__file__).parent / "migrations"


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent; cheap when already there)."""
    if db.schema_version(engine) == db.SCHEMA_HEAD:
        return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def seal_clear_parties(engine: Engine, data_key: keys.DataKey) -> None:
    """Seal parties written in clear text before migration 0010 (idempotent; nothing to do after).

    In the roof rather than in the migration: a migration imports no live code and knows no config,
    and sealing needs the data key from ``[archive] data_key_path``."""
    from cases.service import seal_parties

    with db.make_sessionmaker(engine).begin() as session:
        sealed = seal_parties(session, data_key)
    if sealed:  # the clear text must not linger in freed pages (SQLite) or dead row versions (PostgreSQL)
        raw = engine.raw_connection()
        try:
            if engine.dialect.name == "sqlite":
                raw.execute("VACUUM")
                raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                raw.driver_connection.autocommit = True  # type: ignore[union-attr]
                try:
                    raw.driver_connection.execute("VACUUM FULL case_parties")  # type: ignore[union-attr]
                finally:
                    raw.driver_connection.autocommit = False  # type: ignore[union-attr]
        finally:
            raw.close()


def open_archive(settings: Settings, *, migrate: bool = True) -> Archive:
    import app.models  # noqa: F401 - every table, so foreign keys across packages resolve

    private_umask()  # what SQLite, ffmpeg and temp files create is owner-only too (liuhen.durable)

    engine = db.make_engine(settings.archive.database_url)
    if migrate:
        upgrade(engine)
    key = keys.load_or_create(settings.archive.key_path)
    data_key = keys.load_or_create_data_key(settings.archive.data_key_path)
    if migrate:
        seal_clear_parties(engine, data_key)
    store = open_store(settings)
    if isinstance(store, LocalStore):
        store.sweep_temps()
    return Archive(
        settings=settings,
        engine=engine,
        sessions=db.make_sessionmaker(engine),
        store=store,
        key=key,
        data_key=data_key,
        custody=CustodyLog(key, settings.archive.checkpoint_every_events,
                           settings.archive.checkpoint_every_minutes),
    )
