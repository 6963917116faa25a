"""Every test starts clean: guardfn's ``guardfn_isolation`` fixture (from its pytest plugin)
removes provider keys and endpoints from the environment and puts global options and
plugin registrations back after the test."""

from __future__ import annotations

import pytest

from guardfn.testing import require_plugin

require_plugin("guardfn_template", install="pip install -e plugins/guardfn-template")


@pytest.fixture(autouse=True)
def _clean(guardfn_isolation: None) -> None:
    """Use guardfn's isolation in every test of this plugin."""
