"""Dead-letter table: rejected alerts are kept, with why, so nothing sent is lost.

A refusal must be keepable whatever was sent: what the store cannot hold (NUL, unpaired
surrogates, bytes that are not UTF-8) is kept as U+FFFD rather than failing the write.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from smokejumper.intake.json_body import storable_text
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
        storable_text(name.lower()): storable_text(value)
        for name, value in headers.items()
        if name.lower() not in _CREDENTIAL_HEADERS
    }


def _storable_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Error fields echo the sender's keys, which may hold what no column can."""
    return [
        {name: storable_text(v) if isinstance(v, str) else v for name, v in error.items()}
        for error in errors
    ]


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
                source=storable_text(source) if source is not None else None,
                reason=storable_text(reason[:200]),
                errors=_storable_errors(errors),
                # Kept as text: bytes that are not UTF-8, and NUL, become U+FFFD.
                raw_body=storable_text(raw_body.decode("utf-8", errors="replace")),
                headers=safe_headers(headers),
                remote_addr=remote_addr,
            )
        )
    return dead_letter_id
