"""One module per provider SDK, each a plugin implementing ``guardfn_call_model``."""
