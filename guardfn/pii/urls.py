"""URL: links that identify a person (profiles, social accounts, personal pages).

Documentation, product and repository links are not personal data and stay: only a
profile-shaped path on a known social or profile host, a personal subdomain
(``jdoe.github.io``, ``jdoe.substack.com``), a Mastodon-style ``/@user`` or a ``/~user``
home page counts.
"""

from __future__ import annotations

import re

from guardfn.pii.detection import Detection

RECOGNIZER = "guardfn.urls"
"""The recognizer name reported for URL."""

SCORE = 0.85

_URL = re.compile(r"(?i)\b(?:https?://)?(?:www\.|m\.|mobile\.)?((?:[a-z0-9-]+\.)+[a-z]{2,})(/[^\s<>\"'`)\]}|,;]*)?")
_TRIGGER = re.compile(r"(?i)\.(?:com|net|io|me|tv|app|ee|co|org)\b|/@|/~")

TRIGGER = r"(?i)\.(?:com|net|[iİı]o|me|tv|app|ee|co|org)\b|/@|/~"
"""An RE2 pattern that matches wherever :func:`find_personal_urls` can find anything (the
engine's one gate pass; see :data:`guardfn.pii.licences.TRIGGER` for the "i")."""

_RESERVED = frozenset(
    [
        "home",
        "explore",
        "search",
        "settings",
        "login",
        "logout",
        "signup",
        "register",
        "about",
        "help",
        "privacy",
        "terms",
        "i",
        "intent",
        "share",
        "hashtag",
        "notifications",
        "messages",
        "compose",
        "jobs",
        "company",
        "companies",
        "school",
        "groups",
        "events",
        "pages",
        "feed",
        "watch",
        "results",
        "explore",
        "topics",
        "features",
        "pricing",
        "docs",
        "blog",
        "en",
        "us",
        "legal",
        "security",
        "status",
        "orgs",
        "organizations",
        "marketplace",
        "sponsors",
        "enterprise",
        "trending",
        "collections",
        "login_required",
        "policies",
    ]
)
# host -> regex for a profile path (after the host)
_PROFILE_PATHS: dict[str, str] = {
    "linkedin.com": r"/(?:in|pub)/[\w%.-]{2,}",
    "twitter.com": r"/(?!(?:{r})\b)@?\w{2,15}/?(?:$|[?#])",
    "x.com": r"/(?!(?:{r})\b)@?\w{2,15}/?(?:$|[?#])",
    "facebook.com": r"/(?!(?:{r})\b)(?:profile\.php\?id=\d+|[\w.]{3,}/?(?:$|[?#]))",
    "fb.com": r"/[\w.]{3,}/?(?:$|[?#])",
    "instagram.com": r"/(?!(?:{r})\b)[\w.]{2,30}/?(?:$|[?#])",
    "tiktok.com": r"/@[\w.]{2,}",
    "threads.net": r"/@[\w.]{2,}",
    "medium.com": r"/@[\w.-]{2,}",
    "youtube.com": r"/(?:@[\w.-]{2,}|user/\w+|c/\w+|channel/[\w-]+)",
    "reddit.com": r"/(?:user|u)/[\w-]{2,}",
    "github.com": r"/(?!(?:{r})\b)[A-Za-z0-9-]{2,39}/?(?:$|[?#])",
    "gitlab.com": r"/(?!(?:{r})\b)[A-Za-z0-9_.-]{2,}/?(?:$|[?#])",
    "t.me": r"/\w{4,}",
    "wa.me": r"/\d{6,}",
    "pinterest.com": r"/(?!(?:{r})\b)\w{3,}/?(?:$|[?#])",
    "snapchat.com": r"/add/[\w.-]+",
    "bsky.app": r"/profile/[\w.-]+",
    "about.me": r"/[\w.-]{2,}",
    "keybase.io": r"/\w{2,}",
    "linktr.ee": r"/[\w.]{2,}",
    "calendly.com": r"/[\w-]{2,}",
    "venmo.com": r"/(?:u/)?[\w-]{2,}",
    "paypal.me": r"/[\w-]{2,}",
    "cash.app": r"/\$\w+",
    "patreon.com": r"/(?!(?:{r})\b)\w{2,}/?(?:$|[?#])",
    "twitch.tv": r"/(?!(?:{r})\b)\w{3,}/?(?:$|[?#])",
    "soundcloud.com": r"/(?!(?:{r})\b)[\w-]{2,}/?(?:$|[?#])",
    "behance.net": r"/[\w-]{2,}",
    "dribbble.com": r"/(?!(?:{r})\b)[\w-]{2,}/?(?:$|[?#])",
    "wellfound.com": r"/u/[\w-]+",
    "angel.co": r"/u/[\w-]+",
    "stackoverflow.com": r"/users/\d+",
    "orcid.org": r"/\d{4}-\d{4}-\d{4}-\d{3}[\dX]",
    "scholar.google.com": r"/citations\?.*user=",
    "flickr.com": r"/(?:people|photos)/[\w@-]+",
    "vimeo.com": r"/(?!\d+\b)(?!(?:{r})\b)[a-z][\w]{2,}/?(?:$|[?#])",
    "quora.com": r"/profile/[\w-]+",
    "mastodon.social": r"/@\w+",
    "xing.com": r"/profile/[\w-]+",
}
_PATHS = {host: re.compile(path.replace("{r}", "|".join(sorted(_RESERVED)))) for host, path in _PROFILE_PATHS.items()}
_PERSONAL_SUBDOMAIN = re.compile(
    r"(?i)^[\w-]+\.(?:github\.io|gitlab\.io|substack\.com|tumblr\.com|wordpress\.com|blogspot\.com|carrd\.co|bio\.link)$"
)
_GENERIC = re.compile(r"^/(?:@[\w.-]{2,}|~[\w.-]{2,})")
_NOT_PERSONAL_SUB = frozenset({"www", "docs", "blog", "api", "help", "support", "status", "developer", "engineering"})


def is_personal_url(host: str, path: str) -> bool:
    """True when ``host`` + ``path`` (path starting with "/", or "") looks like a person's profile or page."""
    host = host.lower().removeprefix("www.").removeprefix("m.").removeprefix("mobile.")
    if _PERSONAL_SUBDOMAIN.match(host):
        return host.split(".", 1)[0] not in _NOT_PERSONAL_SUB
    pattern = _PATHS.get(host)
    if pattern is not None:
        return bool(path) and pattern.match(path) is not None
    return bool(path) and _GENERIC.match(path) is not None


def find_personal_urls(text: str) -> list[Detection]:
    """URL spans that identify a person (see the module docstring)."""
    if not _TRIGGER.search(text):
        return []
    out = []
    for m in _URL.finditer(text):
        host, path = m.group(1), m.group(2) or ""
        if m.start() > 0 and text[m.start() - 1] == "@":
            continue  # an e-mail address
        end = m.end()
        while end > m.start() and text[end - 1] in ".!?":
            end -= 1  # sentence punctuation
        path = path[: len(path) - (m.end() - end)] if path else path
        if is_personal_url(host, path):
            out.append(Detection("URL", m.start(), end, SCORE))
    return out
