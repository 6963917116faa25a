"""Text that came from outside (a provider's error message) made safe to log.

Providers quote what they refused: ``"'jane.doe@example.org' is not allowed"`` or a
fragment of the prompt. :func:`scrub_untrusted` removes what could be prompt text,
personal data or a credential, and keeps the rest of the sentence (what went wrong):

* API keys: the ones given (``known``) and anything shaped like a provider key, masked to
  their last 4 characters (:func:`guardfn.keys.scrub`);
* every credential guardfn's secret scanner finds, as ``[SECRET:<kind>]``;
* quoted text (``'...'``, ``"..."``, backticks, typographic quotes) as ``'…'``;
* e-mail addresses as ``<email>``, URLs as ``<url>``, and runs of 7 or more digits
  (phone, card, account numbers) as ``<number>``.

Names or other words a provider echoes without quotes are not recognised; that is why
the raw message is kept only on an attribute documented as unsafe
(:attr:`guardfn.ProviderError.provider_message`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["scrub_untrusted"]

_QUOTED = re.compile(r"'[^'\n]{1,2000}'|\"[^\"\n]{1,2000}\"|`[^`\n]{1,2000}`|‘[^’\n]{1,2000}’|“[^”\n]{1,2000}”")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_DIGITS = re.compile(r"\+?\d(?:[\d\s().-]{5,}\d)")
MAX_CHARS = 300
"""The longest scrubbed message kept (the provider's own text can be long)."""


def _digit_run(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group(0))
    return "<number>" if digits >= 7 else match.group(0)


def scrub_untrusted(text: str, known: Iterable[str] = ()) -> str:
    """``text`` without keys, secrets, quoted text, e-mail addresses, URLs and long digit runs."""
    from guardfn.keys import scrub
    from guardfn.screening.secrets import default_scanner

    text = scrub(text, known)
    text = default_scanner().redact(text).text
    text = _QUOTED.sub("'…'", text)
    text = _URL.sub("<url>", text)
    text = _EMAIL.sub("<email>", text)
    text = _DIGITS.sub(_digit_run, text)
    return text[:MAX_CHARS]
