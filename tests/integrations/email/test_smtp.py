"""The SMTP sender against a real SMTP server: delivered as addressed; refusals that a
retry cannot change are not retryable; a server that is down is."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from integrations.email.smtp import EmailError, SmtpSender
from smokejumper.settings.email import EmailSettings
from tests.helpers import free_port
from tests.integrations.email.conftest import REFUSED_DOMAIN, Mailbox


def message(to: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "ir@smokejumper.example"
    mail["To"] = to
    mail["Subject"] = "[Security incident INC-2026-0001] model support-llm"
    mail.set_content("What we found: a digest mismatch.")
    return mail


def test_delivered_as_addressed(mailbox: Mailbox) -> None:
    SmtpSender(EmailSettings(**mailbox.settings())).send(message("psirt@vendor.example"))
    [(recipients, received)] = mailbox.received
    assert recipients == ["psirt@vendor.example"]
    assert received["Subject"] == "[Security incident INC-2026-0001] model support-llm"
    assert "digest mismatch" in received.get_content()


def test_a_refused_recipient_is_not_retried(mailbox: Mailbox) -> None:
    sender = SmtpSender(EmailSettings(**mailbox.settings()))
    with pytest.raises(EmailError, match="recipient refused") as refused:
        sender.send(message(f"psirt@{REFUSED_DOMAIN}"))
    assert not refused.value.retryable and mailbox.received == []


def test_starttls_the_server_does_not_offer_is_a_configuration_error(mailbox: Mailbox) -> None:
    sender = SmtpSender(EmailSettings(**mailbox.settings(security="starttls")))
    with pytest.raises(EmailError, match="does not offer STARTTLS") as refused:
        sender.send(message("psirt@vendor.example"))
    assert not refused.value.retryable


def test_a_server_that_is_down_is_retryable_and_the_password_never_shown() -> None:
    settings = EmailSettings(
        host="127.0.0.1",
        port=free_port(),
        security="none",
        username="ir",
        password="hunter2-smtp",  # type: ignore[arg-type]
        from_address="ir@smokejumper.example",
        timeout_seconds=2,
    )
    with pytest.raises(EmailError, match="cannot deliver") as down:
        SmtpSender(settings).send(message("psirt@vendor.example"))
    assert down.value.retryable and "hunter2" not in str(down.value)
