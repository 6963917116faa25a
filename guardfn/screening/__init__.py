"""Input screening engines: text normalisation, prompt-injection rules, the learned
injection screen and secret detectors.

These modules are pure (no plugin manager, no settings) so they can be reused by the
stages (``guardfn.stages.injection``, ``guardfn.stages.secrets``), ``guardfn.screen()``,
the ``guardfn scan`` command and file scanners. Rules match with RE2, in time linear in
the input; the learned screen (``model``, ``features``, ``readings``; trained by
``python -m guardfn.screening.train``) is numpy over the UTF-8 bytes, imported and read
on first use.
"""
