"""List prices for tests: the fake provider runs on 127.0.0.1, which guardfn prices at 0 (a
local server), so a test about costs says what the calls cost."""

from __future__ import annotations

LIST_PRICES = {"gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.00), "claude-haiku-4-5": (1.00, 5.00)}
