"""Every test starts clean: guardfn's ``guardfn_isolation`` fixture (from its pytest plugin)
removes provider keys and endpoints from the environment and puts global options and
plugin registrations back after the test."""

from __future__ import annotations

import importlib.util
import warnings

import pytest

if importlib.util.find_spec("guardfn_template") is None:  # not installed: say so once instead of failing every test
    warnings.warn("guardfn-template is not installed, its tests are not collected: pip install -e plugins/guardfn-template", stacklevel=1)
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(autouse=True)
def _clean(guardfn_isolation: None) -> None:
    """Use guardfn's isolation in every test of this plugin."""
