"""``guardfn.wrap``: guard the SDK client an application already has.

``client = guardfn.wrap(OpenAI(), **options)`` (also ``AsyncOpenAI``, ``Anthropic``,
``AsyncAnthropic``) runs ``chat.completions.create``, ``responses.create`` and
``messages.create`` through the same pipeline as ``@guarded_llm``, and returns the SDK's
own objects carrying the guarded answer. The modules, one job each:

* :mod:`~guardfn.wrapping.client`: ``wrap()`` and the wrapped client (other methods refused);
* :mod:`~guardfn.wrapping.requests`: a ``create()`` call's keywords, sorted into what the
  pipeline guards, what is sent as given, and what is refused;
* :mod:`~guardfn.wrapping.chat`, :mod:`~guardfn.wrapping.responses`,
  :mod:`~guardfn.wrapping.messages`: one endpoint each: its keywords, and its answer and
  stream events rebuilt in the SDK's types around the guarded text;
* :mod:`~guardfn.wrapping.frames`: the caller's client as the provider sends with it,
  noting the ids and usage of streamed events;
* :mod:`~guardfn.wrapping.streams`: the stream objects a streamed ``create()`` returns.

Importing this package imports neither SDK: they are imported when their types are built.
"""

from __future__ import annotations

from guardfn.wrapping import chat, messages, responses
from guardfn.wrapping.client import UnguardedMethod, wrap
from guardfn.wrapping.endpoint import Endpoint

ENDPOINTS: dict[str, tuple[Endpoint, ...]] = {
    "openai": (chat.ENDPOINT, responses.ENDPOINT),
    "anthropic": (messages.ENDPOINT,),
}
"""The guarded endpoints of each provider's client."""

__all__ = ["ENDPOINTS", "UnguardedMethod", "wrap"]
