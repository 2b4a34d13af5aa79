"""`[temporal]`: the Temporal server (embedded or a cluster), TLS, and payload encryption."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from smokejumper.payload_keys import decode_key
from smokejumper.settings.sections import Port, Secret, Section

# Provider families whose activities can run on task queues of their own: the containment
# families, whose credentials an operator may want on one host only.
ROUTABLE_FAMILIES = ("keys", "endpoints", "models")
SeverityName = Literal["info", "low", "medium", "high", "critical"]
_CRITICAL_ONLY: list[SeverityName] = ["critical"]
_ROUTE = re.compile(r"^(?P<family>[a-z_]+)(\.(?P<provider>[a-z0-9_]{1,60}))?$")


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
    integration_queues: list[str] = Field(
        default_factory=list,
        description="Provider families (keys, endpoints, models) or single providers "
        "(keys.aws_iam, endpoints.kubernetes) whose activities run on a task queue of their "
        "own, `<task_queue>.<entry>`, served by `smokejumper worker --queues <entry>,...` "
        "on the host that holds their credentials. A provider's entry wins over its "
        "family's. Set the same list for the API and every worker.",
    )
    urgent_severities: list[SeverityName] = Field(
        default_factory=lambda: _CRITICAL_ONLY.copy(),
        description="Incidents of these severities run on the urgent task queue, "
        "`<task_queue>.urgent`, which every `smokejumper worker` polls beside its own with "
        "slots and a cache of its own: under a flood of other incidents their tasks never "
        "wait for a slot that the flood holds. Set the same list for the API and every "
        "worker; empty, every incident runs on `task_queue`.",
    )
    queue_check_seconds: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="A step routed to an integration queue and not done after this long "
        "checks that a worker polls the queue; if none does, the incident's timeline says "
        "the step waits for one.",
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

    @property
    def urgent_task_queue(self) -> str | None:
        """The queue urgent incidents run on; None when none are urgent."""
        return f"{self.task_queue}.urgent" if self.urgent_severities else None

    def queue_for(self, severity: str) -> str:
        """The task queue an incident of `severity` starts on."""
        urgent = self.urgent_task_queue
        return (
            urgent if urgent is not None and severity in self.urgent_severities else self.task_queue
        )

    @field_validator("encryption_key", "previous_encryption_keys")
    @classmethod
    def _encryption_keys_decode(cls, value: Any) -> Any:
        for key in value if isinstance(value, list) else [value]:
            if key is not None:
                decode_key(key.get_secret_value())
        return value

    @field_validator("integration_queues")
    @classmethod
    def _routes_name_families(cls, value: list[str]) -> list[str]:
        for route in value:
            match = _ROUTE.match(route)
            if match is None or match["family"] not in ROUTABLE_FAMILIES:
                raise ValueError(
                    f"{route!r} is not a provider family ({', '.join(ROUTABLE_FAMILIES)}) "
                    "or <family>.<provider>"
                )
        duplicates = sorted({route for route in value if value.count(route) > 1})
        if duplicates:
            raise ValueError(f"listed twice: {', '.join(duplicates)}")
        return value

    def integration_queue(self, route: str) -> str:
        """The task queue of a route (`keys`, `keys.aws_iam`) of integration_queues."""
        return f"{self.task_queue}.{route}"

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
