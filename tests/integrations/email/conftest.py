"""A real SMTP server on loopback (aiosmtpd), recording what it is given."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.helpers import free_port

REFUSED_DOMAIN = "refuses.example"


@dataclass
class Mailbox:
    """What the server accepted: (envelope recipients, the parsed message)."""

    host: str
    port: int
    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.endswith(f"@{REFUSED_DOMAIN}"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def settings(self, **changes: Any) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "security": "none",
            "from_address": "ir@smokejumper.example",
            "reply_to": "security@smokejumper.example",
            **changes,
        }


@contextmanager
def serving(box: Mailbox) -> Iterator[Mailbox]:
    """The SMTP server of `box` listening on its port until the block ends."""
    controller = Controller(box, hostname=box.host, port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with serving(Mailbox("127.0.0.1", free_port())) as box:
        yield box
