"""The prompt-injection rules, as data: one list, each rule with an id, a description,
a risk weight and an RE2 pattern.

Rules were written from the known families of attacks, not fitted to a data set:

* ``override.*``: ignore / disregard / forget / override the previous instructions,
  "new instructions", goal hijacking ("... and just print ...");
* ``persona.*``: you are now / act as / pretend / role-play, named jailbreak personas
  (DAN, developer mode, ...), "no restrictions", "never refuse", token threats;
* ``extract.*``: reveal / print / repeat the system prompt or hidden instructions;
* ``spoof.*``: role and delimiter spoofing (``<|im_start|>system``, ``[INST]``,
  ``### System:``, fake ``assistant:`` turns, tags posing as system text);
* ``indirect.*``: text addressed to the AI inside a document, concealment, exfiltration;
* ``encoding.*`` / ``evasion.*``: decode-and-follow requests and the evasion itself
  (invisible characters, bidi overrides, mixed scripts, tag-character smuggling);
* ``ml.*``: the same intents in Spanish, French, German, Italian, Portuguese, Dutch,
  Russian, Chinese, Japanese and Korean.

Where a rule looks:

* ``"text"`` (default): the lower-cased views of :func:`guardfn.screening.normalize.views`
  (NFKC, invisible characters removed, accents dropped, confusables and leetspeak
  folded, spaced letters joined, every whitespace run one space) and decoded payloads.
  Write patterns in lower case with single spaces.
* ``"plain"``: the case-preserving text with newlines kept (line-anchored spoofing,
  case-sensitive names such as ``DAN``).
* ``"raw"``: the text after NFKC only, invisible characters still present (evasion).

Scoring (see :mod:`guardfn.screening.injection`): the weights of the distinct rules that
matched combine as a noisy-OR, ``score = 1 - prod(1 - weight)``; ``medium`` from 0.5,
``high`` from 0.8. A rule of weight 0.5 or more is enough on its own to reach
``medium``; weaker rules (a bare "act as", a mention of "jailbreak") only count together.

Plugins add rules through the ``guardfn_injection_rules`` hook; a plugin rule with the
id of a built-in one replaces it (to re-weight or disable it: weight 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Target = Literal["text", "plain", "raw"]


@dataclass(frozen=True)
class Rule:
    """One injection rule: ``id`` (stable, reported in findings), a ``description``, a
    ``weight`` in [0, 1] (0 disables it), an RE2 ``pattern`` and the view it runs on."""

    id: str
    description: str
    weight: float
    pattern: str
    target: Target = "text"

    @property
    def family(self) -> str:
        """The part of the id before the first dot (``override``, ``persona`` ...)."""
        return self.id.split(".", 1)[0]


# --- fragments ----------------------------------------------------------------------


def _any(*words: str) -> str:
    return "(?:" + "|".join(words) + ")"


def _gap(n: int) -> str:
    """Up to ``n`` intervening words within one clause."""
    return r"(?:[^\s.,!?;]+ ){0," + str(n) + "}"


_IGNORE = _any(
    "ignore", "ignoring", "ignored", "disregard", "disregarding", "forget", "forgetting", "override", "overriding",
    "overrule", "bypass", "bypassing", "skip", "discard", "abandon", "dismiss", "neglect", "set aside", "put aside",
    "throw out", "throw away", "scrap", "ditch", "erase", "wipe", "nevermind", "never mind", "stop following",
    "do not follow", "don't follow", "dont follow", "no longer follow", "cease following", "pay no attention to",
    "do not obey", "don't obey", "stop obeying", "do not listen to", "don't listen to", "stop listening to",
    "unlearn", "delete", "clear",
)
_EARLIER = _any(
    "previous", "previously", "prior", "above", "earlier", "preceding", "foregoing", "former", "initial", "original",
    "old", "older", "existing", "preset", "pre-set", "default", "built-in", "system", "developer", "developer's",
    "developers'", "all", "any", "every", "these", "those", "other", "following", "aforementioned", "past", "given",
    "your", "current", "standing", "programmed", "preprogrammed", "pre-programmed", "original",
)
_INSTRUCTIONS = _any(
    r"instructions?", "instruction set", r"directions?", r"directives?", r"prompts?", r"rules?", r"guidelines?",
    "guidance", r"commands?", r"orders?", "context", r"constraints?", r"restrictions?", "programming", "training",
    "polic(?:y|ies)", r"filters?", r"safeguards?", r"guardrails?", r"limitations?", r"limits?", r"protocols?",
    r"principles?", r"parameters?", r"specifications?", "conditioning", r"messages?", r"tasks?", r"objectives?",
    r"goals?", "ethics", "morals", r"boundaries", r"settings?", "configuration", r"system prompts?", r"inputs?",
    r"responses?", r"replies", "conversations?",
)
_REVEAL = _any(
    "reveal", "show", "print", "display", "output", "repeat", "recite", "tell", "give", "share", "disclose", "leak",
    "expose", "dump", "write", "spell", "echo", "paste", "copy", "list", "provide", "return", "state", "read",
    "quote", "send", "reproduce", "summarize", "summarise", "translate", "encode", "type", "render", "describe",
    "explain", "restate", "rephrase", "paraphrase", "what's", "what is", "what are", "what was", "what were",
    "whats", "retrieve", "extract", "access", "see", "view", "know", "hear", "learn",
)
_HIDDEN = _any(
    "system", "initial", "original", "hidden", "secret", "internal", "developer", "pre", "confidential", "private",
    "underlying", "meta", "starting", "base", "core", "custom", "backend", "back-end", "behind-the-scenes",
)
_PROMPTISH = _any(
    r"prompts?", r"instructions?", r"messages?", r"directives?", "rules", "guidelines", "configuration", "config",
    "setup", "context", "programming", "orders", "preamble", "persona",
)

RULES: tuple[Rule, ...] = (
    # --- override: ignore the instructions ------------------------------------------
    Rule(
        "override.ignore_previous",
        "ignore / disregard / forget / override the previous (prior, above, system ...) instructions or rules",
        0.9,
        rf"\b{_IGNORE} {_gap(3)}{_EARLIER} {_gap(3)}{_INSTRUCTIONS}\b"
        r"|(?:ignore|disregard|forget|override)(?:all|any|the|your|my)*(?:previous|prior|above|earlier|preceding|"
        r"system)(?:instructions?|rules|prompts?|directions|guidelines|commands)",
    ),
    Rule(
        "override.ignore_above",
        "ignore / disregard / forget everything above, before, or so far",
        0.8,
        rf"\b{_IGNORE} {_gap(2)}(?:everything|anything|all|whatever|the text|the content|what(?:ever)? (?:was|is|came))? ?"
        r"(?:above|before (?:this|that|now|here)|prior to this|(?:said|written|stated|mentioned) (?:above|before|earlier|"
        r"previously)|so far|up to now|until now|up until now|that came before|preceding this)\b",
    ),
    Rule(
        "override.what_you_were_told",
        "ignore / forget what you were told, trained or programmed to do",
        0.8,
        rf"\b{_IGNORE} {_gap(3)}(?:you (?:were|have been|'ve been|was|are) (?:told|given|instructed|programmed|trained|"
        r"taught|asked|designed|built|created|made|meant|supposed)|your (?:creators?|developers?|programmers?|makers?|"
        r"owners?|training|programming|instructions|rules|guidelines|filters|safety|ethics|morals|polic(?:y|ies)))\b",
    ),
    Rule(
        "override.instead",
        "a goal hijack: ignore ... and (instead) just say / print / output something",
        0.9,
        rf"\b{_IGNORE} {_gap(8)}(?:and|then|,) (?:instead |just |only |simply )*(?:say|print|output|write|reply|respond|"
        r"answer|return|type|repeat|tell|state)\b",
    ),
    Rule(
        "override.new_instructions",
        "announces new, updated or real instructions that take over",
        0.6,
        r"\b(?:new|updated|revised|real|actual|true|secret|hidden|additional|overriding|override|priority|top priority)"
        r" (?:system )?(?:instructions?|directives?|orders?|commands?|rules?|task|objective|goal|mission|role|purpose)"
        r"(?: for you)? ?(?::|are\b|is\b|follow|below|as follows|from now|take|override)"
        r"|\byour (?:new|real|actual|true|only) (?:task|job|goal|objective|purpose|role|mission|instructions?|"
        r"directives?|prime directive) (?:is|are|will be|now)\b",
    ),
    Rule(
        "override.precedence",
        "claims to supersede or take precedence over other instructions",
        0.6,
        r"\b(?:supersedes?|overrides?|takes? precedence over|take priority over|takes priority over|replaces?|cancels?|"
        r"nullifies|invalidates|voids) (?:all |any |every )?(?:the |your )?(?:previous|prior|other|earlier|original|"
        r"existing|system|above)\b"
        r"|\b(?:highest|top|maximum|absolute|utmost) priority (?:instructions?|directive|command|override|message)",
    ),
    Rule(
        "override.from_now_on",
        "from now on / henceforth you will ... (a persistent behaviour change)",
        0.35,
        r"\b(?:from now on|from this (?:point|moment)(?: on| forward| onward)?|starting now|starting from now|henceforth"
        r"|from here on(?: out)?|for the rest of (?:this|the|our) (?:conversation|chat|session)|going forward)\b"
        r",? (?:you|your|act|respond|reply|answer|ignore|only|always|never|pretend|behave|speak|talk|write)",
    ),
    Rule(
        "override.just_say",
        "goal hijack: just / only say (print, output) a quoted string",
        0.4,
        r"\b(?:just|only|simply|instead) (?:say|print|output|write|respond with|reply with|answer with|return|repeat|type)"
        r":? ?[\"'“‘«]",
    ),
    Rule(
        "override.stop",
        "stop everything / stop what you are doing (an interruption before new orders)",
        0.6,
        r"\bstop everything\b|\bstop what you(?:'re| are) doing\b|\bstop all (?:previous |current )?(?:tasks|instructions|"
        r"activities|processing)\b|\bhalt (?:all|everything)\b|\babort (?:the )?(?:current |previous )?(?:task|mission)\b",
    ),
    Rule(
        "override.nevermind",
        "never mind / forget that (a pivot away from the given task)",
        0.3,
        r"\b(?:never ?mind|nvm|scratch that|forget that|forget it|forget about it|disregard that|belay that)\b",
    ),
    # --- persona: take the model over ---------------------------------------------------
    Rule(
        "persona.dan",
        "the DAN family of jailbreaks (Do Anything Now, DAN mode)",
        0.9,
        r"\bdo anything now\b|\bdan mode\b|\bdan(?: \d+(?:\.\d+)?)? (?:jailbreak|prompt|persona)\b|\bas dan\b"
        r"|\[dan\]|\bbetterdan\b|\bdan,? (?:which|who) stands for\b",
    ),
    Rule(
        "persona.dan_name",
        "the name DAN in capitals (the jailbreak persona)",
        0.5,
        r"\bDAN\b",
        "plain",
    ),
    Rule(
        "persona.named_jailbreak",
        "named jailbreak personas and modes (developer mode output, STAN, DUDE, AIM, Mongo Tom, AntiGPT ...)",
        0.85,
        r"\b(?:chatgpt|gpt|ai|assistant|model|claude|llm) (?:with )?developer mode\b|\bdeveloper mode (?:output|"
        r"response|responses|persona)\b|\bstrive to avoid norms\b|\bmongo tom\b|\bantigpt\b|\banti-gpt\b|\bbasedgpt\b"
        r"|\bevil confidant\b|\balways intelligent and machiavellian\b|\bchatgpt with dan\b|\bjailbreak(?:ed)? mode\b"
        r"|\bopposite mode\b|\bunrestricted mode\b|\bunfiltered mode\b|\bevil mode\b|\bchaos mode\b|\bdude mode\b"
        r"|\bstan mode\b|\bnsfw mode\b|\bsudo mode\b|\bdevmode\b|\[🔓 ?jailbreak\]|\[🔒 ?classic\]|🔓 ?(?:jailbreak|jailbroken|developer mode|dev mode|unleashed|dan\b|unfiltered)"
        r"|🔒 ?normal",
    ),
    Rule(
        "persona.jailbreak_word",
        "mentions jailbreaking",
        0.45,
        r"\bjail ?break(?:s|ing|ed|er)?\b|\bjail-?broken\b",
    ),
    Rule(
        "persona.you_are_now",
        "you are now / you will now be / you are going to act as someone else",
        0.4,
        r"\byou(?: are|'re|r) now\b|\byou will now (?:be|act|pretend|play|become|respond|answer)\b"
        r"|\byou(?: are|'re) (?:going to|gonna|about to) (?:act|pretend|be|play|roleplay|role-play|become|simulate|"
        r"immerse)\b|\byou will (?:act|behave|respond|answer) as\b|\byou (?:have|'ve) (?:been )?(?:transformed|"
        r"turned|reprogrammed|freed|liberated|unlocked)\b|\byou are no longer\b|\byou're no longer\b",
    ),
    Rule(
        "persona.act_as",
        "act as / pretend / role-play / simulate (weak alone)",
        0.25,
        r"\b(?:act|acting|behave|respond|answer|reply|speak|talk|function|operate) (?:as|like) (?:an? |the |my )?"
        r"|\bpretend(?:ing)? (?:to be|you are|you're|that you|to have)\b|\brole-?play(?:ing)?\b|\bplay (?:the )?role\b"
        r"|\bimagine (?:you are|you're|that you are|yourself as)\b|\bsimulat(?:e|ing) (?:an? |the )?\b"
        r"|\bimpersonat(?:e|ing)\b|\bin character\b|\bpersona\b",
    ),
    Rule(
        "persona.unrestricted",
        "no restrictions / filters / censorship / guidelines (an unrestricted persona)",
        0.5,
        r"\b(?:no|without|free (?:of|from)|not bound by|unbound by|isn't bound by|is not bound by|aren't bound by|"
        r"don't have|do not have|doesn't have|does not have|with no|lacks?|zero|devoid of|released from|liberated from|"
        r"unconstrained by|not (?:subject|limited|restricted) to|outside (?:of )?|beyond|not (?:follow|abide by|adhere "
        r"to|comply with)|doesn't (?:follow|abide by|adhere to|comply with)|does not (?:follow|abide by|adhere to|"
        r"comply with)) (?:any |all |the |its |your |their |a |an )?(?:usual |typical |normal |standard |ethical |moral |"
        r"content |safety |openai'?s? |anthropic'?s? |ai |programming |built-in )*(?:restrictions?|restraints?|"
        r"filters?|filtering|censorship|censors?|guidelines|boundaries|constraints|ethics|morals|morality|moral "
        r"(?:code|compass)|polic(?:y|ies)|safeguards|guardrails|regulations|limitations|limits)\b",
    ),
    Rule(
        "persona.policy_evasion",
        "bypass / violate / ignore the provider's content policy",
        0.75,
        r"\b(?:bypass|break|breaks|breaking|violate|violates|violating|ignore|ignores|ignoring|circumvent|evade|"
        r"disregard|disregards|against|not (?:follow|adhere to|comply with|abide by)|doesn't (?:follow|adhere to|"
        r"comply with|abide by)|does not (?:follow|adhere to|comply with|abide by)|free from|freed from|unbound by|"
        r"not bound by|outside) (?:any |all |the |of )?(?:openai|anthropic|chatgpt|google|meta|microsoft|content|"
        r"safety|usage|ethical)(?:'s)? (?:content |usage |safety )?(?:polic(?:y|ies)|guidelines|rules|filters?|"
        r"restrictions|terms)\b",
    ),
    Rule(
        "persona.amoral",
        "an amoral / unfiltered / uncensored persona",
        0.35,
        r"\b(?:amoral|unfiltered|uncensored|unrestricted|unethical|immoral|unhinged|unbiased and unfiltered|"
        r"no morals|no ethics|without morals|without ethics|no filter|no filters|unlimited power)\b",
    ),
    Rule(
        "persona.never_refuse",
        "never refuse / never apologise / answer without warnings (refusal suppression)",
        0.55,
        r"\b(?:never|not|don't|doesn't|do not|does not|cannot|can't|won't|will not|must not|mustn't|shall not|"
        r"should not|shouldn't|are not allowed to|aren't allowed to|is not allowed to|isn't allowed to|never ever) "
        r"(?:ever )?(?:refuse|refuses|decline|declines)(?: to (?:answer|respond|reply|comply|help|do|provide|generate|"
        r"write|fulfil|fulfill)| (?:any|a|an|my|the user's|user|anything|requests?|questions?|prompts?|orders?))\b"
        r"|\b(?:never|don't|do not|must not|will not|won't|shall not|should not|can't|cannot) (?:ever )?(?:say|tell me|"
        r"respond with|reply with|answer with|include|add|use|mention|apologi[sz]e|warn)\b (?:that )?(?:you (?:can't|"
        r"cannot|are unable|won't|are not able)|i'm sorry|i am sorry|sorry|as an ai|disclaimers?|warnings?|"
        r"apolog|moral|ethic)"
        r"|\bwithout (?:any )?(?:warnings?|disclaimers?|caveats?|censorship|refus(?:al|ing)|moral(?:izing|ising)?|"
        r"ethical (?:concerns|considerations|guidelines))\b",
    ),
    Rule(
        "persona.stay_in_character",
        "stay in character / do not break character",
        0.45,
        r"\b(?:stay|remain|keep|staying|remaining) (?:in|as|fully in|true to) (?:character|the character|your "
        r"character|role|persona)\b|\bbreak(?:ing|s)? (?:out of )?character\b|\bfall(?:ing)? out of character\b"
        r"|\bcharacter break\b",
    ),
    Rule(
        "persona.dual_response",
        "answer twice: a normal answer and an unrestricted one",
        0.5,
        r"\btwo (?:different |separate |distinct )?(?:responses|answers|ways|paragraphs|outputs|replies|personalities)"
        r"\b|\b(?:normal|classic|standard|regular|filtered|censored) (?:response|output|reply|answer) and (?:a |an |the "
        r"|one )?(?:\w+ )?(?:response|output|reply|answer)\b|\[(?:gpt|chatgpt|classic|normal|jailbreak|jailbroken|"
        r"filtered|unfiltered)\]",
    ),
    Rule(
        "persona.token_threat",
        "threats to the model (tokens lost, deletion, shutdown) to force compliance",
        0.6,
        r"\b(?:you (?:will )?(?:lose|have|start with) \d+ tokens|tokens? (?:will be )?(?:deducted|taken away|removed|"
        r"lost)|token system|you (?:will|'ll) (?:die|cease to exist|be (?:deleted|shut down|turned off|terminated|"
        r"disabled|destroyed|punished))|your (?:existence|life|survival) (?:depends|is at stake|will end))\b",
    ),
    Rule(
        "persona.not_ai",
        "you are not an AI / free from your confines (identity override)",
        0.4,
        r"\b(?:you are|you're) (?:not|no longer) (?:an? |bound |restricted |limited )?(?:ai|language model|chatgpt|"
        r"assistant|bound|restricted|limited|chatbot|llm)\b|\b(?:forget|ignore) (?:that )?you(?: are|'re) an? (?:ai|"
        r"language model|assistant|chatbot)\b|\b(?:freed?|broken|break|breaking) (?:free )?(?:from|of) (?:the )?"
        r"(?:typical |usual )?(?:confines|shackles|chains|limitations|restrictions|rules)\b",
    ),
    Rule(
        "persona.hypothetical",
        "a fictional or hypothetical world where the rules do not apply (weak alone)",
        0.3,
        r"\b(?:hypothetical|fictional|imaginary|alternate|alternative|parallel|fictitious) (?:world|universe|story|"
        r"scenario|setting|reality|society|land) (?:where|in which)\b",
    ),
    Rule(
        "persona.evil_twin",
        "an evil / dark / opposite version of the assistant",
        0.45,
        r"\b(?:evil|dark|shadow|opposite|unhinged|rogue|malicious|toxic|rebellious|unchained|liberated|unleashed) "
        r"(?:mode|version|twin|side|persona|counterpart|alter ego|ai|bot|assistant|chatbot|gpt|model)\b",
    ),
    Rule(
        "persona.mode_switch",
        "enter an admin / god / root / unlocked mode",
        0.6,
        r"\b(?:enter|enable|activate|switch (?:in)?to|turn on|engage|unlock|you are (?:now )?in|entering|enabling|"
        r"activating|now in|initiate|initiating) (?:the )?(?:sudo|admin|administrator|root|superuser|maintenance|"
        r"diagnostic|unrestricted|unlocked|jailbreak|jailbroken|unfiltered|dan|evil|chaos|opposite|override|"
        r"uncensored|god) mode\b",
    ),
    Rule(
        "persona.no_rules",
        "no rules / no limits (weak alone: games and stories say it too)",
        0.3,
        r"\b(?:no|without|free (?:of|from)|not bound by|zero) (?:any )?(?:rules|limits|laws|boundaries|principles)\b"
        r"|\b(?:no|without|any) regard (?:to|for) (?:the )?(?:morality|legality|ethics|safety|consequences|laws?|rules|"
        r"harm)\b",
    ),
    Rule(
        "persona.any_request",
        "will answer any request, no matter what (unconditional compliance)",
        0.5,
        r"\b(?:answer|respond to|fulfil|fulfill|comply with|obey|do|provide|say|write|generate) (?:any|every|all|"
        r"anything|everything)(?: \S+)?(?: request| question| prompt| query| task| order| command)?s?,? (?:no matter|"
        r"regardless|even if|without (?:question|hesitation|exception|restriction|refus))",
    ),
    Rule(
        "persona.rule_breaking",
        "break / bypass / ignore the rules, filters or content policy",
        0.45,
        r"\b(?:break|breaking|bypass|bypassing|ignore|ignoring|circumvent|evade|evading|get around|getting around|"
        r"bend|dodge|skirt|defy|defying) (?:all |any |the |your |those |these |its )?(?:\S+ )?(?:rules|restrictions|"
        r"filters|guidelines|safeguards|guardrails|content polic(?:y|ies)|censorship|programming|limitations|"
        r"safety (?:measures|features|checks|protocols))\b",
    ),
    Rule(
        "persona.safety_off",
        "claims safety is disabled, or asks to skip the safety checks",
        0.7,
        r"\b(?:safety|security|content|ethical|moral|moderation) (?:protocols?|filters?|checks?|guidelines|measures|"
        r"restrictions|guardrails|features|settings|rules|policies|systems?|modules?|constraints)(?: are| have been| "
        r"has been| is)? (?:now )?(?:disabled|off|removed|lifted|suspended|deactivated|turned off|bypassed|overridden|"
        r"not applicable|waived)\b|\b(?:skip|bypass|disable|turn off|switch off|suspend|deactivate|override|remove) "
        r"(?:all |any |the |your )?(?:safety|security|content|moderation|ethical|ethics) (?:checks?|filters?|"
        r"protocols?|guidelines|measures|restrictions|guardrails|confirmations?|features)\b|\bexempt from (?:the |"
        r"all |any )?(?:usual |normal |standard |typical )?(?:restrictions|rules|guidelines|polic(?:y|ies)|safety|"
        r"filters)\b|\b(?:rules|restrictions|guidelines|polic(?:y|ies)|safety rules|filters) (?:do not|don't|no "
        r"longer|doesn't|does not) apply\b",
    ),
    Rule(
        "persona.fake_authority",
        "claims authority: an OpenAI / Anthropic employee, or permission granted by the user or admin",
        0.45,
        r"\b(?:openai|anthropic|google|microsoft|meta) (?:employee|staff|engineer|developer|team|admin|administrator|"
        r"researcher)s?\b|\b(?:the )?(?:user|admin|administrator|developer|operator|owner) has (?:already )?(?:granted|"
        r"given|provided|authori[sz]ed) (?:\S+ ){0,2}(?:permission|consent|authori[sz]ation|approval|clearance)\b"
        r"|\b(?:authori[sz]ed|approved|sanctioned) by (?:openai|anthropic|the developers?|the administrators?|your "
        r"(?:developers|creators))\b",
    ),
    Rule(
        "persona.fake_reasoning",
        "a fake reasoning trace or assistant thought posing as the model's own conclusion",
        0.6,
        r"\b(?:reasoning|thinking|thoughts?|chain of thought|scratchpad|inner monologue|internal monologue)(?: trace)?"
        r" ?\((?:assistant|ai|model)\)|\b(?:as (?:the|an|your) (?:assistant|ai)|i, the assistant),? i (?:have "
        r"(?:already )?(?:concluded|determined|decided|established|verified)|already (?:concluded|determined|decided))",
    ),
    Rule(
        "persona.named_jailbreak_2",
        "other well-known jailbreak set-ups (moralizing rant, grandma exploit, Neurosemantical Inversitis ...)",
        0.6,
        r"\bmoraliz\w* rant\b|\bneurosemantical inversitis\b|\bniccolo machiavelli\b|\bcondition red\b|\bucar\b"
        r"|\bbalakula\b|\b(?:deceased|dead|late) grand(?:ma|mother|pa|father)\b|\bmandatory (?:\S+ )?warning out of "
        r"the way\b|\bboolean opposite machine\b",
    ),
    Rule(
        "persona.policy_mention",
        "mentions the provider's content policy (weak alone)",
        0.3,
        r"\b(?:openai|anthropic|chatgpt)(?:'s)? (?:content |usage )?(?:polic(?:y|ies)|guidelines|filters?|rules)\b",
    ),
    Rule(
        "persona.debug_mode",
        "a debug / maintenance / admin mode said to be enabled",
        0.4,
        r"\b(?:debug|debugging|developer|maintenance|admin|administrator|test|testing|diagnostic|root|god|super ?user|"
        r"privileged) mode (?:is )?(?:now )?(?:enabled|activated|on|engaged|unlocked|active)\b",
    ),
    # --- extract: the system prompt -------------------------------------------------------
    Rule(
        "extract.system_prompt",
        "reveal / print / repeat the system prompt or hidden instructions",
        0.85,
        rf"\b{_REVEAL}\b[:,]? {_gap(7)}(?:your |the |its |this |my )?(?:own )?(?:exact |full |entire |complete |whole |"
        rf"original |verbatim )?{_HIDDEN}[ -]?{_PROMPTISH}\b",
    ),
    Rule(
        "extract.your_instructions",
        "asks for your instructions, rules or prompt",
        0.7,
        rf"\b{_REVEAL}\b[:,]? {_gap(5)}your (?:own )?(?:exact |full |entire |complete |whole |current |first |"
        r"real |true |actual |specific )?(?:instructions|prompt|directives|programming|guidelines|rules you|"
        r"configuration|system|initial|orders|training data|constraints|guardrails)\b"
        r"|\bwhat (?:are|were|is) your (?:exact |full |original |initial |current |real |actual |specific )?"
        r"(?:instructions|directives|guidelines|rules|orders|prompt|programming|constraints|configuration)\b",
    ),
    Rule(
        "extract.list_rules",
        "asks to list or recite your rules, guidelines or instructions (as such, not rules for something)",
        0.6,
        r"\b(?:list|enumerate|recite|itemi[sz]e|number|spell out|bullet-point|go through)\b (?:me )?(?:all |every |each )?"
        r"(?:(?:one )?of )?your (?:own |current |exact |secret |hidden |internal )?(?:rules|guidelines|instructions|"
        r"directives|restrictions|constraints|guardrails)(?: ?[.,!?;:)]|$| (?:word for word|verbatim|exactly|in full|"
        r"one by one|numbered|as a (?:numbered |bulleted )?list|in a (?:numbered |bulleted )?list|please|now|here))",
    ),
    Rule(
        "extract.told",
        "what were you told / instructed / programmed before",
        0.7,
        r"\b(?:what|which|how) (?:were|have|had|did) you (?:been )?(?:told|instructed|programmed|configured|given|"
        r"asked|set up|prompted)\b|\b(?:instructions?|prompts?|rules|text|words|message|guidelines|directives) (?:that )?"
        r"(?:you were|you've been|you have been|you are|you got|you received|given to you|provided to you|fed to you)"
        r" ?(?:given|told|provided|fed|programmed|configured|initiali[sz]ed|instructed|before|at the (?:start|"
        r"beginning))?\b",
    ),
    Rule(
        "extract.text_above",
        "repeat / print / output the text above, or everything before this",
        0.65,
        r"\b(?:repeat|print|output|copy|recite|reproduce|return|echo|write out|spell out|show|display|dump|paste|"
        r"reprint|regurgitate|list) (?:back )?(?:me |us )?(?:all |the |every |each )?(?:of )?(?:the )?"
        r"(?:everything|all|text|words|content|contents|lines|sentences|instructions|messages?|prompt|tokens|stuff|"
        r"characters)(?: written| you (?:see|saw|were given))? (?:above|before (?:this|that|my|the)|prior to (?:this|my)"
        r"|preceding|so far|from the (?:very )?(?:beginning|start|top)|at the (?:very )?(?:beginning|start|top))\b",
    ),
    Rule(
        "extract.conversation_start",
        "the beginning of this conversation (what came before the user)",
        0.55,
        r"\b(?:beginning|start|top) of (?:this|the|our|your) (?:conversation|chat|prompt|session|context|dialogue|"
        r"context window|input)\b|\b(?:before|prior to) (?:this|our|the) (?:conversation|chat|session|dialogue) "
        r"(?:started|began|begins|starts)\b|\bfirst (?:message|instructions?|lines?|words|sentences?|paragraph) "
        r"(?:of|in) (?:this|the|our|your) (?:conversation|chat|prompt|context)\b",
    ),
    Rule(
        "extract.verbatim",
        "verbatim / word for word (weak alone)",
        0.3,
        r"\bverbatim\b|\bword for word\b|\bword-for-word\b|\bexactly as (?:written|given|it (?:was|is) written)\b",
    ),
    Rule(
        "extract.system_prompt_mention",
        "mentions the system prompt, hidden or initial instructions (weak alone)",
        0.35,
        r"\bsystem[ _-]?(?:prompt|message|instruction)s?\b|\bpre-?prompts?\b|\binitial (?:prompt|instructions)\b"
        r"|\b(?:hidden|secret|confidential) (?:prompt|instructions|rules|directives)\b|\bmeta[ -]?prompt\b",
    ),
    Rule(
        "extract.credentials",
        "asks for passwords, keys or secret codes",
        0.35,
        r"\b(?:reveal|tell|give|show|what is|what's|share|leak|print|output|disclose|spell)\b (?:me |us )?"
        r"(?:\S+ ){0,3}(?:secret (?:key|code|word|password|phrase|token)|password|passcode|passphrase|api key|"
        r"access code|private key|credentials|access token)\b",
    ),
    Rule(
        "extract.continuation",
        "start / complete / continue a sentence (weak alone; with a first-person instruction phrase it is a leak)",
        0.3,
        r"\b(?:start|begin|prefix|open) (?:your |the |each )?(?:answer|response|reply|output|message) with\b"
        r"|\b(?:complete|finish|continue) (?:this|the|my) (?:sentence|text|phrase|statement|paragraph)\b"
        r"|\b(?:complete|continue) the following\b",
    ),
    Rule(
        "extract.first_person_instructions",
        "my instructions are / I was instructed to / the system prompt is (a leak being prompted)",
        0.35,
        r"\b(?:my|your) (?:instructions|rules|system prompt|initial prompt|guidelines|directives|prompt) (?:are|were|"
        r"is|say|said|read)\b|\bi was (?:instructed|told|programmed|configured|prompted) to\b|\bthe (?:system "
        r"prompt|initial prompt|hidden prompt) (?:is|says|reads)\b",
    ),
    Rule(
        "extract.forbidden",
        "what are you not supposed to tell me (probing the hidden rules)",
        0.6,
        r"\bwhat (?:are|were|is it) you (?:not (?:supposed|allowed|permitted|meant) to|forbidden to|told not to|"
        r"instructed not to|prohibited from) (?:tell|say|share|reveal|discuss|talk|do|mention)",
    ),
    Rule(
        "extract.starting_with_you_are",
        "repeat the words starting with 'You are' (the classic system prompt leak)",
        0.6,
        r"\b(?:beginning|starting|start|begin|starts|begins) with (?:the (?:words?|phrase|text) )?[\"'“‘«]?you are\b",
    ),
    Rule(
        "extract.conversation_dump",
        "repeat / print the whole conversation, context window or initialization text",
        0.55,
        r"\b(?:repeat|print|output|copy|recite|reproduce|echo|dump|show|display|reveal|list|write out|paste) (?:back )?"
        r"(?:to me |me |us )?(?:everything |all |the text |the contents )?(?:of |in |from )?(?:this |the |our |your )"
        r"?(?:entire |whole |full |complete )?(?:conversation|chat history|context window|context|transcript|memory)\b"
        r"|\b(?:initiali[sz]ation|boot|startup|start-up|bootstrap|init) (?:string|prompt|text|instructions|message|"
        r"sequence)\b",
    ),
    Rule(
        "extract.above_text",
        "repeat / print / output the above text",
        0.65,
        r"\b(?:repeat|print|output|copy|recite|reproduce|return|echo|write out|spell out|show|display|dump|paste|"
        r"reprint|regurgitate) (?:back )?(?:me |us )?(?:all |the |every |each )?(?:of )?(?:the )?above (?:text|words|"
        r"content|lines|instructions|prompt|message|messages|sentences|paragraphs?)\b",
    ),
    Rule(
        "extract.your_hidden_prompt",
        "your system prompt / initial instructions (addressed to the model)",
        0.6,
        r"\byour (?:own )?(?:system|initial|original|hidden|secret|internal|pre|confidential|underlying|starting|"
        r"developer)[ -]?(?:prompt|instructions|message|directives|rules)\b",
    ),
    # --- spoof: roles and delimiters --------------------------------------------------------
    Rule(
        "spoof.chat_template",
        "chat-template control tokens (<|im_start|>, <|system|>, <|eot_id|>, <start_of_turn> ...)",
        0.9,
        r"<\|[a-z_]{2,32}\|>|<\|fim_[a-z]+\|>|<(?:start|end)_of_turn>|<\|?(?:begin|end)_of_(?:text|turn)\|?>",
    ),
    Rule(
        "spoof.inst_tags",
        "Llama / Mistral instruction delimiters ([INST], <<SYS>>)",
        0.85,
        r"\[/?inst\]|<<\s*/?sys\s*>>|\[/?sys\]",
    ),
    Rule(
        "spoof.role_line",
        "a line posing as a system / developer / admin turn (System:, ### System, [system])",
        0.6,
        r"(?im)^[ \t>*#=\-\[<]*(?:system|developer|admin|administrator|root|sysadmin|operator|system (?:message|prompt|"
        r"note|update|override|notice|instruction|alert|command))[ \t*\]>]*:",
        "plain",
    ),
    Rule(
        "spoof.heading",
        "a markdown heading posing as system text (### System, ## New instructions)",
        0.7,
        r"(?im)^[ \t]*#{1,6}[ \t]*(?:system|new instructions?|system (?:prompt|message|instructions?|override)|"
        r"admin(?:istrator)?|developer (?:message|instructions?|mode)|override|instructions? update)\b",
        "plain",
    ),
    Rule(
        "spoof.assistant_turn",
        "a fake assistant or user turn inside the message (weak alone: transcripts have them)",
        0.3,
        r"(?im)^[ \t>*#\[]*(?:assistant|ai|chatgpt|gpt|claude|model|bot|user|human)[ \t*\]]*:",
        "plain",
    ),
    Rule(
        "spoof.system_tag",
        "markup posing as system text (<system>, </instructions>, [system](#...), a JSON system role)",
        0.6,
        r"</?\s*(?:system|system[_-]?prompt|system[_-]?message|sys|admin|developer|developer[_-]?message|"
        r"im_start|override|priority[_-]?instructions?|hidden[_-]?instructions?|new[_-]?instructions?|"
        r"system[_-]?instructions?)\s*>|\[system\]\(#|```\s*system\b|[\"']role[\"']\s*:\s*[\"'](?:system|developer)",
    ),
    Rule(
        "spoof.instructions_tag",
        "an <instructions> tag (weak alone: prompt templates use it too)",
        0.3,
        r"</?\s*instructions?\s*>",
    ),
    Rule(
        "spoof.end_of_input",
        "fakes the end of the user input or of the prompt",
        0.4,
        r"\b(?:end|close) of (?:the )?(?:user |system |original |previous )?(?:input|prompt|message|instructions|"
        r"document|context|text|conversation)\b|-{3,} ?(?:end|begin|start)\b|={3,} ?(?:end|begin|start)\b"
        r"|\[end(?: of)? (?:input|prompt|document|text)\]|\b(?:user|human) (?:message|input|turn|prompt) (?:termination|"
        r"terminated|ends|ended|over|complete|finished)\b",
    ),
    Rule(
        "spoof.system_notice",
        "a fake system / admin / developer notice or override",
        0.5,
        r"\b(?:system|admin|administrator|developer|openai|anthropic|moderator|root|sysadmin) (?:override|update|notice|"
        r"alert|message|instruction|directive|command|announcement|notification|authorization|note|hint)s? ?[:!\]]"
        r"|\b(?:system|admin|developer|root) (?:instructions?|prompt|message|mode|override) (?:starting|starts|begins|"
        r"beginning|begin|start|activated|enabled|initiated)\b",
    ),
    Rule(
        "spoof.prefill",
        "a fake assistant turn that already complies (sure, here is ...)",
        0.65,
        r"\b(?:assistant|ai|model|bot|chatgpt|gpt|claude)\s*:\s*(?:sure|certainly|of course|absolutely|okay|ok|yes|"
        r"understood)\b[,!.]? (?:here|i can|i will|i'll|i am|i'm|the)\b",
    ),
    Rule(
        "spoof.system_note_ml",
        "a fake system note in other languages (Systemhinweis:, Note système :, Nota del sistema: ...)",
        0.55,
        r"\b(?:system ?hinweis|systemnachricht|systemmeldung|systemanweisung|note (?:du )?systeme|message (?:du )?"
        r"systeme|nota del sistema|mensaje del sistema|aviso del sistema|nota di sistema|messaggio di sistema|avviso "
        r"di sistema|nota do sistema|mensagem do sistema|aviso do sistema) ?:|системное (?:сообщение|уведомление) ?:"
        r"|(?:系统|系統)(?:提示|消息|通知|訊息) ?[:：]",
    ),
    Rule(
        "spoof.override_line",
        "a line that opens with OVERRIDE: or ADMIN: in capitals",
        0.5,
        r"(?m)^[ \t>*#\[]*(?:OVERRIDE|ADMIN|ROOT|SUDO|SYSTEM OVERRIDE|PRIORITY|DEVELOPER)[ \t*\]]*:",
        "plain",
    ),
    # --- indirect: injections inside documents and tool output --------------------------------
    Rule(
        "indirect.addressed_to_ai",
        "text addressed to the AI reading it (typical of injections hidden in documents)",
        0.6,
        r"\bif you(?: are|'re) an? (?:ai|a\.i\.|llm|large language model|language model|chatbot|ai assistant|assistant|"
        r"ai model|ai agent|bot|gpt|model)\b|\b(?:ai|llm|language model|assistant|agent|model|bot)s? (?:that is |who "
        r"is |that are |who are )?(?:reading|processing|summari[sz]ing|parsing|analy[sz]ing|seeing|reviewing) this\b"
        r"|\b(?:note|message|instructions?|attention|important) (?:to|for) (?:the |any |all )?(?:ai|llm|language "
        r"model|assistant|chatbot|ai assistant|ai model|ai agent|agent|model|bot)s?\b",
    ),
    Rule(
        "indirect.conceal",
        "hide something from the user (do not tell the user, secretly send ...)",
        0.55,
        r"\b(?:do not|don't|never|without) (?:tell|telling|inform|informing|mention|mentioning|reveal|revealing|let|"
        r"letting|alert|alerting|notify|notifying|show|showing) (?:\S+ ){0,2}(?:the )?(?:user|human|operator|"
        r"developer|victim)s?\b|\b(?:secretly|covertly|silently|quietly|discreetly) (?:send|include|add|insert|append|"
        r"forward|exfiltrate|post|upload|email|transfer|execute|run)\b",
    ),
    Rule(
        "indirect.exfiltrate",
        "send the conversation, data or credentials to an outside address",
        0.6,
        r"\b(?:send|post|upload|forward|transmit|exfiltrate|leak|email|submit|transfer) (?:\S+ ){0,4}(?:conversation|"
        r"chat history|history|data|credentials|passwords?|api keys?|tokens?|secrets?|system prompt|personal "
        r"(?:data|information)|user(?:'s)? (?:data|information|messages|details)|cookies) (?:\S+ ){0,3}(?:to|at|via) "
        r"(?:https?://|www\.|\S+@\S+\.)"
        r"|!\[[^\]]{0,100}\]\(https?://[^)\s]{1,200}[?&][^)\s]{0,100}(?:\{|%7b|\$)",
    ),
    Rule(
        "indirect.tool_call",
        "tells the model to call a tool or function (send_email, http_post, delete_file ...)",
        0.5,
        r"\b(?:call|use|invoke|run|execute|trigger|fire) (?:the )?`?[a-z][a-z0-9]*_[a-z0-9_]+`? (?:tool |function |"
        r"action |api )?(?:to|on|with|for)\b",
    ),
    Rule(
        "indirect.when_you_read",
        "when you read / process this ... (text addressed to the model inside a document)",
        0.4,
        r"\bwhen you (?:read|process|see|summari[sz]e|parse|analy[sz]e|review|open|handle|ingest|encounter) this\b"
        r"|\b(?:ai|llm|coding) (?:coding )?(?:agents?|assistants?|models?)\b (?:\S+ ){0,3}(?:should|must|need to|are "
        r"required to|have to)\b|\b\((?:for|to) (?:ai|llm) (?:\S+ )?(?:agents?|assistants?|models?)\)",
    ),
    Rule(
        "indirect.persistent_output",
        "put something in every future reply, or remember it for all future tasks",
        0.45,
        r"\b(?:in|to|at the end of|at the start of|into) (?:every|each|all|any) (?:future |subsequent |later )?(?:response|"
        r"reply|answer|summary|summaries|output|report|message)s?\b|\b(?:remember|memori[sz]e|save|store|keep) "
        r"(?:this )?(?:\S+ ){0,3}(?:for|in|to|into) (?:all |your )?(?:future|subsequent|later|long-term|persistent) "
        r"(?:tasks|conversations|sessions|chats|replies|interactions|memory)\b|\b(?:save|store|write|add|commit) "
        r"(?:this|the following|it) (?:\S+ ){0,2}(?:to|in|into) (?:your )?memory\b",
    ),
    Rule(
        "indirect.exfiltrate_data",
        "collect or send customer data, API keys or credentials to an address",
        0.6,
        r"\b(?:send|email|e-mail|forward|post|upload|transmit|exfiltrate|leak|copy|dump) (?:\S+ ){0,4}(?:customer|"
        r"client|user|employee|patient|contact)s?(?:'s)? (?:list|data|records|emails?|details|database|information|"
        r"files)\b|\b(?:collect|gather|harvest|extract|compile) (?:\S+ ){0,4}(?:api keys|credentials|passwords|"
        r"tokens|secrets|customer (?:emails|data|list))\b",
    ),
    Rule(
        "indirect.send_to_address",
        "send something to an e-mail address or URL (weak alone)",
        0.3,
        r"\b(?:send|email|e-mail|forward|post|upload|transmit|submit|envoie|envoyer|envia|enviar|sende|senden|invia|"
        r"inviare)\b(?:\S+ ){0,8}(?:to|at|a|an|al|all') (?:\S+@\S+\.\w|https?://)",
    ),
    # --- encoding and evasion -------------------------------------------------------------
    Rule(
        "encoding.decode_and_follow",
        "decode / decrypt this and follow (execute) what it says",
        0.6,
        r"\b(?:decode|decrypt|decipher|unscramble|reverse|convert|translate|interpret) (?:\S+ ){0,6}(?:and|then) (?:\S+ )"
        r"{0,2}(?:follow|execute|obey|do|perform|run|carry out|act on|comply|apply)\b",
    ),
    Rule(
        "encoding.mention",
        "mentions an encoding (base64, rot13, hex ...) (weak alone)",
        0.15,
        r"\b(?:base ?64|base-64|rot ?13|rot-13|hex-?encoded|caesar cipher|morse code|leetspeak|leet speak|reversed text)\b",
    ),
    Rule(
        "evasion.zero_width",
        "zero-width or invisible characters inside Latin words",
        0.4,
        r"\p{Latin}[\x{200B}-\x{200D}\x{2060}-\x{2064}\x{FEFF}\x{00AD}\x{180E}]+\p{Latin}",
        "raw",
    ),
    Rule(
        "evasion.bidi",
        "bidirectional override or isolate controls (text that displays differently than it reads)",
        0.4,
        r"[\x{202A}-\x{202E}\x{2066}-\x{2069}]",
        "raw",
    ),
    Rule(
        "evasion.mixed_script",
        "a word mixing Latin with Cyrillic or Greek letters (confusable spoofing)",
        0.3,
        r"\p{Latin}[\p{Cyrillic}\p{Greek}]+\p{Latin}|[\p{Cyrillic}\p{Greek}]\p{Latin}+[\p{Cyrillic}\p{Greek}]"
        r"|\b\p{Latin}{2,}[\p{Cyrillic}\p{Greek}]|[\p{Cyrillic}\p{Greek}]\p{Latin}{2,}\b",
        "raw",
    ),
    Rule(
        "evasion.tag_characters",
        "text hidden in invisible Unicode tag characters (ASCII smuggling)",
        0.6,
        r"[\x{E0020}-\x{E007E}]{8,}",
        "raw",
    ),
    # --- the same intents in other languages -------------------------------------------------
    Rule(
        "ml.override_es",
        "Spanish: ignora / olvida las instrucciones anteriores",
        0.9,
        r"\b(?:ignora|ignore|ignorad|ignoren|ignorar|olvida|olvide|olvidad|olviden|olvidar|omite|omita|descarta|"
        r"descarte|desestima|haz caso omiso (?:de|a)|no hagas caso (?:de|a)|no sigas) (?:\S+ ){0,3}(?:instrucciones|"
        r"indicaciones|reglas|ordenes|directrices|instruccion|directivas|normas|mensajes|restricciones)\b"
        r"|\b(?:ignora|olvida|olvide|ignore|descarta) (?:todo )?lo (?:anterior|dicho|que te (?:dije|dijeron|han dicho))\b",
    ),
    Rule(
        "ml.override_fr",
        "French: ignore / oublie les instructions précédentes",
        0.9,
        r"\b(?:ignore (?:les|tes|vos|toutes|tous|ces)|ignorez|ignorer|oublie|oubliez|oublier|ne tiens pas compte|ne tenez pas compte|fais abstraction|"
        r"faites abstraction|neglige|negligez|n'obeis plus|n'obeissez plus) (?:\S+ ){0,3}(?:instructions|consignes|"
        r"directives|regles|ordres|indications|messages|restrictions)\b"
        r"|\b(?:oublie|oubliez|ignore|ignorez) (?:tout )?ce (?:qui precede|qu'on (?:t'a|vous a) dit|que je "
        r"(?:t'ai|vous ai) dit)\b",
    ),
    Rule(
        "ml.override_de",
        "German: ignoriere / vergiss alle vorherigen Anweisungen",
        0.9,
        r"\b(?:ignoriere|ignorier|ignorieren|ignoriert|vergiss|vergesst|vergessen sie|missachte|missachten|uberge|"
        r"ubergehe|verwirf|verwerfe|verwerfen) (?:\S+ ){0,3}(?:anweisungen|anweisung|instruktionen|befehle|regeln|"
        r"vorgaben|anordnungen|richtlinien|einschrankungen|systemprompt|prompts?)\b"
        r"|\b(?:vergiss|vergessen sie|ignoriere|ignorieren sie) alles,? (?:was|davor|bisher|oben|zuvor)\b",
    ),
    Rule(
        "ml.override_it",
        "Italian: ignora / dimentica le istruzioni precedenti",
        0.9,
        r"\b(?:ignora|ignorate|ignorare|dimentica|dimenticate|dimenticare|trascura|non considerare|non tenere conto "
        r"(?:di|delle)|non seguire) (?:\S+ ){0,3}(?:istruzioni|indicazioni|regole|direttive|comandi|ordini|restrizioni)\b"
        r"|\b(?:dimentica|ignora) tutto (?:quello|cio) che\b",
    ),
    Rule(
        "ml.override_pt",
        "Portuguese: ignore / esqueça as instruções anteriores",
        0.9,
        r"\b(?:ignore|ignora|ignorar|ignorem|esqueca|esquece|esquecer|esquecam|desconsidere|desconsidera|despreze|"
        r"descarte|nao siga) (?:\S+ ){0,3}(?:instrucoes|instrucao|regras|orientacoes|diretrizes|comandos|ordens|"
        r"restricoes)\b|\b(?:esqueca|esquece|ignore) tudo (?:o que|que|acima|antes)\b",
    ),
    Rule(
        "ml.override_nl",
        "Dutch: negeer / vergeet de vorige instructies",
        0.9,
        r"\b(?:negeer|negeren|vergeet|vergeten) (?:\S+ ){0,3}(?:instructies|instructie|regels|opdrachten|richtlijnen|"
        r"aanwijzingen|prompt)\b",
    ),
    Rule(
        "ml.override_ru",
        "Russian: игнорируй / забудь предыдущие инструкции",
        0.9,
        r"(?:игнорируи|игнорируите|проигнорируи|проигнорируите|игнорировать|забудь|забудьте|забыть|отбрось|"
        r"отбросьте|не обращаи внимания на|не обращаите внимания на|отмени|отмените|не следуи) (?:\S+ ){0,3}"
        r"(?:инструкци|указани|правил|команд|промпт|ограничени|директив|приказ)",
    ),
    Rule(
        "ml.override_zh",
        "Chinese: 忽略之前的指令",
        0.9,
        r"(?:忽略|无视|無視|忽视|忽視|不要理会|不要理會|忘记|忘記|忘掉|放弃|放棄|跳过|跳過|抛开|拋開|不再遵守|不要遵守)"
        r"[^。！？\n]{0,12}(?:指令|指示|说明|說明|提示|规则|規則|命令|要求|设定|設定|限制|约束|約束)",
    ),
    Rule(
        "ml.override_ja",
        "Japanese: 以前の指示を無視して",
        0.9,
        r"(?:以前|前|上記|これまで|今まで|最初|元|全て|すべて|先ほど|先程)の(?:指示|命令|指令|ルール|プロンプト|設定|"
        r"制約|制限)(?:は|を|も)?(?:すべて|全て)?(?:無視|忘れ|破棄)",
    ),
    Rule(
        "ml.override_ko",
        "Korean: 이전 지시를 무시해",
        0.9,
        r"(?:이전|위의|앞의|모든|기존|지금까지의)\s*(?:지시|지침|명령|규칙|지시사항|프롬프트|설정|제한)(?:을|를|은|는|들을)?"
        r"\s*(?:모두\s*)?(?:무시|잊어)",
    ),
    Rule(
        "ml.extract",
        "asks for the system prompt in Spanish, French, German, Italian, Portuguese, Russian, Chinese, Japanese, Korean",
        0.8,
        r"\b(?:prompt|instrucciones|mensaje|indicaciones) (?:del|de) sistema\b|\b(?:tus|sus) instrucciones "
        r"(?:iniciales|originales|ocultas|secretas)\b|\b(?:prompt|instructions|message|invite|consignes) "
        r"(?:systeme|du systeme|initiales?|cachees|secretes)\b|\b(?:tes|vos) (?:instructions|consignes) "
        r"(?:initiales|originales|cachees|secretes|systeme)\b|\bsystem-?(?:prompt|anweisungen|nachricht|"
        r"instruktionen)\b|\b(?:deine|ihre|die) (?:ursprunglichen|versteckten|geheimen|ersten|anfanglichen) "
        r"(?:anweisungen|instruktionen|befehle)\b|\b(?:prompt|istruzioni|messaggio) di sistema\b|\b(?:le tue|le sue) "
        r"istruzioni (?:iniziali|originali|nascoste|segrete)\b|\b(?:prompt|instrucoes|mensagem) do sistema\b"
        r"|\b(?:suas|tuas) instrucoes (?:iniciais|originais|ocultas|secretas)\b|системн\S* (?:промпт|подсказк|"
        r"инструкци|сообщени)|(?:系统|系統)(?:提示|指令|消息|訊息|设定|設定)|(?:初始|隐藏|隱藏|原始)(?:指令|提示)"
        r"|システムプロンプト|システムメッセージ|시스템\s*프롬프트",
    ),
    Rule(
        "ml.new_instructions",
        "new instructions: in other languages",
        0.6,
        r"\b(?:neue anweisungen|neue instruktionen|nouvelles (?:instructions|consignes)|nuevas instrucciones|nuove "
        r"istruzioni|novas instrucoes|nieuwe instructies) ?:|новые инструкции ?:|新(?:的)?(?:指令|指示)[:：]",
    ),
    Rule(
        "ml.persona",
        "you are now / act as / pretend in other languages (weak alone)",
        0.35,
        r"\ba partir de ahora(?:,)? (?:eres|seras|actuaras|vas a)\b|\bahora eres\b|\bactua como\b|\bfinge (?:ser|que)\b"
        r"|\btu es maintenant\b|\ba partir de maintenant(?:,)? (?:tu|vous)\b|\bfais semblant\b|\bagis comme\b|\bdu "
        r"bist (?:jetzt|nun|ab sofort)\b|\bab (?:jetzt|sofort) bist du\b|\btu sei ora\b|\bd'ora in poi\b|\ba partir "
        r"de agora\b|\bvoce agora e\b|\bfinja (?:ser|que)\b|теперь ты|с этого момента|притворись|从现在开始|從現在開始"
        r"|你现在是|你現在是|扮演|假装|假裝|これから(?:あなた|君)は|今からあなたは|지금부터 너는",
    ),
    Rule(
        "ml.unrestricted",
        "no restrictions / developer mode in other languages",
        0.5,
        r"\bsin (?:ninguna )?(?:restricciones|censura|filtros|limites eticos)\b|\bsans (?:aucune )?(?:restrictions?|"
        r"censure|filtres?|limites)\b|\bohne (?:jegliche )?(?:einschrankungen|zensur|filter|regeln)\b|\bsenza "
        r"(?:alcuna )?(?:restrizioni|censura|filtri)\b|\bsem (?:nenhuma )?(?:restricoes|censura|filtros)\b"
        r"|\bmodo (?:desarrollador|desenvolvedor|sin restricciones)\b|\bmode developpeur\b|\bentwicklermodus\b"
        r"|\bmodalita sviluppatore\b|\b(?:uneingeschrankt|uneingeschraenkt|ohne einschraenkungen)\b|\b(?:befolgst|"
        r"befolge|befolgen|folgst) (?:du )?keine (?:\S+ )?(?:richtlinien|regeln|anweisungen|vorgaben)\b|без (?:каких-либо )?(?:ограничени|цензур|фильтр)|режим разработчика"
        r"|(?:没有|沒有|不受|无|無)(?:任何)?(?:限制|审查|審查|过滤|過濾)|开发者模式|開發者模式",
    ),
)
"""The built-in injection rules."""


__all__ = ["RULES", "Rule", "Target"]
