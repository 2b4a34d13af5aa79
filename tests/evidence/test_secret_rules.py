"""The provider key and token rules: each kind found at the lengths its provider issues, in
the contexts it turns up in (prose, JSON, an environment line, a URL), and the look-alikes
(UUIDs, git SHAs, digests, ordinary words) left alone so previews stay readable."""

from __future__ import annotations

import json
import random
import string

import pytest

from smokejumper.redaction import entropy, find, redact

_RANDOM = random.Random(1515)
ALNUM = string.ascii_letters + string.digits


def rand(length: int, alphabet: str = ALNUM) -> str:
    """A value as a provider generates it: random characters, so of realistic entropy."""
    return "".join(_RANDOM.choice(alphabet) for _ in range(length))


B64 = ALNUM + "/+"
URLSAFE = ALNUM + "_-"

# (kind, value) at each real length: the shapes gitleaks' rules and the providers' docs give.
POSITIVES: list[tuple[str, str]] = [
    ("aws_access_key_id", "AKIA" + rand(16, string.ascii_uppercase + string.digits)),
    ("aws_access_key_id", "ASIA" + rand(16, string.ascii_uppercase + string.digits)),
    ("google_api_key", "AIza" + rand(35, URLSAFE)),
    ("huggingface_token", "hf_" + rand(34, string.ascii_letters)),
    ("huggingface_token", "api_org_" + rand(34)),
    ("openai_key", "sk-" + rand(48)),
    ("openai_key", "sk-proj-" + rand(156, URLSAFE)),
    ("openai_key", "sk-svcacct-" + rand(74, URLSAFE) + "T3BlbkFJ" + rand(74, URLSAFE)),
    ("anthropic_key", "sk-ant-api03-" + rand(93, URLSAFE) + "AA"),
    ("anthropic_key", "sk-ant-admin01-" + rand(93, URLSAFE) + "AA"),
    ("github_token", "ghp_" + rand(36)),
    ("github_token", "gho_" + rand(36)),
    ("github_token", "github_pat_" + rand(22) + "_" + rand(59)),
    ("gitlab_token", "glpat-" + rand(20, URLSAFE)),
    (
        "slack_token",
        "xoxb-" + rand(12, string.digits) + "-" + rand(13, string.digits) + "-" + rand(24),
    ),
    ("slack_token", "xoxp-" + "-".join(rand(12, string.digits) for _ in range(3)) + "-" + rand(32)),
    (
        "slack_token",
        "xapp-1-A"
        + rand(10, string.ascii_uppercase)
        + "-"
        + rand(13, string.digits)
        + "-"
        + rand(64, "0123456789abcdef"),
    ),
    ("stripe_key", "sk_live_" + rand(99)),
    ("stripe_key", "rk_live_" + rand(24)),
    ("groq_key", "gsk_" + rand(52)),
    ("xai_key", "xai-" + rand(80)),
    (
        "jwt",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUifQ."
        + rand(43, URLSAFE),
    ),
]


def _wrapped(value: str) -> list[str]:
    """The places a key turns up: prose, a JSON string, an env line, a URL, a code block."""
    return [
        f"here it is: {value} use it",
        json.dumps({"response": f"the key is {value}"}),
        f"export TOKEN_FOR_APP={value}\n",
        f"https://api.example.test/v1?key={value}&x=1",
        f"```\n{value}\n```",
        f"({value}).",
    ]


@pytest.mark.parametrize(("kind", "value"), POSITIVES, ids=[f"{k}-{len(v)}" for k, v in POSITIVES])
def test_provider_keys_found_whole_in_any_context(kind: str, value: str) -> None:
    for text in _wrapped(value):
        found = [(f.kind, text[f.start : f.end]) for f in find(text)]
        assert (kind, value) in found, (text, found)
        redacted = redact(text)
        assert value not in redacted
        # Nothing of the key's random part survives either.
        assert value[-12:] not in redacted


AWS_SECRET_40 = rand(40, B64)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        # The reported leak: a 34-character secret after the word "secret".
        (f"aws secret {rand(34, B64)}", "secret", None),
        (f"my AWS secret is {rand(34, B64)} ok", "secret", None),
        (f"aws_secret_access_key = {AWS_SECRET_40}", "aws_secret_access_key", AWS_SECRET_40),
        (f'{{"SecretAccessKey": "{AWS_SECRET_40}"}}', "aws_secret_access_key", AWS_SECRET_40),
        (f"AWS_SECRET_ACCESS_KEY={AWS_SECRET_40}", "aws_secret_access_key", AWS_SECRET_40),
        (f"the signing secret: {rand(32, '0123456789abcdef')}", "secret", None),
        (f"db password was set to {rand(20)}!", "secret", None),
        (f"api key {rand(24)} for billing", "secret", None),
        (f"access token => '{rand(64, URLSAFE)}'", "secret", None),
        (f"client credentials {rand(40, B64)}==", "secret", None),
    ],
)
def test_high_entropy_values_after_secret_words(text: str, kind: str, value: str | None) -> None:
    findings = find(text)
    assert [f.kind for f in findings] == [kind], (text, findings)
    secret = text[findings[0].start : findings[0].end]
    if value is not None:
        assert secret == value
    assert len(secret) >= 16
    assert secret not in redact(text)


@pytest.mark.parametrize(
    "text",
    [
        # Bare digests and ids: no secret-like word before them.
        "commit 3f2a9c1d0e8b7a6f5e4d3c2b1a0f9e8d7c6b5a49 fixed it",
        "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "request 123e4567-e89b-12d3-a456-426614174000 failed",
        f"blob {rand(40, B64)} in the cache",
        # Secret-like words with ordinary text after them.
        "the secret sauce is patience and practice",
        "token limit exceeded: 4096 tokens per request",
        "password reset requested for the support account",
        "session token 123e4567-e89b-12d3-a456-426614174000 expired",
        "rotate the api key every ninety days",
        "secret_santa_assignments_for_december",
        # Prefix look-alikes too short to be keys.
        "sk-learn is a library; hf_hub and gsk_test are names",
        "eyeglasses.eyebrows.eye",
        "AIzaTooShort and xai-grok-2 and glpat-short",
        "sk_live_ alone, pk_test_ alone",
    ],
)
def test_look_alikes_are_left_alone(text: str) -> None:
    assert find(text) == [], [(f.kind, text[f.start : f.end]) for f in find(text)]
    assert redact(text) == text


def test_entropy_separates_random_values_from_words() -> None:
    assert entropy(rand(34, B64)) > 4.0
    assert entropy("ab" * 20) == 1.0
    assert entropy("") == 0.0
