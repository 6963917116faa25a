"""The ``guardfn`` command line: a click group whose sub-commands load lazily."""

from __future__ import annotations

import importlib
from typing import Any

import click

from guardfn.commands import COMMANDS


class LazyGroup(click.Group):
    """A group that imports a sub-command's module only when that command runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target.partition(":")
        command: Any = getattr(importlib.import_module(module_name), attr)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="guardfn")
def main() -> None:
    """guardfn: guarded calls to hosted LLMs."""


if __name__ == "__main__":  # pragma: no cover
    main()
