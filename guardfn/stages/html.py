"""The ``html`` stage: the answer's HTML is sanitised (nh3) or escaped before the caller gets it.

Settings: ``output_rules={"html": "sanitize" | "escape", "html_tags": [...],
"html_attributes": {...}}`` (see :mod:`guardfn.output.config`). ``"sanitize"`` keeps
only the allowed tags (p, ul, ol, li, strong, em, code, pre by default), no attributes
unless allowed, and drops ``<script>`` / ``<style>`` with their content;
``"escape"`` escapes all markup. It applies to the text, to every string of a validated
object, and to streamed chunks (a tag split across chunks is held until complete). It
runs after PII restoration, so restored values are sanitised too.
"""

from __future__ import annotations

import functools
from typing import Any

from guardfn.call import Call, Response
from guardfn.errors import ConfigurationError
from guardfn.hookspecs import hookimpl
from guardfn.output.config import OutputRulesConfig, config_of
from guardfn.output.html import HtmlCleaner, StreamSanitizer, escape
from guardfn.output.walk import map_strings
from guardfn.settings import Settings
from guardfn.streams import transform_stream

NAME = "html"


def active(settings: Settings) -> bool:
    """Whether this stage runs for a function with these settings (``output_rules={"html": ...}``)."""
    return config_of(settings).html is not None


@functools.lru_cache(maxsize=64)
def _cleaner(tags: tuple[str, ...], attributes: tuple[tuple[str, tuple[str, ...]], ...]) -> HtmlCleaner:
    return HtmlCleaner(tags, dict(attributes))


_by_config: dict[int, tuple[OutputRulesConfig, HtmlCleaner]] = {}


def cleaner_for(config: OutputRulesConfig) -> HtmlCleaner:
    """The (cached) sanitiser for a configuration's allow-lists."""
    hit = _by_config.get(id(config))
    if hit is not None and hit[0] is config:
        return hit[1]
    cleaner = _cleaner(tuple(sorted(config.html_tags)), tuple(sorted(config.html_attributes.items())))
    if len(_by_config) > 256:
        _by_config.clear()
    _by_config[id(config)] = (config, cleaner)
    return cleaner


@hookimpl
def guardfn_configure(settings: Settings) -> None:
    """Runs when settings are built: builds the sanitiser once so a bad allow-list fails early."""
    config = config_of(settings)
    if config.html == "sanitize":
        try:
            cleaner_for(config)
        except Exception as exc:
            raise ConfigurationError(
                f"invalid html_tags / html_attributes ({type(exc).__name__})", stage=NAME
            ) from None


@hookimpl
def guardfn_transform_output(call: Call, response: Response) -> None:
    """Runs after the output checks and PII restoration: sanitises or escapes the text and
    every string of the parsed object."""
    config = config_of(call.settings)
    if config.html is None:
        return
    fn = escape if config.html == "escape" else cleaner_for(config).clean
    cleaned = fn(response.text)
    if cleaned != response.text:
        call.record_change(NAME, "response.text", 1)
        response.text = cleaned
    if response.parsed is not None:
        response.parsed = map_strings(response.parsed, fn)


@hookimpl
def guardfn_wrap_stream(call: Call, chunks: Any) -> Any:
    """Runs once per streamed call, after the output rules: sanitises or escapes chunks as
    they arrive."""
    config = config_of(call.settings)
    if config.html is None:
        return None
    sanitizer = StreamSanitizer(config.html, cleaner_for(config) if config.html == "sanitize" else None)
    return transform_stream(chunks, sanitizer, call.is_async)

