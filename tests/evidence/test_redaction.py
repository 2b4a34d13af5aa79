"""Redaction: each detector on realistic values, the look-alikes it must leave alone, and
properties over generated text."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smokejumper import redaction
from smokejumper.redaction import Finding, Redactor, classify, find, iban_valid, luhn_valid, redact

AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PRIVATE_KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bq98\nabcDEF==\n"
    "-----END RSA PRIVATE KEY-----"
)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        (f"key {AWS_KEY_ID} leaked", "aws_access_key_id", AWS_KEY_ID),
        ("temporary ASIAY34FZKBOKMUTVV7A creds", "aws_access_key_id", "ASIAY34FZKBOKMUTVV7A"),
        (f"aws_secret_access_key = {AWS_SECRET}", "aws_secret_access_key", AWS_SECRET),
        (f'"SecretAccessKey": "{AWS_SECRET}"', "aws_secret_access_key", AWS_SECRET),
        ("use sk-proj-Abc123def456GHI789jkl0 now", "openai_key", "sk-proj-Abc123def456GHI789jkl0"),
        ("OPENAI=sk-abcdefghijklmnopqrstuvwx", "openai_key", "sk-abcdefghijklmnopqrstuvwx"),
        ("slack xoxb-1234567890-abcdefghij ok", "slack_token", "xoxb-1234567890-abcdefghij"),
        ("gh ghp_" + "a1B2" * 9 + " end", "github_token", "ghp_" + "a1B2" * 9),
        (f"pem:\n{PRIVATE_KEY}\nafter", "private_key", PRIVATE_KEY),
        (
            "Authorization: Bearer 0b7f3c1e9a.d41d8cd98f00b204",
            "bearer_token",
            "0b7f3c1e9a.d41d8cd98f00b204",
        ),
        ("db password=hunter22! go", "credential", "hunter22!"),
        ('{"api_key": "abcd1234efgh"}', "credential", "abcd1234efgh"),
        ("mail jane.doe+ir@corp.example.co.uk today", "email", "jane.doe+ir@corp.example.co.uk"),
        ("call +44 20 7946 0958 today", "phone", "+44 20 7946 0958"),
        ("call +1-415-555-2671 today", "phone", "+1-415-555-2671"),
        ("call (415) 555-2671 today", "phone", "(415) 555-2671"),
        ("call 415.555.2671 today", "phone", "415.555.2671"),
        ("card 4111 1111 1111 1111.", "card", "4111 1111 1111 1111"),
        ("card 5500-0000-0000-0004 x", "card", "5500-0000-0000-0004"),
        ("amex 378282246310005 x", "card", "378282246310005"),
        ("iban GB82 WEST 1234 5698 7654 32 x", "iban", "GB82 WEST 1234 5698 7654 32"),
        ("iban DE89370400440532013000 x", "iban", "DE89370400440532013000"),
        ("ssn 123-45-6789 x", "ssn", "123-45-6789"),
    ],
)
def test_detects_and_redacts(text: str, kind: str, value: str) -> None:
    findings = find(text)

    assert [(f.kind, text[f.start : f.end]) for f in findings] == [(kind, value)]
    redacted = redact(text)
    assert value not in redacted
    assert f"[REDACTED:{kind}]" in redacted
    assert classify(text) == {kind}


@pytest.mark.parametrize(
    "text",
    [
        "version 1.2.3 and 10.0.19045.3693",
        "on 2024-01-15 at 12:30:45",
        "order 12345678901 and invoice 4111111111111112",
        "ip 192.168.100.200 port 8443",
        "the bearer of bad news and bearer responsibility",
        "ssn-like 000-12-3456 and 666-12-3456 and 123-00-4567",
        "iban GB00 WEST 1234 5698 7654 32 fails its checksum",
        "an email-ish user@localhost and @handle",
        "a hash 0123456789abcdef0123456789abcdef01234567 without context",
        "uuid 123e4567-e89b-12d3-a456-426614174000",
        "zeros 0000 0000 0000 0000 are filler",
    ],
)
def test_leaves_look_alikes_alone(text: str) -> None:
    assert find(text) == []
    assert redact(text) == text


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert luhn_valid("79927398713")
    assert not luhn_valid("4111111111111112")
    assert not luhn_valid("41111x1111111111")


def test_iban_checksum() -> None:
    assert iban_valid("GB82 WEST 1234 5698 7654 32")
    assert not iban_valid("GB83 WEST 1234 5698 7654 32")


def test_findings_are_ordered_and_disjoint() -> None:
    text = f"{AWS_KEY_ID} bob@example.com 4111 1111 1111 1111 123-45-6789"

    findings = find(text)

    assert [f.kind for f in findings] == ["aws_access_key_id", "email", "card", "ssn"]
    assert all(a.end <= b.start for a, b in itertools.pairwise(findings))
    assert findings[0] == Finding("aws_access_key_id", 0, len(AWS_KEY_ID))


def test_extra_patterns() -> None:
    redactor = Redactor({"employee_id": r"\bEMP-\d{6}\b"})

    assert redactor.redact("by EMP-123456 and bob@example.com") == (
        "by [REDACTED:employee_id] and [REDACTED:email]"
    )
    # The built-in detectors are shared, not changed, by a redactor of one's own.
    assert redaction.classify("EMP-123456") == set()


def test_an_extra_pattern_matching_markers_still_terminates() -> None:
    redactor = Redactor({"greedy": r"REDACTED|\w+"})

    redacted = redactor.redact("hello bob@example.com")

    assert redacted == "[REDACTED:greedy] [REDACTED:email]"
    assert redactor.redact(redacted) == redacted


@pytest.mark.parametrize(
    ("extra", "message"),
    [({"Bad Name": "x"}, "must match"), ({"ok": "("}, "not a valid regex")],
)
def test_bad_extra_patterns_are_refused(extra: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Redactor(extra)


# -- properties ------------------------------------------------------------------------------


def _luhn_complete(body: str) -> str:
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("unreachable: one check digit always completes a Luhn number")


cards = st.from_regex(r"4[0-9]{14}", fullmatch=True).map(_luhn_complete)
key_ids = st.from_regex(r"AKIA[A-Z0-9]{16}", fullmatch=True)
emails = st.from_regex(r"[a-z][a-z0-9._]{0,10}[a-z0-9]@[a-z]{2,10}\.(com|org|io)", fullmatch=True)
secrets = st.one_of(cards, key_ids, emails)
filler = st.text(alphabet="abcdefghijklmnop qrstuvwxyz.,:;\n", max_size=40)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(filler, secrets), max_size=6), filler)
def test_planted_values_never_survive(pieces: list[tuple[str, str]], tail: str) -> None:
    text = "".join(f"{before} {value} " for before, value in pieces) + tail

    redacted = redact(text)

    for _, value in pieces:
        assert value not in redacted


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300) | st.text(alphabet="0123456789 -+().@abcAKIxo_=:\n", max_size=300))
def test_redact_leaves_nothing_detectable_and_is_idempotent(text: str) -> None:
    redacted = redact(text)

    assert find(redacted) == []
    assert redact(redacted) == redacted
    assert len(find(redacted)) <= len(find(text))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_every_finding_is_a_real_span_of_its_text(text: str) -> None:
    for finding in find(text):
        assert 0 <= finding.start < finding.end <= len(text)
        assert "[REDACTED:" not in text[finding.start : finding.end]


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"[0-9]{13,19}", fullmatch=True), st.sampled_from(["", " ", "-"]))
def test_luhn_invalid_numbers_are_not_cards(digits: str, separator: str) -> None:
    grouped = separator.join(re.findall(r".{1,4}", digits))

    kinds = classify(f"number {grouped} end")

    assert ("card" in kinds) == (luhn_valid(digits) and len(set(digits)) > 1)


@pytest.mark.parametrize(
    "identifier",
    [
        # Hex ids whose digits start with a Luhn-valid run of 13: found in random UUIDs.
        "7596996129144cf99acdfcf27ae06616",
        "4111111111111111aaaabbbbccccdddd",
        "deadbeef4111111111111111deadbeefcafe",
    ],
)
def test_digits_inside_a_hex_identifier_are_not_a_card(identifier: str) -> None:
    assert redact(f"session {identifier} ended") == f"session {identifier} ended"


def test_a_card_number_beside_a_short_token_is_still_found() -> None:
    assert redact("x4111111111111111") == "x[REDACTED:card]"
    # One character short of an identifier: still a card inside it.
    assert redact("7596996129144cf99acdfcf27ae0661").startswith("[REDACTED:card]")
