"""Output validation: the model's answer is untrusted input to the code that uses it.

One job per module, none of them importing anything heavy at import time:

* :mod:`guardfn.output.extract` finds the JSON value in a model's answer (code fences,
  leading prose, trailing text);
* :mod:`guardfn.output.schema` validates it against a pydantic model or any type
  pydantic's ``TypeAdapter`` takes, builds the provider's native structured-output
  request and the re-ask message;
* :mod:`guardfn.output.fold` normalises text for matching (NFKC, confusable letters,
  case) while keeping offsets into the original;
* :mod:`guardfn.output.rules` holds the output rules (prohibited terms, allowed domains,
  maximum length, canary leak) and the :class:`~guardfn.output.rules.OutputRule`
  protocol plugins implement;
* :mod:`guardfn.output.html` sanitises (nh3) or escapes HTML;
* :mod:`guardfn.output.streaming` applies rules to a stream of chunks, holding back only
  what a rule still needs;
* :mod:`guardfn.output.walk` maps a function over every string inside a parsed value.

The pipeline stages that use them are :mod:`guardfn.stages.schema`,
:mod:`guardfn.stages.output_rules` and :mod:`guardfn.stages.html`.
"""
