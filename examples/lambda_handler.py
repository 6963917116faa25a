"""An AWS Lambda handler with per-user limits in Redis (shared by every concurrent instance).

Cold start is kept small: only ``guardfn`` is imported at module level (it is light, and
neither the OpenAI SDK nor the Redis client is imported here); the decorator builds its
engine, the SDK client and the Redis connection on the first invocation and reuses them
while the instance is warm.

Environment: ``GUARDFN_STORE=redis://host:6379/0`` (every instance counts in the same
Redis), ``OPENAI_API_KEY``, optionally ``OPENAI_BASE_URL``.
"""

from __future__ import annotations

import json
import math
from typing import Any

from guardfn import GuardError, InputRejected, ProviderError, RateLimitExceeded, guarded_llm


@guarded_llm(model="gpt-4o-mini", max_tokens=200, limits={"requests_per_minute": 10, "usd_per_day": 1.0})
def summarize(user_id: str, text: str) -> str:
    """Build the prompt: a two-sentence summary of ``text``."""
    return f"Summarize in two sentences:\n{text}"


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """API Gateway proxy handler: body ``{"user_id": ..., "text": ...}``."""
    body = json.loads(event.get("body") or "{}")
    try:
        summary = summarize(str(body.get("user_id", "anonymous")), str(body.get("text", "")))
    except RateLimitExceeded as exc:
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
        return _reply(429, exc.to_dict() | {"limit": exc.limit}, headers)
    except InputRejected as exc:
        return _reply(400, exc.to_dict())
    except ProviderError as exc:
        return _reply(502, exc.to_dict())
    except GuardError as exc:
        return _reply(422, exc.to_dict())
    return _reply(200, {"summary": summary})


def _reply(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json", **(headers or {})},
            "body": json.dumps(body)}
