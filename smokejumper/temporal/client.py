"""Build the Temporal client the same way in every process."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, Interceptor
from temporalio.runtime import Runtime
from temporalio.service import RPCError, TLSConfig

from smokejumper.settings.temporal import TemporalSettings
from smokejumper.temporal import search_attributes
from smokejumper.temporal.codec import data_converter, payload_codec

log = logging.getLogger(__name__)


def tls_config(settings: TemporalSettings) -> TLSConfig | bool:
    if settings.client_cert is not None and settings.client_key is not None:
        return TLSConfig(
            client_cert=settings.client_cert.read_bytes(),
            client_private_key=settings.client_key.read_bytes(),
            server_root_ca_cert=settings.server_ca.read_bytes() if settings.server_ca else None,
            domain=settings.server_name,
        )
    if settings.server_ca is not None:
        return TLSConfig(
            server_root_ca_cert=settings.server_ca.read_bytes(), domain=settings.server_name
        )
    # An API key (Temporal Cloud) always travels over TLS.
    return settings.tls or settings.api_key is not None


async def connect(
    settings: TemporalSettings,
    *,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """Connect with the pydantic data converter (encrypting when a key is configured),
    namespace, TLS and API key from settings; `runtime` (the worker's, serving SDK
    metrics) and `interceptors` (tracing) pass on to the client and its workers."""
    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    return await Client.connect(
        settings.target,
        namespace=settings.namespace,
        data_converter=data_converter(payload_codec(settings)),
        tls=tls_config(settings),
        api_key=api_key,
        runtime=runtime,
        interceptors=interceptors,
    )


async def ensure_search_attributes(client: Client) -> None:
    """Register our search attributes on a self-hosted cluster that lacks them.

    The embedded dev server gets them from command-line flags; Temporal Cloud namespaces
    are configured in its console (this call is refused there, which we report, not hide).
    """
    request = AddSearchAttributesRequest(
        namespace=client.namespace,
        search_attributes={
            key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for key in search_attributes.ALL
        },
    )
    try:
        await client.operator_service.add_search_attributes(request)
    except RPCError as exc:
        if "already exists" in str(exc).lower():
            return
        log.warning(
            "could not register search attributes %s: %s; add them to namespace %s yourself",
            ", ".join(key.name for key in search_attributes.ALL),
            exc.message,
            client.namespace,
        )
