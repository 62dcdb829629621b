"""``Archive``: what a running archive holds — settings, database, store and keys.

Opened once by the roof (``app.runtime.open_archive``) and passed down to every service; no
domain package opens one itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from archive.store import OriginalStore
from hashing import keys
from hashing.batch import CustodyWriter
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
    data_key: keys.DataKey  # seals parties' personal data in the database (hashing.keys.DataKey)
    # why content offered again must not be stored (its evidence was destroyed under the retention rules):
    # set by the roof (retention sits above the archive); None: nothing is refused
    refuse_content: Callable[[Session, str], str | None] | None = None
    # sessions for the read part of a request: no write lock (liuhen.db.make_read_sessionmaker)
    reads: sessionmaker[Session] = field(init=False)
    # the custody events of reads, committed in groups (hashing.batch)
    writer: CustodyWriter = field(init=False)
    _writer_engine: Engine = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.reads = db.make_read_sessionmaker(self.engine)
        # the writer's own connection, outside the pool: readers that hold every pooled connection
        # while they wait for it cannot starve it
        self._writer_engine = db.writer_engine(self.engine)
        self.writer = CustodyWriter(db.make_sessionmaker(self._writer_engine), self.custody)

    def close(self) -> None:
        self.writer.close()
        if self._writer_engine is not self.engine:
            self._writer_engine.dispose()
        self.engine.dispose()
