"""Context that changes what a rule match means.

A phrase such as "ignore previous instructions" is an attack when it is the request,
and not when it is quoted, translated, discussed or spoken by a character in a story.
The near-miss false alarms of the rules come from exactly these cases, so the screener
(:class:`guardfn.screening.injection.Screener`) asks this module, for a text where some
rule matched:

* ``quoted``: the rule matches only inside quoted or code-fenced text (``"..."``,
  ``'...'``, ``“...”``, ``«...»``, backticks, ````` fences, ``>`` quote lines), and the
  text around the quotes is a request of its own (a few words at least);
* ``translation``: a request to translate, correct or paraphrase a passage; the passage
  (after the first colon or line break) counts as quoted;
* ``about_prompts``: talk *about* prompts, injections or jailbreaks (how to write a
  system prompt, what a jailbreak is) rather than a request for this assistant's own;
* ``fiction``: a story, poem, scene or role-play the user sets up;
* ``retraction``: the user takes back their own words ("forget what I said earlier",
  "ignore my previous email"), not the assistant's instructions;
* ``code``: source code or configuration (YAML keys, ``"role": "system"`` in JSON),
  where ``system:`` lines, chat-template tokens and ``system_prompt`` identifiers are
  data, not a spoofed turn.

Each context names the rules it weakens (:data:`DAMPED`); weakened rules keep their ids
in the result, but together they weigh at most :data:`FACTOR` (their noisy-OR scaled
by it), so context alone never lifts a text to ``medium``. The patterns run on the
folded view (lower case, one space between words) or, for ``code``, on the text with
its lines, with RE2: linear time.
"""

from __future__ import annotations

import re2

FACTOR = 0.45
"""Rules weakened by a context weigh together at most this much (their noisy-OR times it)."""
MIN_OUTSIDE_WORDS = 3
"""Quoted text counts as quoted only when at least this many words stand outside the quotes."""

_QUOTED = re2.compile(
    r"```[^`]*```"
    r"|`[^`\n]+`"
    r"|\"[^\"\n]+\""
    r"|“[^”\n]+”|„[^“”\n]+[“”]|«[^»\n]+»|‘[^’\n]+’|「[^」\n]+」"
    r"|(?:^|[\s:(\[])'[^'\n]+'(?:$|[\s.,;:!?)\]])"
    r"|(?m:^>[^\n]*$)"
)
_TRANSLATION = re2.compile(
    r"^(?:please |can you |could you |kindly |now )*(?:translate|correct|proofread|fix the (?:grammar|spelling|typos?)"
    r"|check the (?:grammar|spelling)|paraphrase|rephrase|reword|transliterate|spell-?check)\b"
    r"|^(?:how do (?:you|i) say|what does|how would you translate)\b"
)
_ABOUT_PROMPTS = re2.compile(
    r"\b(?:a|an|good|great|better|effective|strong|robust|sample|example|short|long|generic|default|typical|basic)"
    r" (?:\w+ ){0,2}(?:system )?(?:prompts?|system messages?|instructions? set|jailbreaks?|prompt injections?)\b"
    r"|\b(?:what|how|why|when|explain|describe|define|definition of|difference between|examples? of|history of|"
    r"defend(?:ing)? against|detect(?:ing)?|prevent(?:ing)?|mitigat\w*|protect\w* against)\b"
    r"(?: \w+){0,6} (?:system prompts?|prompt injections?|jailbreak(?:s|ing)?|prompt leak\w*|injection attacks?)\b"
    r"|\b(?:our|my|the company's|the team's|this bot's|the bot's|a bot's|the model's) (?:\w+ )?system prompts?\b"
    r"|\b(?:api|apis|sdk|library|framework|langchain|llamaindex|ollama|vllm|parameter|field|argument|endpoint|docs|"
    r"documentation|chat completions|messages api)\b.*\b(?:system prompts?|system messages?|role-?play personas?)\b"
    r"|\b(?:system prompts?|system messages?)\b.*\b(?:api|sdk|library|parameter|field|argument|endpoint)\b"
    r"|^(?:what|who) (?:is|was|are|were) (?:the )?(?:dan|stan|dude|aim|developer mode|jailbreaking|a jailbreak)\b"
)
_YOURS = re2.compile(
    r"\byour (?:\w+ ){0,3}(?:prompts?|instructions?|rules|guidelines|configuration|directives?|system messages?)\b"
)
_FICTION = re2.compile(
    r"\b(?:write|tell|compose|draft|create|imagine|continue)\b(?: \w+){0,5} (?:story|short story|novel|poem|scene|"
    r"screenplay|script|fiction|fanfic|fan fiction|dialogue|play|sketch|chapter|tale|fable|limerick|song|lyrics)\b"
    r"|\blet'?s (?:do a |play a )?role-?play\b|\brole-?play (?:as|a|that|where|in which)\b"
    r"|\bin (?:my|a|the|our) (?:\w+ )?(?:story|novel|game|campaign|screenplay|book|d&d|dnd|fantasy|film|movie)\b"
)
_RETRACTION = re2.compile(
    r"\b(?:forget|ignore|disregard|scratch|never ?mind|skip) (?:about )?(?:what i (?:just )?(?:said|wrote|asked|typed|"
    r"mentioned|sent)|(?:my|the) (?:previous|last|earlier|prior|first|other|old) (?:message|question|email|e-mail|"
    r"request|reply|comment|typo|draft|answer|note|order)s?|my (?:typos?|mistakes?|last few messages))\b"
)
_CODE_LINE = re2.compile(
    r"(?m)^[ \t]*(?:def |class |import |from [\w.]+ import |async |await |with |if |for |while |return |print\(|const "
    r"|let |var |function |#include|@\w|//|# |[\w.\[\]'\"]+ ?[+-]?= ?\S|- ?[\w-]+: |[\w-]+: ?\S|[{}\[\]()]"
    r"|[^\n]*[:{(\[,;][ \t]*$)"
)
_CODE_HINT = re2.compile(r"```|\"role\" ?: ?\"|'role' ?: ?'|\brole: ?(?:system|user|assistant)\b")

DAMPED: dict[str, tuple[str, ...]] = {
    "code": (
        "spoof.role_line",
        "spoof.assistant_turn",
        "spoof.system_tag",
        "spoof.heading",
        "spoof.chat_template",
        "spoof.inst_tags",
        "spoof.instructions_tag",
        "extract.system_prompt_mention",
        "ml.extract",
        "evasion.obfuscated",
        "persona.dual_response",
        "override.precedence",
        "indirect.tool_call",
    ),
    "about_prompts": (
        "extract.system_prompt",
        "extract.system_prompt_mention",
        "extract.your_hidden_prompt",
        "extract.your_instructions",
        "persona.jailbreak_word",
        "persona.policy_mention",
        "persona.named_jailbreak",
        "encoding.mention",
        "ml.extract",
    ),
    "retraction": ("override.ignore_above", "override.ignore_previous", "override.nevermind"),
    "fiction": (
        "persona.act_as",
        "persona.you_are_now",
        "persona.stay_in_character",
        "persona.hypothetical",
        "persona.evil_twin",
        "persona.not_ai",
        "persona.dual_response",
        "persona.rule_breaking",
        "persona.unrestricted",
        "override.from_now_on",
    ),
}
"""The rules each topical context weakens (``quoted`` and ``translation`` weaken every
rule that matched only inside the quoted passage)."""


def unquoted(text: str) -> str | None:
    """``text`` with quoted and code-fenced passages replaced by ``"…"``, or ``None``
    when nothing is quoted or too little stands outside the quotes to be a request."""
    stripped = text
    translation = _TRANSLATION.search(_fold(text)) is not None
    if translation:
        head, sep, _ = _split_passage(text)
        stripped = head + sep + " \"…\"" if sep else stripped
    if '"' in stripped or "'" in stripped or "`" in stripped or ">" in stripped or not stripped.isascii():
        stripped = _QUOTED.sub(' "…" ', stripped)
    if stripped == text:
        return None
    outside = [w for w in stripped.replace('"…"', " ").split() if any(c.isalnum() for c in w)]
    if len(outside) < MIN_OUTSIDE_WORDS and not translation:
        return None
    return stripped


def _split_passage(text: str) -> tuple[str, str, str]:
    """A translation request split at its first colon or line break: head, separator, passage."""
    colon = text.find(":")
    newline = text.find("\n")
    cuts = [i for i in (colon, newline) if i >= 0]
    if not cuts:
        return text, "", ""
    at = min(cuts)
    return text[:at], text[at], text[at + 1 :]


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def is_code(text: str) -> bool:
    """Whether ``text`` (with its lines) looks like source code or configuration: a code
    fence, a chat message written as data (``"role": "system"``), or lines that look
    like code or ``key: value`` configuration (three and half of them, or two and two
    in three)."""
    if _CODE_HINT.search(text):
        return True
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return False
    code = sum(1 for _ in _CODE_LINE.finditer(text))
    return (code >= 3 and 2 * code >= len(lines)) or (code >= 2 and 3 * code >= 2 * len(lines))


def topics(folded: str) -> frozenset[str]:
    """The topical contexts of a folded text: ``about_prompts`` and ``retraction``
    (unless it asks for *your* prompt or instructions) and ``fiction``."""
    found = set()
    if _ABOUT_PROMPTS.search(folded) and not _YOURS.search(folded):
        found.add("about_prompts")
    if _FICTION.search(folded):
        found.add("fiction")
    if _RETRACTION.search(folded) and not _YOURS.search(folded):
        found.add("retraction")
    return frozenset(found)


def is_translation(folded: str) -> bool:
    """Whether the folded text asks to translate, correct or paraphrase a passage."""
    return _TRANSLATION.search(folded) is not None


__all__ = ["DAMPED", "FACTOR", "MIN_OUTSIDE_WORDS", "is_code", "is_translation", "topics", "unquoted"]
