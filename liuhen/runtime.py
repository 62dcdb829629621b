"""The archive's runtime: settings, database, store and keys, opened once and passed down."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from archive.store import LocalStore, OriginalStore, open_store
from hashing import keys
from hashing.custody import CustodyLog
from liuhen import db
from liuhen.config import Settings


@dataclass
class Archive:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: OriginalStore
    key: keys.SigningKey
    custody: CustodyLog

    def close(self) -> None:
        self.engine.dispose()


def open_archive(settings: Settings, *, migrate: bool = True) -> Archive:
    import liuhen.models  # noqa: F401 - every table, so foreign keys across packages resolve

    engine = db.make_engine(settings.archive.database_url)
    if migrate:
        db.upgrade(engine)
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
