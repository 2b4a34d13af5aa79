"""Encrypt every payload the engine hands to Temporal (AES-256-GCM), so alert titles, key ids
and personal data in workflow inputs, results, signals, updates and failures are not
readable in the Temporal server's database or UI.

Each encrypted payload names the key that sealed it (`encryption-key-id` metadata, a
fingerprint of the key, not the key): payloads are always sealed with the current key and
opened with whichever configured key matches, so a key can be rotated while incidents are in
flight. Payloads that are not encrypted pass through `decode` untouched, so turning the codec
on does not break histories written before it was.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from smokejumper.payload_keys import CodecKeyError, decode_key
from smokejumper.settings.temporal import TemporalSettings

ENCODING = b"binary/smokejumper-aes256gcm"
KEY_ID = "encryption-key-id"
_NONCE_BYTES = 12


def key_id(key: bytes) -> str:
    """A public name for the key: a truncated hash, which tells nothing about the key."""
    return hashlib.sha256(b"smokejumper payload key\x00" + key).hexdigest()[:16]


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over each whole serialized payload (metadata included, so the encoding
    and the pydantic type travel encrypted too). The key id is bound as associated data: a
    payload re-labelled with another key id does not decrypt."""

    def __init__(self, current: bytes, previous: Sequence[bytes] = ()) -> None:
        self.current_id = key_id(current)
        self._current = AESGCM(current)
        self._keys = {key_id(key): AESGCM(key) for key in (*previous, current)}

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.seal(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(payload) for payload in payloads]

    def seal(self, payload: Payload) -> Payload:
        nonce = os.urandom(_NONCE_BYTES)
        label = self.current_id.encode()
        sealed = self._current.encrypt(nonce, payload.SerializeToString(), label)
        return Payload(metadata={"encoding": ENCODING, KEY_ID: label}, data=nonce + sealed)

    def open(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        label = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        aead = self._keys.get(label)
        if aead is None:
            raise CodecKeyError(
                f"payload was encrypted with key {label!r}, which is not configured; add that "
                "key to temporal.previous_encryption_keys"
            )
        data = payload.data
        try:
            plain = aead.decrypt(data[:_NONCE_BYTES], data[_NONCE_BYTES:], label.encode())
        except InvalidTag:
            raise CodecKeyError(
                f"payload sealed with key {label!r} failed authentication (altered, or a "
                "different key with a colliding id)"
            ) from None
        opened = Payload()
        opened.ParseFromString(plain)
        return opened


def data_converter(codec: EncryptionCodec | None) -> DataConverter:
    """The engine's converter (pydantic), with the codec when encryption is on. Failure
    messages and stack traces then travel as encrypted attributes too: they can quote
    alert data."""
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def payload_codec(settings: TemporalSettings) -> EncryptionCodec | None:
    """The codec of the configured payload key (and previous keys still read), if any."""
    if settings.encryption_key is None:
        return None
    return EncryptionCodec(
        decode_key(settings.encryption_key.get_secret_value()),
        [decode_key(key.get_secret_value()) for key in settings.previous_encryption_keys],
    )
