"""The built-in stages, one module per control, each registered as a plugin.

``BUILTIN_STAGES`` lists ``(name, module)`` in execution order within a step: when two
stages implement the same hook, the one listed first runs first. The plugin manager
registers them (as ``trylast`` defaults) before entry-point and explicit plugins, so a
plugin registered under one of these names replaces the built-in.

Stage modules must import quickly: load heavy packages inside functions.
"""

from __future__ import annotations

BUILTIN_STAGES: tuple[tuple[str, str], ...] = (
    # configure / keys
    ("provider_select", "guardfn.stages.provider_select"),
    ("api_key", "guardfn.stages.api_key"),
    ("aws_secrets", "guardfn.stages.aws_secrets"),  # issue 8
    ("env_keys", "guardfn.stages.env_keys"),
    # screen input (issue 4): input_limits, secrets, injection
    ("input_limits", "guardfn.stages.input_limits"),
    ("secrets", "guardfn.stages.secrets"),
    ("injection", "guardfn.stages.injection"),
    ("judge", "guardfn.stages.judge"),  # issue 16: the grey zone of injection, output policies
    # transform input (issue 5): pii
    ("pii", "guardfn.stages.pii"),
    # reserve / settle (issue 3): pricing computes the cost before limits settles against it
    ("pricing", "guardfn.stages.pricing"),
    ("limits", "guardfn.stages.limits"),
    # call model
    ("openai", "guardfn.providers.openai"),
    ("anthropic", "guardfn.providers.anthropic"),
    # check tool calls (issue 15): after pii (which restores the arguments), before output_rules
    ("tools", "guardfn.stages.tools"),
    # check / transform output (issue 6): schema, output_rules, html
    ("schema", "guardfn.stages.schema"),
    ("output_rules", "guardfn.stages.output_rules"),
    ("html", "guardfn.stages.html"),
    # record (issue 7): metrics, audit, content_log, alerts
    ("metrics", "guardfn.stages.metrics"),
    ("audit", "guardfn.stages.audit"),
    ("content_log", "guardfn.stages.content_log"),
    ("alerts", "guardfn.stages.alerts"),
)
