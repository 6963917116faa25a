"""Sub-commands of the ``guardfn`` CLI, one module per command, loaded only when run.

``COMMANDS`` maps a command name to ``"module:attribute"`` of a :class:`click.Command`.
"""

from __future__ import annotations

import click

COMMANDS: dict[str, str] = {
    "demo": "guardfn.commands.demo:demo",
    "plugins": "guardfn.commands.plugins:plugins",
    "usage": "guardfn.commands.usage:usage",
    "scan": "guardfn.commands.scan:scan",
    "keys": "guardfn.commands.keys:keys",  # issue 8
    "scan-secrets": "guardfn.commands.scan_secrets:scan_secrets",  # issue 8
    "report": "guardfn.commands.report:report",  # issue 7
    "purge": "guardfn.commands.purge:purge",  # issue 7
    "config": "guardfn.commands.config:config",  # issue 19
    "prices": "guardfn.commands.prices:prices",  # issue 19
}


class CannotRun(click.ClickException):
    """The command could not do its job (a file or store it cannot reach): exit status 2,
    like a usage error, so that 1 always means "the command found something"."""

    exit_code = 2


EXIT_STATUS = "Exit status: 0 success, 2 a usage or configuration error or a file or store that could not be read."
"""The ``-h`` epilog of commands that find nothing (``scan``, ``scan-secrets``, ``keys check`` say what 1 means)."""
