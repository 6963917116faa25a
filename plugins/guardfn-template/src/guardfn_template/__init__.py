"""guardfn-template: the starting point for a guardfn plugin, with one useful stage.

The stage, :mod:`guardfn_template.max_lines`, refuses prompts whose user messages have
more lines than a limit. Installing the distribution registers it as the plugin
``max_lines`` (entry-point group ``guardfn``). See README.md for a walk through every file.
"""

from __future__ import annotations

__version__ = "0.1.0"
