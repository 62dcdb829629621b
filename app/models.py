"""The table registry: every package's models imported, so that ``Base.metadata`` knows all
tables (for Alembic and for foreign keys across packages)."""

import archive.models  # noqa: F401
import auth.models  # noqa: F401
import cases.models  # noqa: F401
import hashing.models  # noqa: F401
import jobs.models  # noqa: F401
import publication.figures_models  # noqa: F401
import publication.models  # noqa: F401
import publication.powers_models  # noqa: F401
import redaction.models  # noqa: F401
import redaction.record_models  # noqa: F401
import retention.models  # noqa: F401
import review.models  # noqa: F401
import roster.models  # noqa: F401
from liuhen.db import Base

metadata = Base.metadata
