"""Every option is checked when the function is decorated, and no bound can be switched off by NaN."""

from __future__ import annotations

import math
import pickle
import typing
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import guardfn
from guardfn import ConfigurationError, guarded_llm
from guardfn.limits import limit_names
from guardfn.settings import Settings, build_settings

KEY = "sk-test-settings-0000000000000000"


def _numeric_fields() -> list[str]:
    """Every int or float option of Settings (bools excluded): each one bounds something."""
    names = []
    for name, field in Settings.model_fields.items():
        args = typing.get_args(field.annotation) or (field.annotation,)
        if any(arg in (int, float) for arg in args):
            names.append(field.alias or name)
    return names


NUMERIC = _numeric_fields()
NON_FINITE = [math.nan, math.inf, -math.inf]


def test_the_numeric_options_are_the_ones_this_file_expects() -> None:
    # a new numeric option is covered by the property test below automatically; this
    # guards against the helper silently finding nothing
    assert {"max_tokens", "timeout", "retry_backoff", "alert_usd", "pii_threshold", "budget_alert_ratio"} <= set(
        NUMERIC
    )


@given(option=st.sampled_from(NUMERIC), value=st.sampled_from(NON_FINITE))
def test_no_numeric_option_accepts_nan_or_infinity(option: str, value: float) -> None:
    with pytest.raises(ConfigurationError) as info:
        build_settings({}, {option: value})
    assert option in str(info.value)


@given(
    name=st.sampled_from(limit_names()),
    scope=st.sampled_from(["user", "global"]),
    value=st.sampled_from([*NON_FINITE, 0, -1, "5", True]),
)
def test_no_limit_accepts_nan_infinity_or_a_non_positive_value(name: str, scope: str, value: Any) -> None:
    limits = {name: value} if scope == "user" else {"global": {name: value}}
    with pytest.raises(ConfigurationError) as info:
        build_settings({}, {"limits": limits})
    assert name in str(info.value) and info.value.stage == "limits"


@given(value=st.sampled_from([*NON_FINITE, -0.5]), which=st.integers(0, 1))
def test_no_price_accepts_nan_infinity_or_a_negative_value(value: float, which: int) -> None:
    prices = [1.0, 2.0]
    prices[which] = value
    with pytest.raises(ConfigurationError, match="pricing"):
        build_settings({}, {"pricing": {"my-model": tuple(prices)}})


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-1", "0"])
def test_a_nan_limit_from_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    with monkeypatch.context() as env, pytest.raises(ConfigurationError, match="requests_per_minute"):
        env.setenv("GUARDFN_LIMITS", f'{{"requests_per_minute": {value}}}')

        @guarded_llm(model="gpt-4o-mini", api_key=lambda: KEY)
        def ask(q: str) -> str:
            return q


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"limits": {"requests_per_minute": -1}}, "requests_per_minute"),
        ({"limits": {"rpm": 5}}, "rpm"),
        ({"limits": {"requests_per_minute": math.nan}}, "requests_per_minute"),
        ({"limits": {"usd_per_day": math.nan}}, "usd_per_day"),
        ({"limits": {"global": {"tokens_per_day": math.inf}}}, "tokens_per_day"),
        ({"store": "redis://127.0.0.1:notaport/0"}, "port"),
        ({"store": "redis://127.0.0.1:6379/zero"}, "database"),
        ({"store": "ftp://x"}, "ftp"),
        ({"output_rules": {"max_chars": math.nan}}, "max_chars"),
        ({"alert_usd": math.nan}, "alert_usd"),
        ({"pii_threshold": math.nan}, "pii_threshold"),
    ],
)
def test_bad_options_are_refused_when_decorated_not_on_the_first_call(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):

        @guarded_llm(model="gpt-4o-mini", api_key=lambda: KEY, **options)
        def ask(q: str) -> str:
            return q


def test_a_store_url_password_is_never_shown_in_the_error() -> None:
    with pytest.raises(ConfigurationError) as info:
        build_settings({}, {"store": "redis://:hunter2-secret@127.0.0.1:notaport/0"})
    assert "hunter2" not in str(info.value)


def test_redis_store_without_the_redis_extra_names_the_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from guardfn import extras

    monkeypatch.setitem(extras.EXTRAS, "redis", ("guardfn_no_such_module",))
    with pytest.raises(ConfigurationError, match=r'pip install "guardfn\[redis\]"'):

        @guarded_llm(model="gpt-4o-mini", api_key=lambda: KEY, store="redis://127.0.0.1:6379/0")
        def ask(q: str) -> str:
            return q


# --- a literal key stays masked ----------------------------------------------------------------


def test_a_literal_key_is_masked_in_options_settings_and_pickles() -> None:
    with pytest.warns(guardfn.HardcodedKeyWarning):

        @guarded_llm(model="gpt-4o-mini", api_key=KEY)
        def ask(q: str) -> str:
            return q

    settings = ask.guard.engine.settings
    for shown in (repr(ask.guard.options), str(ask.guard.options), repr(settings), str(settings)):
        assert KEY not in shown and KEY[8:] not in shown
    blob = pickle.dumps(settings)
    assert KEY.encode() not in blob and KEY[8:].encode() not in blob
    copy = pickle.loads(blob)
    with pytest.raises(ConfigurationError, match="never pickled"):
        copy.api_key.get_secret_value()


def test_configure_with_a_literal_key_masks_it_too() -> None:
    from guardfn import settings as settings_mod

    with pytest.warns(guardfn.HardcodedKeyWarning):
        guardfn.configure(api_key=KEY)
    assert KEY not in repr(settings_mod.global_defaults())


def test_pii_without_the_pii_extra_names_the_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from guardfn import extras

    monkeypatch.setitem(extras.EXTRAS, "pii", ("guardfn_no_such_module",))
    with pytest.raises(ConfigurationError, match=r'pip install "guardfn\[pii\]"'):

        @guarded_llm(model="gpt-4o-mini", api_key=lambda: KEY, pii="redact")
        def ask(q: str) -> str:
            return q
