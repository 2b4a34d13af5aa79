"""The controls check as a raw ASGI app: what answers `GET /api/v1/controls/check` and
`GET /api/v1/controls/filter-rules`, on the API's port and on the controls listener.

A gateway asks the check before every LLM request, so its cost is the gateway's latency.
FastAPI's way of answering (telemetry span, middleware, routing among a hundred routes,
dependency injection, Pydantic validation of the query and of the response) cost ~250 µs
of CPU a check; this handler parses the query with the standard library, compares the
bearer token's digest with the accepted ones, looks the ids up in the in-memory
`ControlPlaneView` and writes the JSON itself. The FastAPI routes in
smokejumper.api.controls document the same contract in the OpenAPI schema and answer the
same way when reached.

The refusals are the API's: 401 with `WWW-Authenticate: Bearer` without an accepted
token, 422 naming the parameter for malformed input (FastAPI's shape), 422 for a URL
holding NUL (as smokejumper.api.nul_guard answers), 405 for another method.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from smokejumper.api.controls import Arrivals, ControlPlaneView

CHECK_PATH = "/api/v1/controls/check"
RULES_PATH = "/api/v1/controls/filter-rules"
PATHS = frozenset({CHECK_PATH, RULES_PATH})

MAX_ID = 200  # characters of key_id, endpoint, principal, user, tenant, session_id
MAX_DOCUMENT = 300  # characters of one document id
MAX_DOCUMENTS = 100  # document ids in one check
_SINGLE = ("key_id", "endpoint", "principal", "user", "tenant", "session_id")

NOTHING_TO_CHECK = (
    "give at least one of key_id, endpoint, user (or principal), tenant, session_id, document"
)
UNAUTHORIZED = b'{"detail":"controls or operator bearer token required"}'


class Refused(Exception):
    """A request answered with an error: its status and JSON body."""

    def __init__(self, status: int, detail: object) -> None:
        super().__init__(status)
        self.status = status
        self.body = json.dumps({"detail": detail}, ensure_ascii=True).encode()


def _invalid(name: str, kind: str, message: str) -> Refused:
    # FastAPI's shape for a malformed query parameter, so clients read it like any other;
    # the refused value is not echoed back (it may be a leaked secret sent by mistake).
    return Refused(422, [{"type": kind, "loc": ["query", name], "msg": message}])


@dataclass
class CheckQuery:
    key_id: str | None = None
    endpoint: str | None = None
    principals: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)


def parse_check(query_string: bytes) -> CheckQuery:
    """The check's parameters, as FastAPI read them (Starlette's query parsing; the last
    of a repeated single parameter wins). Raises Refused (422) naming the parameter."""
    if b"%00" in query_string or b"\x00" in query_string:
        raise Refused(
            422, [{"type": "url_nul", "loc": ["query"], "msg": "NUL (%00) is not accepted here"}]
        )
    single: dict[str, str] = {}
    documents: list[str] = []
    for name, value in _pairs(query_string.decode("latin-1")):
        if name == "document":
            documents.append(value)
        elif name in _SINGLE:
            single[name] = value
    for name, value in single.items():
        if len(value) > MAX_ID:
            raise _invalid(
                name, "string_too_long", f"String should have at most {MAX_ID} characters"
            )
    if len(documents) > MAX_DOCUMENTS:
        raise _invalid("document", "too_long", f"List should have at most {MAX_DOCUMENTS} items")
    user, principal = single.get("user"), single.get("principal")
    principals = [
        f"{kind}:{value}"
        for kind, value in (
            ("user", user),
            ("user", principal if principal != user else None),
            ("tenant", single.get("tenant")),
            ("session", single.get("session_id")),
        )
        if value is not None
    ]
    query = CheckQuery(single.get("key_id"), single.get("endpoint"), principals, documents)
    if query.key_id is None and query.endpoint is None and not principals and not documents:
        raise Refused(422, NOTHING_TO_CHECK)
    if any(len(d) > MAX_DOCUMENT or not d for d in documents):
        raise Refused(422, f"document: each id must be 1-{MAX_DOCUMENT} characters")
    return query


def _pairs(query: str) -> list[tuple[str, str]]:
    """Starlette's parsing of a query string (`parse_qsl`, blank values kept), without its
    cost when nothing in it is escaped: a gateway's ids rarely are."""
    if "%" in query or "+" in query:
        return parse_qsl(query, keep_blank_values=True)
    pairs = []
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((name, value))
    return pairs


class AcceptedTokens:
    """The bearer tokens the check accepts, kept as SHA-256 digests: a presented token is
    hashed once and compared with each digest in constant time, so neither which token
    matched nor how much of one did shows in the timing, and no token is kept in clear
    beyond the settings."""

    def __init__(self, tokens: Iterable[str]) -> None:
        self._digests = [hashlib.sha256(t.encode()).digest() for t in tokens if t]

    def accept(self, authorization: bytes | None) -> bool:
        if authorization is None:
            return False
        scheme, _, token = authorization.partition(b" ")
        token = token.strip()
        if scheme.lower() != b"bearer" or not token:
            return False
        presented = hashlib.sha256(token).digest()
        matched = False
        for digest in self._digests:
            matched |= hmac.compare_digest(presented, digest)
        return matched


def _authorization(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bytes(value)
    return None


async def _answer(send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]]) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# An answer: status, JSON body and headers besides content-type and content-length.
Answer = tuple[int, bytes, list[tuple[bytes, bytes]]]


class ControlsAnswers:
    """What the controls paths answer, worked out synchronously: the check never waits on
    I/O (its state is in memory; a `stat` is all it asks the kernel)."""

    def __init__(
        self, view: ControlPlaneView, tokens: AcceptedTokens, arrivals: Arrivals | None = None
    ) -> None:
        self.view = view
        self.tokens = tokens
        # Counted by the listener's protocol; without it (the API's port), every check
        # stats the files it reads.
        self.arrivals = arrivals

    def respond(self, method: str, path: str, query: bytes, authorization: bytes | None) -> Answer:
        """`path` is one of PATHS."""
        if method != "GET":
            return 405, b'{"detail":"Method Not Allowed"}', [(b"allow", b"GET")]
        if not self.tokens.accept(authorization):
            return 401, UNAUTHORIZED, [(b"www-authenticate", b"Bearer")]
        try:
            body = self._check(query) if path == CHECK_PATH else self._rules()
        except Refused as refused:
            return refused.status, refused.body, []
        return 200, body, []

    def _check(self, query_string: bytes) -> bytes:
        query = parse_check(query_string)
        arrived = None if self.arrivals is None else self.arrivals.count
        return self.view.answer(
            query.key_id, query.endpoint, query.principals, query.documents, arrived
        )

    def _rules(self) -> bytes:
        rules = [rule.model_dump() for rule in self.view.active_rules()]
        return json.dumps({"rules": rules}, ensure_ascii=True, separators=(",", ":")).encode()


class ControlsApp:
    """ASGI: answers the controls paths ahead of `fallback` (the rest of the API)."""

    def __init__(self, fallback: ASGIApp, view: ControlPlaneView, tokens: AcceptedTokens) -> None:
        self.fallback = fallback
        self.answers = ControlsAnswers(view, tokens)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in PATHS:
            await self.fallback(scope, receive, send)
            return
        status, body, extra = self.answers.respond(
            scope["method"], scope["path"], scope["query_string"], _authorization(scope)
        )
        await _answer(send, status, body, extra)
