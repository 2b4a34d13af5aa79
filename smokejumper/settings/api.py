"""`[api]`: the HTTP API server: address, limits and timeouts on connections and bodies."""

from __future__ import annotations

from typing import Self

from pydantic import (
    Field,
    model_validator,
)

from smokejumper.settings.sections import Port, Secret, Section


class ApiSettings(Section):
    host: str = "127.0.0.1"
    port: Port = 8000
    public_url: str | None = Field(
        default=None, description="Base URL responders reach the API at; links in messages."
    )
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="A client must send its whole request line and headers within this.",
    )
    body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="An authenticated sender must send the whole alert body within this.",
    )
    max_connections: int = Field(
        default=2048,
        ge=16,
        description="Open connections at most; at the cap the oldest one still sending its "
        "request head is dropped for a new one.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses of reverse proxies whose X-Forwarded-For is believed.",
    )
    operator_token: Secret | None = Field(
        default=None,
        description="Bearer token of the operator identity (CLI, automation). Unset: "
        "generated once into data_dir/operator.token.",
    )
    controls_port: Port | None = Field(
        default=None,
        description="Also serve `GET /api/v1/controls/check` and `/filter-rules` on this "
        "port (on `api.host`), from the `smokejumper api` process: the fast path for "
        "gateways that check every LLM request. Unset: only on the API's port.",
    )
    controls_token: Secret | None = Field(
        default=None,
        description="Bearer token LLM applications (or their gateway) present to "
        "`GET /api/v1/controls/check`; the operator token is accepted too.",
    )

    @model_validator(mode="after")
    def _controls_port_is_its_own(self) -> Self:
        if self.controls_port is not None and self.controls_port == self.port:
            raise ValueError("controls_port must differ from port (the API's own)")
        return self
