"""Dead-letter table: rejected alerts are kept, with why, so nothing sent is lost."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from smokejumper.store.db import Store
from smokejumper.store.tables import DeadLetter

# Never store credentials that arrived with a rejected request.
_CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-smokejumper-signature",
        "x-slack-signature",
        "x-api-key",
    }
)


def safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        name.lower(): value
        for name, value in headers.items()
        if name.lower() not in _CREDENTIAL_HEADERS
    }


def record_dead_letter(
    store: Store,
    *,
    endpoint: str,
    source: str | None,
    reason: str,
    errors: list[dict[str, Any]],
    raw_body: bytes,
    headers: Mapping[str, str],
    remote_addr: str | None,
    also: Callable[[Session], None] | None = None,
) -> str:
    """Keep a refused request; `also` runs in the same transaction (a poller's cursor)."""
    dead_letter_id = str(uuid.uuid4())
    with store.transaction() as session:
        if also is not None:
            also(session)
        session.add(
            DeadLetter(
                id=dead_letter_id,
                endpoint=endpoint,
                source=source,
                reason=reason[:200],
                errors=errors,
                raw_body=raw_body.decode("utf-8", errors="replace"),
                headers=safe_headers(headers),
                remote_addr=remote_addr,
            )
        )
    return dead_letter_id
