"""``Archive``: what a running archive holds — settings, database, store and keys.

Opened once by the roof (``app.runtime.open_archive``) and passed down to every service; no
domain package opens one itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from archive.store import OriginalStore
from hashing import keys
from hashing.custody import CustodyLog
from liuhen.config import Settings


@dataclass
class Archive:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: OriginalStore
    key: keys.SigningKey
    custody: CustodyLog
    data_key: keys.DataKey  # seals parties' personal data in the database (hashing.keys.DataKey)

    def close(self) -> None:
        self.engine.dispose()
