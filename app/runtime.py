"""Opening an archive: settings in, database migrated, store and keys loaded, passed down once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from archive.context import Archive
from archive.store import LocalStore, open_store
from hashing import anchors, keys
from hashing.custody import CustodyLog
from liuhen import db
from liuhen.config import Settings
from liuhen.durable import private_umask
from publication import hooks as publication_hooks
from retention import service as retention
from review import gate as review_gate

MIGRATIONS = Path(__file__).parent / "migrations"


def upgrade(engine: Engine, *, data_key: keys.DataKey) -> None:
    """Bring the schema to the newest Alembic revision (idempotent; cheap when already there).

    Parties written in clear text before migration 0010 are sealed with ``data_key`` in the same
    transaction as the migration, so no crash leaves the schema at 0010 with clear text in it. (Here
    in the roof, not in the migration: a migration imports no live code and knows no config, and the
    key lives in ``[archive] data_key_path``.)"""
    if db.schema_version(engine) == db.SCHEMA_HEAD:
        return
    from alembic import command
    from alembic.config import Config
    from sqlalchemy.orm import Session

    from cases.service import seal_parties

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        sealed = seal_parties(Session(bind=conn), data_key)
    if sealed:
        _vacuum_parties(engine)


def _vacuum_parties(engine: Engine) -> None:
    """The clear text just sealed must not linger in freed pages (SQLite) or dead row versions
    (PostgreSQL)."""
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
    key = keys.load_or_create(settings.archive.key_path)
    data_key = keys.load_or_create_data_key(settings.archive.data_key_path)
    if migrate:
        upgrade(engine, data_key=data_key)
    store = open_store(settings)
    if isinstance(store, LocalStore):
        store.sweep_temps()
    archive = Archive(
        settings=settings,
        engine=engine,
        sessions=db.make_sessionmaker(engine),
        store=store,
        key=key,
        data_key=data_key,
        custody=CustodyLog(key, settings.archive.checkpoint_every_events,
                           settings.archive.checkpoint_every_minutes, anchors.from_settings(settings)),
    )
    # every transaction that moves a retention (a link, a case closed, a hold, ...) recomputes it before it commits
    retention.install(archive.sessions, archive.custody, settings.retention)
    archive.refuse_content = retention.destroyed_content  # what was destroyed is not stored again
    # no decision on a major case without a passing legal review of that decision (法制审核)
    review_gate.install(archive.sessions, archive.custody, settings)
    # a decision document recorded drafts its public notice (行政执法公示) in the same transaction
    publication_hooks.install(archive.sessions, archive.custody, settings, archive.data_key)
    return archive
