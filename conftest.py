"""Loaded for every test of the repository (tests/ and plugins/*/tests/).

Child processes started by tests (``subprocess``, ``multiprocessing`` spawn, the fake
provider in its own process) import guardfn from this checkout, not from whatever copy
happens to be installed: the checkout is put first on ``PYTHONPATH`` for the session.
"""

from __future__ import annotations

import os
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent
os.environ["PYTHONPATH"] = os.pathsep.join([str(CHECKOUT), *filter(None, [os.environ.get("PYTHONPATH")])])
