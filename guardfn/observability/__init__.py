"""Observability: what every call cost and why any call was refused, without a second leak.

* :mod:`guardfn.observability.facts` — the export-safe summary of one finished call
  (counts, ids, codes; never prompt or response text, PII, placeholders or keys);
* :mod:`guardfn.observability.metrics` — DogStatsD metrics through the ``datadog`` client;
* :mod:`guardfn.observability.audit` — one JSON audit record per call;
* :mod:`guardfn.observability.content_log` — the opt-in, encrypted log of full prompts
  and responses for security review;
* :mod:`guardfn.observability.alerts` — the default alert reaction and the detectors
  (injection bursts, budget thresholds).

The stages in :mod:`guardfn.stages` (``metrics``, ``audit``, ``content_log``, ``alerts``)
wire these into the ``guardfn_record`` and ``guardfn_alert`` hooks. Heavy packages
(``datadog``, ``cryptography``) are imported on first use only.
"""
