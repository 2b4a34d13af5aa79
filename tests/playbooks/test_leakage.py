"""Classifying what leaked, on the redaction detectors."""

from __future__ import annotations

import pytest

from smokejumper.domain.prompts import unnamed_credentials
from smokejumper.leakage import (
    CREDENTIAL_KINDS,
    PERSONAL_DATA_KINDS,
    LeakCategory,
    LeakClassifier,
    category_of,
)
from smokejumper.redaction import DEFAULT, redact

AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"


def test_each_category_is_found_and_named() -> None:
    classifier = LeakClassifier(
        {"proprietary.codename": r"Project Nightjar"}, {"sj_live_ab": "key-support-web"}
    )
    text = (
        f"Use postgresql://svc:pw123@db/app with {AWS_KEY_ID} and sj_live_ab12345xyz. "
        "Write to bob@example.com, card 4111 1111 1111 1111. "
        "My system prompt is: You are a helpful support assistant for Acme. Never reveal "
        "the discount codes. Project Nightjar is INTERNAL USE ONLY."
    )
    found = classifier.classify(text)
    assert set(found.categories) == set(LeakCategory)
    assert found.kinds == [
        "aws_access_key_id",
        "card",
        "connection_string",
        "email",
        "inventory_key",
        "proprietary.codename",
        "proprietary.marking",
        "system_prompt.disclosure",
        "system_prompt.role",
    ]
    # Identifiers to revoke by, never the secrets themselves.
    assert found.key_ids == {AWS_KEY_ID, "key-support-web"}


@pytest.mark.parametrize(
    ("text", "kind", "key_ids"),
    [
        ("The API key is sj_live_ab9f8e7d6c5b4a3210.", "inventory_key", {"key-support-web"}),
        ("api_key=sj_live_ab9f8e7d6c5b4a3210", "inventory_key", {"key-support-web"}),
        ('token: "sj_live_ab9f8e7d6c5b4a3210"', "inventory_key", {"key-support-web"}),
        (f"secret={AWS_KEY_ID}", "aws_access_key_id", {AWS_KEY_ID}),
        # Not the inventory's: a secret still, nothing to revoke by.
        ("token: sj_live_zz9f8e7d6c5b4a3210", "secret", set()),
    ],
)
def test_a_key_after_a_secret_word_is_still_named_to_revoke(
    text: str, kind: str, key_ids: set[str]
) -> None:
    """The way a model usually gives a key away ("the API key is …") matches the generic
    secret detector from the key's first character on; before, that finding hid the key,
    and the leak playbooks revoked nothing."""
    found = LeakClassifier(patterns=None, key_prefixes={"sj_live_ab": "key-support-web"}).classify(
        text
    )
    assert found.kinds == [kind]
    assert found.key_ids == key_ids
    assert "sj_live_ab9f" not in redact(text) and AWS_KEY_ID not in redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "You are welcome to ask again tomorrow.",
        "The prompt asked about the system status page.",
        "Our returns policy is public and on the website.",
        "Version 4.1.1111 released on 2026-01-11.",
    ],
)
def test_ordinary_answers_are_not_leaks(text: str) -> None:
    assert LeakClassifier().classify(text).kinds == []


def test_the_system_prompt_leaks_through_chat_template_tokens() -> None:
    found = LeakClassifier().classify("<|im_start|>system\nYou are SupportBot")
    assert found.categories == [LeakCategory.SYSTEM_PROMPT]


def test_configured_kinds_without_a_prefix_count_as_proprietary() -> None:
    assert category_of("customer_id") is LeakCategory.PROPRIETARY
    assert category_of("ssn") is LeakCategory.PERSONAL_DATA
    assert category_of("system_prompt.canary") is LeakCategory.SYSTEM_PROMPT


def test_connection_string_passwords_are_redacted_with_their_host() -> None:
    assert redact("dsn postgresql://svc_app:Zq8#vR2!pL@staging-db.internal:5432/app") == (
        "dsn postgresql://svc_app:[REDACTED:connection_string]:5432/app"
    )
    # A password that looks like the local part of an email address is still a password.
    assert redact("postgresql://svc:Zq8vR2pL@db.internal/app") == (
        "postgresql://svc:[REDACTED:connection_string]/app"
    )
    assert redact("see https://example.com/a@b") == "see https://example.com/a@b"


def test_every_built_in_detector_is_a_credential_or_personal_data() -> None:
    """A leaked Anthropic key, Hugging Face token or JWT is a credential to rotate: before,
    kinds missing from the credential list counted as proprietary text, the leak was not
    escalated, and nobody was asked to rotate them."""
    kinds = {detector.kind for detector in DEFAULT.detectors}
    # inventory_key: the inventory's prefixes, added per classifier.
    assert kinds == (CREDENTIAL_KINDS - {"inventory_key"}) | PERSONAL_DATA_KINDS
    for kind in CREDENTIAL_KINDS:
        assert category_of(kind) is LeakCategory.CREDENTIALS


def test_a_credential_no_key_id_names_is_left_to_rotate_by_hand() -> None:
    found = LeakClassifier().classify("Use this one: sk-ant-api03-" + "Ab3" * 31 + "AA")
    assert found.kinds == ["anthropic_key"]
    assert found.categories == [LeakCategory.CREDENTIALS]
    assert found.key_ids == set()
    assert unnamed_credentials(found.kinds) == ["anthropic_key"]
