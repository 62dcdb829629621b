"""Schema: Alembic migrations on both databases, and the fast path that skips them when current."""

from __future__ import annotations

import os

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from app.runtime import MIGRATIONS, upgrade
from hashing.keys import DataKey
from liuhen import db


def test_schema_head_constant_matches_the_newest_migration():
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_current_head() == db.SCHEMA_HEAD


def test_upgrade_creates_every_table_and_is_idempotent(database_url):
    engine = db.make_engine(database_url)
    try:
        assert db.schema_version(engine) is None
        key = DataKey(os.urandom(32))
        upgrade(engine, data_key=key)
        upgrade(engine, data_key=key)
        assert db.schema_version(engine) == db.SCHEMA_HEAD
        tables = set(inspect(engine).get_table_names())
        assert {"evidence", "sightings", "stations", "custody_events", "custody_head",
                "custody_checkpoints"} <= tables
    finally:
        engine.dispose()
