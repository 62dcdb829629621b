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


def open_archive(settings: Settings, *, migrate: bool = True) -> Archive:
    import app.models  # noqa: F401 - every table, so foreign keys across packages resolve

    private_umask()  # what SQLite, ffmpeg and temp files create is owner-only too (liuhen.durable)

    engine = db.make_engine(settings.archive.database_url)
    if migrate:
        upgrade(engine)
    key = keys.load_or_create(settings.archive.key_path)
    store = open_store(settings)
    if isinstance(store, LocalStore):
        store.sweep_temps()
    return Archive(
        settings=settings,
        engine=engine,
        sessions=db.make_sessionmaker(engine),
        store=store,
        key=key,
        custody=CustodyLog(key, settings.archive.checkpoint_every_events,
                           settings.archive.checkpoint_every_minutes),
    )
