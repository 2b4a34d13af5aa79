"""The remote codec endpoint of the Temporal UI and CLI (`--codec-endpoint .../codec`):
decrypts payloads for an operator, so encrypted histories stay readable to those allowed."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field
from temporalio.api.common.v1 import Payload

from smokejumper.api.auth import Operator
from smokejumper.api.state import AppState, app_state
from smokejumper.temporal.codec import CodecKeyError

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


@router.post("/decode", response_model=WirePayloads)
async def decode(
    body: WirePayloads, _: Operator, state: Annotated[AppState, Depends(app_state)]
) -> WirePayloads:
    codec = state.settings.temporal.payload_codec()
    if codec is None:
        # Nothing is encrypted: the payloads are already readable.
        return body
    try:
        return _to_wire(await codec.decode(_to_proto(body.payloads)))
    except CodecKeyError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None


@router.post("/encode", response_model=WirePayloads)
async def encode(
    body: WirePayloads, _: Operator, state: Annotated[AppState, Depends(app_state)]
) -> WirePayloads:
    codec = state.settings.temporal.payload_codec()
    if codec is None:
        return body
    return _to_wire(await codec.encode(_to_proto(body.payloads)))
