"""The remote codec endpoint of the Temporal UI and CLI (`--codec-endpoint .../codec`):
decrypts payloads for those allowed, so encrypted histories stay readable to them only.

Callers: a bearer token (the operator token, or a user's API token) as the CLI sends it, or
the console's session cookie, which the embedded Temporal UI's browser sends along when its
"Include cross-origin credentials" codec setting is on. Decoding shows alert content as
received, so it needs the responder role, like raw evidence; encoding needs admin. Only the
embedded UI's own origin gets CORS answers, so no other page can read a decoded payload.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field
from temporalio.api.common.v1 import Payload

from smokejumper.api.auth import bearer_principal, refused
from smokejumper.api.state import AppState, app_state
from smokejumper.config import Settings
from smokejumper.intake.auth import bearer
from smokejumper.payload_keys import CodecKeyError
from smokejumper.security.sessions import COOKIE
from smokejumper.security.users import Principal, Role, active_principal
from smokejumper.temporal.codec import payload_codec

router = APIRouter(prefix="/codec", tags=["temporal codec"])


class WirePayload(BaseModel):
    """A payload in protobuf JSON: metadata values and data are base64."""

    metadata: dict[str, str] = Field(default_factory=dict)
    data: str = ""


class WirePayloads(BaseModel):
    payloads: list[WirePayload] = Field(max_length=1000)


def _to_proto(payloads: list[WirePayload]) -> list[Payload]:
    found = []
    for index, wire in enumerate(payloads):
        try:
            found.append(
                Payload(
                    metadata={
                        k: base64.b64decode(v, validate=True) for k, v in wire.metadata.items()
                    },
                    data=base64.b64decode(wire.data, validate=True),
                )
            )
        except (binascii.Error, ValueError):
            raise HTTPException(
                status_code=422, detail=f"payloads.{index}: metadata and data must be base64"
            ) from None
    return found


def _to_wire(payloads: list[Payload]) -> WirePayloads:
    return WirePayloads(
        payloads=[
            WirePayload(
                metadata={k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                data=base64.b64encode(p.data).decode(),
            )
            for p in payloads
        ]
    )


def ui_origins(settings: Settings) -> frozenset[str]:
    """The embedded Temporal UI's origins (it is reached by either host name)."""
    url = settings.temporal.ui_url
    if url is None:
        return frozenset()
    return frozenset({url, url.replace("//127.0.0.1:", "//localhost:")})


def _cors(request: Request, response: Response, settings: Settings) -> dict[str, str]:
    """The CORS headers for this request (none for another origin), set on `response`."""
    origin = request.headers.get("origin")
    if origin is None or origin not in ui_origins(settings):
        return {}
    headers = {
        "access-control-allow-origin": origin,
        "access-control-allow-credentials": "true",
        "vary": "Origin",
    }
    response.headers.update(headers)
    return headers


def _session_principal(request: Request, state: AppState) -> Principal | None:
    console = getattr(request.app.state, "console", None)
    cookie = request.cookies.get(COOKIE)
    if console is None or not cookie:
        return None
    data = console.codec.loads(cookie)
    if data is None or not data.user:
        return None
    with state.store.session() as session:
        found: Principal | None = active_principal(session, data.user, "session")
    return found


def _caller(role: Role, what: str) -> Callable[[Request, Response, AppState], Principal]:
    # Sync on purpose: FastAPI runs it in the thread pool, off the event loop.
    def dependency(
        request: Request, response: Response, state: Annotated[AppState, Depends(app_state)]
    ) -> Principal:
        # Refusals too carry the CORS headers, so the UI can say "401" rather than fail.
        cors = _cors(request, response, state.settings)
        token = bearer(request.headers)
        principal = (
            bearer_principal(state, token)
            if token is not None
            else _session_principal(request, state)
        )
        if principal is None:
            raise HTTPException(
                status_code=401,
                detail="sign in to the console (the UI sends its cookie when its codec "
                "setting includes cross-origin credentials), or send a bearer token",
                headers={"WWW-Authenticate": "Bearer", **cors},
            )
        if not principal.may(role):
            refusal = refused(principal, role, what)
            refusal.headers = cors
            raise refusal
        return principal

    return dependency


Decoder = Annotated[Principal, Depends(_caller(Role.RESPONDER, "decoding payloads"))]
Encoder = Annotated[Principal, Depends(_caller(Role.ADMIN, "encoding payloads"))]


@router.options("/decode", include_in_schema=False)
@router.options("/encode", include_in_schema=False)
async def preflight(request: Request, state: Annotated[AppState, Depends(app_state)]) -> Response:
    """The browser's CORS preflight: allowed for the embedded UI's origin only."""
    response = Response(status_code=204)
    if _cors(request, response, state.settings):
        response.headers["access-control-allow-methods"] = "POST"
        response.headers["access-control-allow-headers"] = (
            "content-type, x-namespace, authorization"
        )
        response.headers["access-control-max-age"] = "600"
    return response


@router.post("/decode", response_model=WirePayloads)
async def decode(
    body: WirePayloads, _: Decoder, state: Annotated[AppState, Depends(app_state)]
) -> WirePayloads:
    codec = payload_codec(state.settings.temporal)
    if codec is None:
        # Nothing is encrypted: the payloads are already readable.
        return body
    try:
        return _to_wire(await codec.decode(_to_proto(body.payloads)))
    except CodecKeyError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None


@router.post("/encode", response_model=WirePayloads)
async def encode(
    body: WirePayloads, _: Encoder, state: Annotated[AppState, Depends(app_state)]
) -> WirePayloads:
    codec = payload_codec(state.settings.temporal)
    if codec is None:
        return body
    return _to_wire(await codec.encode(_to_proto(body.payloads)))
