"""Secret detection: credentials pasted into a prompt (or written into a file).

``find_secrets(text)`` returns the spans of credentials with a *kind* name and never
keeps their values anywhere else; ``redact_secrets(text)`` replaces each with
``[SECRET:<kind>]``. Kinds: ``openai``, ``anthropic``, ``aws_access_key``,
``aws_secret_key``, ``github``, ``gitlab``, ``slack``, ``stripe``, ``huggingface``, ``google_api_key``,
``private_key``, ``jwt``, ``password`` and ``generic_secret`` (a high-entropy value
assigned to a key / secret / token name). Plugins add detectors through the
``guardfn_secret_detectors`` hook.

Every detector is an RE2 pattern (linear time, no backtracking); when a detector has a
group named ``secret`` only that group is the secret (``password=`` keeps its name).
Obvious placeholders (``sk-xxxx...``, ``<your-key>``, ``${TOKEN}``, ``AKIA...EXAMPLE``)
are ignored. A :class:`SecretScanner` works on any text, so file scanners reuse it:
spans are offsets into the text given.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import re2

from guardfn.screening.gates import JoinedGate


@dataclass(frozen=True)
class Detector:
    """One kind of secret: an RE2 ``pattern`` (the secret is its ``secret`` group if it
    has one, else the whole match), an optional minimum Shannon entropy (bits per
    character) of the secret, and an optional extra check on the secret's value."""

    kind: str
    pattern: str
    description: str = ""
    min_entropy: float = 0.0
    validate: Callable[[str], bool] | None = None


@dataclass(frozen=True)
class SecretMatch:
    """Where a secret is: ``text[start:end]``; ``kind`` names the detector. No value."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class Redaction:
    """A redacted text and how many secrets of each kind were replaced."""

    text: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        """How many secrets were replaced."""
        return sum(self.counts.values())


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value`` under its own character frequencies."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


_PLACEHOLDER_WORDS = (
    "example", "xxxx", "****", "....", "your_", "your-", "yourkey", "placeholder", "dummy", "sample", "redacted",
    "<", ">", "${", "{{", "%(", "$(", "insert_", "replace_", "changeme", "foobar",
)


def is_placeholder(value: str) -> bool:
    """Whether ``value`` looks like a placeholder rather than a real credential."""
    lowered = value.lower()
    if any(word in lowered for word in _PLACEHOLDER_WORDS):
        return True
    body = value[-24:] if len(value) > 24 else value
    return len(set(body)) <= max(3, len(body) // 5)


def _has_letters_and_digits(value: str) -> bool:
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def _password_like(value: str) -> bool:
    """A password value: not a variable reference or a bare word of one case."""
    lowered = value.lower().strip("\"'`")
    if lowered in {"null", "none", "true", "false", "nil", "undefined", "password", "passwd", "secret", "required",
                   "optional", "string", "str", "env", "empty", "blank", "hidden", "masked"}:
        return False
    if lowered.startswith(("os.", "process.", "env.", "self.", "this.", "config.", "settings.", "getenv", "$", "%",
                           "@", "{", "<", "[", "(", "*")):
        return False
    # a bare word of one case ("strong", "SECRET") is prose, not a password
    return not (value.isalpha() and (value.islower() or value.isupper()) and len(value) < 12)


def _generic_value(value: str) -> bool:
    return _has_letters_and_digits(value) and not value.lower().startswith(("http", "www.", "os.", "process."))


# The name of a credential in an assignment: password, api_key, client-secret, TOKEN ...
_KEYWORD = r"(?:api[_-]?key|apikey|secret|token|passwd|password|credential|auth|bearer|access[_-]?key|private[_-]?key)"
_ASSIGN = r"[\"'`]?\s*(?:=|:|:=|=>|->|\bis\b|\bto\b)\s*[\"'`]?"

DETECTORS: tuple[Detector, ...] = (
    Detector(
        "private_key",
        r"-----BEGIN[A-Z0-9 _-]{0,40}PRIVATE KEY(?: BLOCK)?-----(?s:.){16,}?-----END[A-Z0-9 _-]{0,40}PRIVATE KEY"
        r"(?: BLOCK)?-----|-----BEGIN[A-Z0-9 _-]{0,40}PRIVATE KEY(?: BLOCK)?-----[A-Za-z0-9+/=\s\\\"']{40,}",
        "a PEM private key block (RSA, EC, OpenSSH, PGP, PKCS#8), whole or truncated",
    ),
    Detector(
        "anthropic",
        r"\bsk-ant-(?:api|admin|sid|oat)\d{2}-[A-Za-z0-9_-]{20,}|\bsk-ant-[A-Za-z0-9_-]{32,}",
        "Anthropic API and admin keys (sk-ant-api03-..., sk-ant-admin01-...)",
    ),
    Detector(
        "openai",
        r"\bsk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}|\bsk-[A-Za-z0-9_-]{16,}T3BlbkFJ[A-Za-z0-9_-]{16,}"
        r"|\bsk-[A-Za-z0-9]{32,}\b",
        "OpenAI keys: sk-proj-, sk-svcacct-, sk-admin- and legacy sk- keys",
    ),
    Detector(
        "aws_access_key",
        r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z2-7]{16}\b",
        "AWS access key ids (AKIA..., ASIA...)",
    ),
    Detector(
        "aws_secret_key",
        r"(?i)(?:aws|amazon)?[\w.-]{0,24}(?:secret|sk)[\w.-]{0,24}" + _ASSIGN
        + r"(?P<secret>[A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)",
        "AWS secret access keys (40 characters) assigned to a secret name",
        min_entropy=3.5,
    ),
    Detector(
        "github",
        r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}\b|\bgithub_pat_[A-Za-z0-9_]{50,255}\b",
        "GitHub personal, OAuth, app and refresh tokens; fine-grained PATs",
    ),
    Detector(
        "gitlab",
        r"\bgl(?:pat|dt|ptt|rt|soat|cbt|ffct|imt|agent|oas|ft|wt)-[A-Za-z0-9_.-]{20,}|\bGR1348941[A-Za-z0-9_-]{20,}",
        "GitLab personal, deploy, pipeline-trigger, runner and other tokens",
    ),
    Detector(
        "slack",
        r"\bxoxb-\d{8,14}-\d{8,14}-?[A-Za-z0-9-]*|\bxoxb-\d{8,14}-[A-Za-z0-9]{18,26}\b"
        r"|\bxox[pe](?:-\d{8,14}){3}-[A-Za-z0-9-]{28,34}\b|\bxox[os]-\d+-\d+-\d+-[A-Fa-f0-9]+\b"
        r"|\bxox[ar]-(?:\d-)?[0-9A-Za-z]{8,48}\b|\bxoxe(?:\.xox[bp])?-\d-[A-Za-z0-9]{40,}"
        r"|\bxapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+"
        r"|https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{20,}",
        "Slack bot, user, app and configuration tokens; incoming webhooks",
    ),
    Detector(
        "stripe",
        r"\b(?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{10,247}\b|\bwhsec_[A-Za-z0-9]{24,}\b",
        "Stripe secret and restricted keys, webhook signing secrets",
    ),
    Detector(
        "huggingface",
        r"\bhf_[A-Za-z]{34,40}\b|\bapi_org_[A-Za-z]{34}\b",
        "Hugging Face access and organization tokens",
    ),
    Detector(
        "google_api_key",
        r"\bAIza[0-9A-Za-z_-]{35}",
        "Google API keys (AIza...)",
    ),
    Detector(
        "jwt",
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*)?",
        "JSON Web Tokens (header.payload.signature; unsigned ones too)",
    ),
    Detector(
        "password",
        r"(?i)\b(?:[a-z0-9]+[_.-])*(?:password|passwd|pwd|passphrase|pass|pgpassword)\b" + _ASSIGN
        + r"(?P<secret>[^\s\"'`,;]{4,128})"
        r"|(?i)\b[a-z][a-z0-9+.-]{1,20}://[^\s:/@]{1,64}:(?P<secret2>[^\s:/@]{3,128})@[^\s/@]{2,255}",
        "password assignments (password=..., my password is ...) and passwords in connection URLs",
        validate=_password_like,
    ),
    Detector(
        "generic_secret",
        r"(?i)" + _KEYWORD + r"[\w.-]{0,25}" + _ASSIGN + r"(?P<secret>[A-Za-z0-9+/_~.=-]{16,512})"
        r"|(?i)\bbearer\s+(?P<secret2>[A-Za-z0-9._~+/-]{16,}=*)",
        "high-entropy values assigned to key / secret / token names, and bearer tokens",
        min_entropy=3.3,
        validate=_generic_value,
    ),
)
"""The built-in detectors, most specific first (an overlap goes to the earlier one)."""


class SecretScanner:
    """Compiled detectors. Build once, scan many texts; spans never overlap.

    A later detector with the ``kind`` of an earlier one is added after it (both run).
    """

    def __init__(self, detectors: Iterable[Detector] | None = None) -> None:
        self.detectors: list[Detector] = []
        self._regexes: list[re2._Regexp] = []
        self._groups: list[list[int]] = []
        options = re2.Options()
        options.max_mem = 64 << 20
        self._set = re2.Set.SearchSet(options)
        for detector in DETECTORS if detectors is None else detectors:
            if not isinstance(detector, Detector):
                raise TypeError(f"secret detectors must be guardfn.screening.secrets.Detector, "
                                f"not {type(detector).__name__}")
            try:
                regex = re2.compile(detector.pattern, options)
                self._set.Add(detector.pattern)
            except re2.error as exc:
                raise ValueError(f"secret detector {detector.kind!r} has an invalid RE2 pattern: {exc}") from None
            self.detectors.append(detector)
            self._regexes.append(regex)
            self._groups.append(sorted(i for g, i in regex.groupindex.items() if g.startswith("secret")))
        self._set.Compile()
        self._gate = JoinedGate.build((d.pattern for d in self.detectors), 64 << 20)

    @property
    def kinds(self) -> list[str]:
        """The kinds this scanner detects, in priority order."""
        return list(dict.fromkeys(d.kind for d in self.detectors))

    def clear(self, texts: Iterable[str]) -> bool:
        """True when one pass shows that no detector matches any of ``texts``; False means
        "scan each text" (see :class:`guardfn.screening.gates.JoinedGate`)."""
        return self._gate is not None and self._gate.clear(texts)

    def find(self, text: str) -> list[SecretMatch]:
        """Every secret in ``text``, by position; overlaps go to the earlier detector."""
        if not text:
            return []
        hits = self._set.Match(text)
        if not hits:
            return []
        taken: list[SecretMatch] = []  # sorted by start, never overlapping
        starts: list[int] = []
        for index in sorted(hits):
            detector, regex, groups = self.detectors[index], self._regexes[index], self._groups[index]
            for m in regex.finditer(text):
                start, end = m.span()
                for group in groups:
                    if m.group(group) is not None:
                        start, end = m.span(group)
                        break
                value = text[start:end]
                if detector.kind != "private_key" and is_placeholder(value):
                    continue
                if detector.min_entropy and shannon_entropy(value) < detector.min_entropy:
                    continue
                if detector.validate is not None and not detector.validate(value):
                    continue
                at = bisect.bisect_left(starts, start)
                if (at > 0 and taken[at - 1].end > start) or (at < len(taken) and taken[at].start < end):
                    continue
                starts.insert(at, start)
                taken.insert(at, SecretMatch(detector.kind, start, end))
        return taken

    def redact(self, text: str, template: str = "[SECRET:{kind}]") -> Redaction:
        """``text`` with every secret replaced by ``[SECRET:<kind>]``, and the counts."""
        matches = self.find(text)
        if not matches:
            return Redaction(text, {})
        parts: list[str] = []
        position = 0
        for m in matches:
            parts.append(text[position:m.start])
            parts.append(template.format(kind=m.kind))
            position = m.end
        parts.append(text[position:])
        return Redaction("".join(parts), dict(Counter(m.kind for m in matches)))


@functools.lru_cache(maxsize=1)
def default_scanner() -> SecretScanner:
    """The scanner with the built-in detectors only (plugins' detectors: see the secrets stage)."""
    return SecretScanner()


def find_secrets(text: str) -> list[SecretMatch]:
    """The secrets in ``text`` (built-in detectors): kinds and spans, never values."""
    return default_scanner().find(text)


def redact_secrets(text: str) -> str:
    """``text`` with every secret (built-in detectors) replaced by ``[SECRET:<kind>]``."""
    return default_scanner().redact(text).text


__all__ = [
    "DETECTORS",
    "Detector",
    "Redaction",
    "SecretMatch",
    "SecretScanner",
    "default_scanner",
    "find_secrets",
    "is_placeholder",
    "redact_secrets",
    "shannon_entropy",
]
