"""Where the tests find a real Redis: ``GUARDFN_TEST_REDIS`` (default ``redis://127.0.0.1:6379``).

Each test module uses its own database number on that server, so a second checkout can
run the suite at the same time against another server (``redis-server --port 6390`` and
``GUARDFN_TEST_REDIS=redis://127.0.0.1:6390``) without the two sharing counters.
"""

from __future__ import annotations

import os

REDIS_BASE = os.environ.get("GUARDFN_TEST_REDIS", "redis://127.0.0.1:6379").rstrip("/")


def redis_url(db: int) -> str:
    """The URL of database ``db`` on the test Redis server."""
    return f"{REDIS_BASE}/{db}"
