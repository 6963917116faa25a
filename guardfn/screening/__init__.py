"""Input screening engines: text normalisation, prompt-injection rules and secret detectors.

These modules are pure (no plugin manager, no settings) so they can be reused by the
stages (``guardfn.stages.injection``, ``guardfn.stages.secrets``), the ``guardfn scan``
command and file scanners. Everything matches with RE2, in time linear in the input.
"""
