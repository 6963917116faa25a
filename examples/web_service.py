"""A FastAPI service with a guarded endpoint.

The user comes from the ``X-User-Id`` header; refusals map to HTTP statuses a client can act
on: ``RateLimitExceeded`` / ``BudgetExceeded`` -> 429 with ``Retry-After``, an input control's
refusal (``InjectionDetected``, ``InputTooLong`` ...) -> 400, a provider failure -> 502.
Error bodies carry the control and reason only, never the prompt.

    uvicorn examples.web_service:app          # needs OPENAI_API_KEY, or GUARDFN_BASE_URL to a fake
"""

from __future__ import annotations

import math

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from guardfn import (
    GuardError,
    InputRejected,
    ProviderError,
    RateLimitExceeded,
    as_user,
    guarded_llm,
)

app = FastAPI(title="guardfn example")


class Question(BaseModel):
    """The request body."""

    question: str


@guarded_llm(model="gpt-4o-mini", max_tokens=256, system="You are a support assistant.",
             limits={"requests_per_minute": 5, "tokens_per_day": 20_000})
def answer(question: str) -> str:
    """Build the prompt for one support question."""
    return f"Answer briefly: {question}"


@app.post("/ask")
def ask(body: Question, x_user_id: str = Header(default="anonymous")) -> dict[str, str]:
    """Answer a question as the user named in the ``X-User-Id`` header."""
    with as_user(x_user_id):
        return {"answer": answer(body.question)}


@app.exception_handler(RateLimitExceeded)
def too_many(request: Request, exc: RateLimitExceeded) -> JSONResponse:
    """429 with Retry-After in whole seconds."""
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
