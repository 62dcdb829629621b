"""``python -m app.cli``: the same as the ``liuhen`` command."""

import sys

from app.cli import main

sys.exit(main())
