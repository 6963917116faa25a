"""guardfn-gemini: Google Gemini as a guardfn provider, through the ``google-genai`` SDK.

Installing the distribution registers :mod:`guardfn_gemini.provider` as the plugin
``gemini`` (entry-point group ``guardfn``); nothing else is needed::

    from guardfn import guarded_llm

    @guarded_llm(model="gemini-2.5-flash", max_tokens=256)
    def answer(user_id: str, question: str) -> str:
        return f"Answer briefly: {question}"
"""

from __future__ import annotations

__version__ = "0.1.0"
