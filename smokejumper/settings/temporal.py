"""`[temporal]`: the Temporal server (embedded or a cluster), TLS, and payload encryption."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from smokejumper.payload_keys import decode_key
from smokejumper.settings.sections import Port, Secret, Section


class TemporalSettings(Section):
    address: str | None = Field(
        default=None,
        description="host:port of a Temporal cluster. Unset: `up` runs the embedded dev server.",
    )
    namespace: str = "default"
    task_queue: str = "smokejumper"
    workflow_id_prefix: str = Field(
        default="incident",
        pattern=r"^[a-z][a-z0-9-]{0,39}$",
        description="Incidents' workflow ids start with it. Two installs that share a "
        "namespace must set different ones: their fingerprints and incident numbers are "
        "the same for the same alerts, so with one prefix an alert to one install signals "
        "the other's run.",
    )
    tls: bool = False
    client_cert: Path | None = None
    client_key: Path | None = None
    server_ca: Path | None = None
    server_name: str | None = None
    api_key: Secret | None = Field(default=None, description="Temporal Cloud API key.")
    dev_server_port: Port = 7233
    dev_server_ui_port: Port = 8233
    dev_server_ui: bool = True
    # The backlog waits at the server, ordered by task priority (severity), rather than
    # inside a worker that has taken more than it can run at once: there a critical
    # incident's task would queue behind a flood's in first-come order.
    max_concurrent_workflow_tasks: int = Field(
        default=10,
        ge=2,
        description="Workflow tasks a worker runs at once. Kept small so that a backlog "
        "waits in the task queue, where a critical incident's tasks go first.",
    )
    max_concurrent_activities: int = Field(
        default=20,
        ge=1,
        description="Activities a worker runs at once (containment calls, store writes); "
        "more queue at the server, by severity.",
    )
    max_concurrent_local_activities: int = Field(
        default=20,
        ge=1,
        description="Timeline and status writes a worker runs at once.",
    )
    max_cached_workflows: int = Field(
        default=250,
        ge=0,
        description="Workflows a worker keeps in memory between tasks. Incidents parked on "
        "an approval for days need not stay cached: an evicted one is replayed from its "
        "history when its next signal or update arrives, which costs milliseconds.",
    )
    encryption_key: Secret | None = Field(
        default=None,
        description="Encrypts every payload sent to Temporal (AES-256-GCM): base64 of 32 "
        "random bytes, as a file:/env: reference. Unset: the embedded mode generates one "
        "into data_dir/payload.key (see encrypt_embedded); with a cluster, payloads are "
        "stored in clear. See docs/operations.md.",
    )
    encrypt_embedded: bool = Field(
        default=True,
        description="Embedded mode without an encryption_key: encrypt with a key generated "
        "once into data_dir/payload.key (mode 0600), so the dev server's database and UI "
        "hold no alert content in clear. False: payloads are stored in clear.",
    )
    previous_encryption_keys: list[Secret] = Field(
        default_factory=list,
        description="Retired encryption keys, still used to decrypt payloads written before "
        "a rotation.",
    )

    @field_validator("encryption_key", "previous_encryption_keys")
    @classmethod
    def _encryption_keys_decode(cls, value: Any) -> Any:
        for key in value if isinstance(value, list) else [value]:
            if key is not None:
                decode_key(key.get_secret_value())
        return value

    @model_validator(mode="after")
    def _client_cert_pair(self) -> TemporalSettings:
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("client_cert and client_key must be set together")
        for name in ("client_cert", "client_key", "server_ca"):
            path: Path | None = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{name}: file {path} does not exist")
        return self

    @property
    def embedded(self) -> bool:
        return self.address is None

    @property
    def target(self) -> str:
        return self.address or f"127.0.0.1:{self.dev_server_port}"

    @property
    def ui_url(self) -> str | None:
        if self.embedded and self.dev_server_ui:
            return f"http://127.0.0.1:{self.dev_server_ui_port}"
        return None
