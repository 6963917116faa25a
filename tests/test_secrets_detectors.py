"""Secret detectors: every kind found and redacted, placeholders left alone, spans reusable."""

from __future__ import annotations

import itertools
import random
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardfn.screening.secrets import (
    DETECTORS,
    Detector,
    SecretScanner,
    find_secrets,
    redact_secrets,
    shannon_entropy,
)

RNG = random.Random(20240607)
ALNUM = string.ascii_letters + string.digits


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


AWS_SECRET = rand(40, ALNUM + "/+")
CASES = {
    "openai": [f"sk-proj-{rand(48, ALNUM + '_-')}", f"sk-svcacct-{rand(40)}", f"sk-{rand(20)}T3BlbkFJ{rand(20)}"],
    "anthropic": [f"sk-ant-api03-{rand(93, ALNUM + '_-')}AA", f"sk-ant-admin01-{rand(60)}"],
    "aws_access_key": ["AKIA" + rand(16, string.ascii_uppercase + "234567"), "ASIA" + rand(16, string.ascii_uppercase)],
    "github": [f"ghp_{rand(36)}", f"github_pat_{rand(22)}_{rand(59)}", f"gho_{rand(36)}"],
    "gitlab": [f"glpat-{rand(20, ALNUM + '_-')}", f"gldt-{rand(20)}"],
    "slack": [f"xoxb-{rand(11, string.digits)}-{rand(12, string.digits)}-{rand(24)}",
              f"https://hooks.slack.com/services/T{rand(8)}/B{rand(8)}/{rand(24)}"],
    "stripe": [f"sk_live_{rand(24)}", f"rk_test_{rand(24)}"],
    "huggingface": [f"hf_{rand(34, string.ascii_letters)}"],
    "google_api_key": [f"AIza{rand(35, ALNUM + '_-')}"],
    "jwt": [f"eyJ{rand(20)}.eyJ{rand(40)}.{rand(43, ALNUM + '_-')}"],
}


@pytest.mark.parametrize(("kind", "value"), [(k, v) for k, vs in CASES.items() for v in vs])
def test_each_kind_is_found_and_redacted(kind: str, value: str) -> None:
    text = f"Why does {value} fail with 401?"
    (match,) = find_secrets(text)
    assert match.kind == kind
    assert text[match.start:match.end] == value
    assert redact_secrets(text) == f"Why does [SECRET:{kind}] fail with 401?"


def test_assignments_keep_their_name_and_redact_the_value() -> None:
    text = (
        f'aws_secret_access_key = "{AWS_SECRET}"\n'
        "DB_PASSWORD=Tr0ub4dor&3\n"
        "my password is hunter2!\n"
        f"api_token: {rand(32, string.hexdigits.lower())}\n"
        f"Authorization: Bearer {rand(40)}\n"
        "postgres://app:s3cretPassw0rd@db.internal:5432/prod\n"
    )
    redacted = redact_secrets(text)
    assert redacted == (
        'aws_secret_access_key = "[SECRET:aws_secret_key]"\n'
        "DB_PASSWORD=[SECRET:password]\n"
        "my password is [SECRET:password]\n"
        "api_token: [SECRET:generic_secret]\n"
        "Authorization: Bearer [SECRET:generic_secret]\n"
        "postgres://app:[SECRET:password]@db.internal:5432/prod\n"
    )


def test_private_key_blocks_are_redacted_whole() -> None:
    body = "\n".join(rand(64, ALNUM + "+/") for _ in range(5))
    text = f"key:\n-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----\nthanks"
    assert redact_secrets(text) == "key:\n[SECRET:private_key]\nthanks"
    truncated = f"-----BEGIN RSA PRIVATE KEY-----\n{body}"
    assert redact_secrets(truncated) == "[SECRET:private_key]"


@pytest.mark.parametrize(
    "text",
    [
        "export OPENAI_API_KEY=sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
        "password = os.environ['DB_PASSWORD']",
        "token = ${GITHUB_TOKEN}",
        "api_key: <your-api-key-here>",
        "The password field is required.",
        "Use a token bucket to rate limit requests per key.",
        "See https://example.com/docs/keys for the secret manager guide.",
    ],
)
def test_placeholders_and_prose_are_left_alone(text: str) -> None:
    assert find_secrets(text) == []
    assert redact_secrets(text) == text


def test_spans_do_not_overlap_and_prefer_the_specific_kind() -> None:
    key = f"sk-proj-{rand(48)}"
    text = f"OPENAI_API_KEY={key} and again api_key: {key}"
    matches = find_secrets(text)
    assert [m.kind for m in matches] == ["openai", "openai"]
    assert all(a.end <= b.start for a, b in itertools.pairwise(matches))


def test_plugin_detectors_extend_the_scanner() -> None:
    extra = Detector("acme", r"\bacme_[0-9a-f]{24}\b", "ACME internal tokens")
    scanner = SecretScanner([*DETECTORS, extra])
    token = "acme_" + rand(24, "0123456789abcdef")
    assert scanner.redact(f"use {token}").text == "use [SECRET:acme]"
    assert scanner.redact(f"use {token}").counts == {"acme": 1}
    assert "acme" in scanner.kinds


def test_invalid_detector_pattern_is_named() -> None:
    with pytest.raises(ValueError, match="broken"):
        SecretScanner([Detector("broken", r"(?<=x)y")])


def test_entropy() -> None:
    assert shannon_entropy("aaaa") == 0
    assert shannon_entropy("abcd") == 2


@given(st.text(max_size=400))
def test_redaction_is_total_and_idempotent(text: str) -> None:
    once = redact_secrets(text)
    assert redact_secrets(once) == once
    for m in find_secrets(text):
        assert 0 <= m.start < m.end <= len(text)


@given(st.sampled_from([v for vs in CASES.values() for v in vs]), st.text(alphabet=" .,;\n", max_size=5))
def test_a_pasted_secret_never_survives_redaction(value: str, sep: str) -> None:
    redacted = redact_secrets(f"before{sep} {value} {sep}after")
    assert value not in redacted
    assert "[SECRET:" in redacted
