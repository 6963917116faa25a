"""Sub-commands of the ``guardfn`` CLI, one module per command, loaded only when run.

``COMMANDS`` maps a command name to ``"module:attribute"`` of a :class:`click.Command`.
"""

from __future__ import annotations

COMMANDS: dict[str, str] = {
    "demo": "guardfn.commands.demo:demo",
    "plugins": "guardfn.commands.plugins:plugins",
    "usage": "guardfn.commands.usage:usage",
    "scan": "guardfn.commands.scan:scan",
    "keys": "guardfn.commands.keys:keys",  # issue 8
    "scan-secrets": "guardfn.commands.scan_secrets:scan_secrets",  # issue 8
    "report": "guardfn.commands.report:report",  # issue 7
    "purge": "guardfn.commands.purge:purge",  # issue 7
}
