"""A FastAPI service with a guarded endpoint.

The user comes from the ``X-User-Id`` header, so rate limits are per user; refusals map to
HTTP statuses a client can act on: ``RateLimitExceeded`` / ``BudgetExceeded`` -> 429 with
``Retry-After``, an input control's refusal (``InjectionDetected``, ``InputTooLong`` ...)
-> 400, a provider failure -> 502, any other refusal -> 422. Error bodies carry the
control and the reason only, never the prompt. The guarded function is ``async def``, so
a slow model never holds a worker thread.

    OPENAI_API_KEY=... uvicorn examples.web_service:app
    # offline: python -m guardfn.testing prints a URL; then
    # OPENAI_API_KEY=sk-fake OPENAI_BASE_URL=<URL>/v1 uvicorn examples.web_service:app
"""

from __future__ import annotations

import math

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from guardfn import GuardError, InputRejected, ProviderError, RateLimitExceeded, guarded_llm

app = FastAPI(title="guardfn example")


class Question(BaseModel):
    """The request body."""

    question: str


@guarded_llm(model="gpt-4o-mini", max_tokens=256, system="You are a support assistant.",
             limits={"requests_per_minute": 5, "tokens_per_day": 20_000})
async def answer(user_id: str, question: str) -> str:
    """Build the prompt for one support question (``user_id`` keys the limits)."""
    return f"Answer briefly: {question}"


@app.post("/ask")
async def ask(body: Question, x_user_id: str = Header(default="anonymous")) -> dict[str, str]:
    """Answer a question as the user named in the ``X-User-Id`` header."""
    return {"answer": await answer(x_user_id, body.question)}


@app.exception_handler(RateLimitExceeded)
def too_many(request: Request, exc: RateLimitExceeded) -> JSONResponse:
    """429 with Retry-After in whole seconds (at least 1)."""
    headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
    return JSONResponse(exc.to_dict() | {"limit": exc.limit}, status_code=429, headers=headers)


@app.exception_handler(InputRejected)
def bad_input(request: Request, exc: InputRejected) -> JSONResponse:
    """400: the prompt was refused by an input control."""
    return JSONResponse(exc.to_dict(), status_code=400)


@app.exception_handler(ProviderError)
def upstream(request: Request, exc: ProviderError) -> JSONResponse:
    """502: the model provider failed after retries."""
    return JSONResponse(exc.to_dict(), status_code=502)


@app.exception_handler(GuardError)
def refused(request: Request, exc: GuardError) -> JSONResponse:
    """422 for any other refusal (an output control, a configuration problem)."""
    return JSONResponse(exc.to_dict(), status_code=422)
