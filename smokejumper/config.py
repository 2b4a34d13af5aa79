"""Configuration: one pydantic settings model, from `smokejumper.toml` and `SMOKEJUMPER_*`.

Precedence, highest first: explicit overrides (tests, CLI flags), environment variables
(`SMOKEJUMPER_API__PORT=9000` — nested keys joined by a double underscore), the TOML file,
then defaults. Secrets never live in the TOML file as literals: there they must be a
reference, `file:/path` or `env:VARIABLE`, so a config file can be committed or shared.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from smokejumper.domain.fingerprint import validate_fingerprint_fields
from smokejumper.domain.memory import PLACEHOLDERS, placeholders
from smokejumper.domain.routing import Route
from smokejumper.domain.source_context import SourceContext
from smokejumper.payload_keys import CodecKeyError, decode_key
from smokejumper.redaction import Redactor

ENV_PREFIX = "SMOKEJUMPER_"
CONFIG_ENV = "SMOKEJUMPER_CONFIG"
DEFAULT_CONFIG_FILE = "smokejumper.toml"

# Keys whose values are secrets wherever they appear in the tree.
SECRET_KEY_NAMES = frozenset(
    {
        "api_key",
        "token",
        "signing_secret",
        "bot_token",
        "app_token",
        "password",
        "secret",
        "session_secret",
    }
    | {"encryption_key", "previous_encryption_keys"}
)


# The embedded mode's generated payload key, in data_dir.
PAYLOAD_KEY_FILE = "payload.key"
# The audit log's HMAC key, generated into data_dir unless audit.key_file names one.
AUDIT_KEY_FILE = "audit.key"

# Approver groups the built-in GenAI playbooks ask (see docs/playbooks.md).
BUILTIN_PLAYBOOK_GROUPS = ("security-oncall", "dpo", "incident-commanders", "ml-platform")


class ConfigError(Exception):
    """Configuration is invalid; the message names each offending key."""


def _resolve_secret_reference(value: Any) -> Any:
    """Turn `file:/path` and `env:NAME` into the secret they point at."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not isinstance(value, str):
        return value
    if value.startswith("file:"):
        path = Path(value[len("file:") :]).expanduser()
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
    if value.startswith("env:"):
        name = value[len("env:") :]
        if name not in os.environ:
            raise ValueError(f"environment variable {name} named by the reference is not set")
        return os.environ[name]
    return value


def _non_empty_secret(value: SecretStr) -> SecretStr:
    if not value.get_secret_value():
        raise ValueError("secret is empty")
    return value


Secret = Annotated[
    SecretStr, BeforeValidator(_resolve_secret_reference), AfterValidator(_non_empty_secret)
]

Port = Annotated[int, Field(ge=1, le=65535)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApiSettings(_Section):
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
    controls_token: Secret | None = Field(
        default=None,
        description="Bearer token LLM applications (or their gateway) present to "
        "`GET /api/v1/controls/check`; the operator token is accepted too.",
    )


class TemporalSettings(_Section):
    address: str | None = Field(
        default=None,
        description="host:port of a Temporal cluster. Unset: `up` runs the embedded dev server.",
    )
    namespace: str = "default"
    task_queue: str = "smokejumper"
    tls: bool = False
    client_cert: Path | None = None
    client_key: Path | None = None
    server_ca: Path | None = None
    server_name: str | None = None
    api_key: Secret | None = Field(default=None, description="Temporal Cloud API key.")
    dev_server_port: Port = 7233
    dev_server_ui_port: Port = 8233
    dev_server_ui: bool = True
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


class SchedulerSettings(_Section):
    outbox_interval_seconds: float = Field(default=5.0, gt=0)
    outbox_min_age_seconds: float = Field(
        default=10.0, ge=0, description="Leave fresh alerts to the API's own dispatch first."
    )
    lease_seconds: float = Field(default=30.0, gt=1)


class IntakeSettings(_Section):
    default_playbook: str = Field(
        default="triage", description="Workflow run for an alert no playbook route matches."
    )
    reopen_window_seconds: float = Field(
        default=0.0,
        ge=0,
        description="An alert this soon after its incident closed re-opens it instead of "
        "opening a new one.",
    )
    replay_window_seconds: int = Field(
        default=300, ge=10, le=3600, description="Accepted age of a signed request."
    )
    rate_limit_per_second: float = Field(
        default=100.0,
        ge=0,
        description="Alerts a second each source may push (sustained; 0: no limit); a "
        "source's own `rate_limit_per_second` overrides it. The operator is not limited.",
    )
    rate_limit_burst: int = Field(
        default=1000, ge=1, description="Alerts a source may push at once above its rate."
    )
    duplicate_signal_window_seconds: float = Field(
        default=0.5,
        ge=0,
        le=10,
        description="Duplicates of a running incident that arrive within this window reach "
        "its playbook as one signal (0: one signal each, before the sender is answered).",
    )


SOURCE_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class SourceSettings(_Section):
    """One alert source: how it authenticates, which format it sends, how it dedups, and
    the context its alerts carry when the payload does not say."""

    format: str | None = Field(
        default=None, description="Normalizer to parse its payloads; default: the source name."
    )
    token: Secret | None = None
    signing_secret: Secret | None = None
    rate_limit_per_second: float | None = Field(
        default=None, ge=0, description="This source's limit (0: none); default intake's."
    )
    rate_limit_burst: int | None = Field(default=None, ge=1)
    fingerprint: list[str] | None = Field(
        default=None,
        description="Alert fields whose values make the fingerprint, e.g. "
        "['kind', 'target.endpoint']; default: kind + target + principal.",
    )
    context: SourceContext = Field(
        default_factory=SourceContext,
        description="Defaults for what the payload leaves unset (application, user, endpoint, "
        "model, labels, ...), under the names of the intake query parameters; the query "
        "overrides them, the payload overrides both (see docs/intake.md).",
    )

    @model_validator(mode="after")
    def _one_credential(self) -> SourceSettings:
        # No credential: only the operator may push as this source (and pollers read it).
        if self.token is not None and self.signing_secret is not None:
            raise ValueError("set at most one of token or signing_secret")
        if self.fingerprint is not None:
            validate_fingerprint_fields(self.fingerprint)
        return self


POLLER_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class _PollerBase(_Section):
    name: str = Field(
        pattern=POLLER_NAME,
        description="Unique poller name; keys its cursor in the store and names its dead "
        "letters (endpoint `poller:<name>`). Renaming a poller starts it from scratch.",
    )


class JsonlPollerSettings(_PollerBase):
    """Tail JSON-lines files: one native event of `source`'s format per line."""

    kind: Literal["jsonl"] = Field(description="Tail JSON-lines files.")
    source: str = Field(
        pattern=SOURCE_NAME,
        description="Source the events come from: a configured source (its `format` picks "
        "the normalizer) or a normalizer name.",
    )
    path: str = Field(
        min_length=1,
        description="A file, a directory (its regular files) or a glob such as "
        "'/var/log/guard/*.jsonl'.",
    )
    interval_seconds: float = Field(default=10.0, gt=0, description="Seconds between runs.")


class HttpPollerSettings(_PollerBase):
    """Page through an HTTP endpoint that returns events after a cursor."""

    kind: Literal["http"] = Field(description="GET pages of events after a cursor.")
    source: str = Field(
        pattern=SOURCE_NAME,
        description="Source the events come from: a configured source (its `format` picks "
        "the normalizer) or a normalizer name.",
    )
    url: str = Field(
        pattern=r"^https?://", description="Endpoint to GET; the cursor is added as a query."
    )
    interval_seconds: float = Field(default=30.0, gt=0, description="Seconds between runs.")
    cursor_param: str = Field(
        default="cursor", min_length=1, description="Query parameter the cursor is sent in."
    )
    items_field: str = Field(
        default="items", min_length=1, description="Response field holding the events."
    )
    cursor_field: str = Field(
        default="next_cursor",
        min_length=1,
        description="Response field holding the cursor of the next page.",
    )
    token: Secret | None = Field(
        default=None, description="Sent as `Authorization: Bearer <token>`; a file:/env: reference."
    )
    timeout_seconds: float = Field(default=10.0, gt=0, description="Per-request timeout.")


class ModelIntegrityPollerSettings(_PollerBase):
    """Re-hash every inventoried model artifact and alert on a digest mismatch."""

    kind: Literal["model-integrity"] = Field(
        description="Compare model artifacts with the inventory's digests."
    )
    interval_seconds: float = Field(default=3600.0, gt=0, description="Seconds between runs.")
    source: str = Field(
        default="model-integrity",
        pattern=SOURCE_NAME,
        description="Source name the alerts carry (payloads are always in the "
        "model-integrity format).",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="Endpoint of an S3-compatible store (MinIO, Ceph, ...) for `s3://` "
        "artifacts. Unset: AWS S3, or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL if set. Region "
        "and credentials always come from the standard AWS environment and config files.",
    )


PollerSettings = Annotated[
    JsonlPollerSettings | HttpPollerSettings | ModelIntegrityPollerSettings,
    Field(discriminator="kind"),
]


class OpenAIAdminSettings(_Section):
    """The `openai` key provider: project API keys through the OpenAI Admin API."""

    base_url: str = Field(
        default="https://api.openai.com/v1",
        pattern=r"^https?://",
        description="Base URL of the Admin API (up to and including /v1).",
    )
    api_key: Secret | None = Field(
        default=None,
        description="An OpenAI Admin API key of the organization (not a project key); a "
        "file:/env: reference.",
    )
    timeout_seconds: float = Field(default=10.0, gt=0, description="Per-request timeout.")


class LiteLLMSettings(_Section):
    """The `litellm` key and endpoint providers: a LiteLLM proxy's management API."""

    base_url: str | None = Field(
        default=None, pattern=r"^https?://", description="Base URL of the LiteLLM proxy."
    )
    api_key: Secret | None = Field(
        default=None,
        description="The proxy's master key or a proxy-admin virtual key; a file:/env: reference.",
    )
    timeout_seconds: float = Field(default=10.0, gt=0, description="Per-request timeout.")
    model_api_key_env: dict[str, str] = Field(
        default_factory=dict,
        description="Per model name, the proxy's environment variable holding the model's "
        "upstream API key: the proxy never returns a deployment's key, so a restored "
        "deployment gets `api_key: os.environ/<VAR>` (resolved by the proxy).",
    )


class VaultSettings(_Section):
    """The `vault_token` and `vault_lease` key providers."""

    address: str | None = Field(
        default=None, pattern=r"^https?://", description="Vault address, e.g. https://vault:8200."
    )
    token: Secret | None = Field(
        default=None, description="Vault token of the worker; a file:/env: reference."
    )
    namespace: str | None = Field(
        default=None, description="Vault Enterprise namespace (X-Vault-Namespace)."
    )
    timeout_seconds: float = Field(default=10.0, gt=0, description="Per-request timeout.")


KubernetesMode = Literal["scale", "network_policy"]


class KubernetesEndpointSettings(_Section):
    namespace: str = Field(min_length=1, description="Namespace of the serving Deployment.")
    deployment: str = Field(min_length=1, description="Name of the serving Deployment.")
    mode: KubernetesMode | None = Field(
        default=None, description="How to isolate it. Unset: containment.kubernetes.mode."
    )


class KubernetesSettings(_Section):
    """The `kubernetes` endpoint provider."""

    kubeconfig: Path | None = Field(
        default=None,
        description="Kubeconfig file. Unset (and no host): in-cluster service account, else "
        "~/.kube/config.",
    )
    context: str | None = Field(default=None, description="Kubeconfig context to use.")
    host: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="API server URL; with `token`, used instead of a kubeconfig.",
    )
    token: Secret | None = Field(
        default=None, description="Bearer token for `host`; a file:/env: reference."
    )
    ca_file: Path | None = Field(default=None, description="CA bundle of the API server.")
    mode: KubernetesMode = Field(
        default="scale",
        description="`scale`: the Deployment to 0 replicas; `network_policy`: a deny-all "
        "NetworkPolicy over its pods.",
    )
    endpoints: dict[str, KubernetesEndpointSettings] = Field(
        default_factory=dict,
        description="Endpoint names playbooks use, to their Deployment. An endpoint not "
        "listed is read as `namespace/deployment`.",
    )


class SageMakerSettings(_Section):
    """The `sagemaker` endpoint provider."""

    endpoint_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="SageMaker API endpoint (moto_server in tests). Unset: AWS.",
    )
    maintenance_config: str | None = Field(
        default=None,
        description="Endpoint config an isolated endpoint is switched to (e.g. a container "
        "that refuses every request).",
    )
    maintenance_configs: dict[str, str] = Field(
        default_factory=dict,
        description="Per endpoint name, its own isolation config (overrides "
        "maintenance_config), such as its last known good config.",
    )


class MlflowSettings(_Section):
    tracking_uri: str | None = Field(
        default=None,
        description="Base URL of the MLflow tracking server (model registry) the `mlflow` "
        "model provider and `inventory sync mlflow` use. Unset: MLFLOW_TRACKING_URI.",
    )
    token: Secret | None = Field(
        default=None, description="Bearer token for MLflow (secret). Unset: MLFLOW_TRACKING_TOKEN."
    )
    username: str | None = Field(
        default=None, description="Basic-auth user for MLflow. Unset: MLFLOW_TRACKING_USERNAME."
    )
    password: Secret | None = Field(
        default=None,
        description="Basic-auth password for MLflow (secret). Unset: MLFLOW_TRACKING_PASSWORD.",
    )
    timeout_seconds: float = Field(default=30.0, gt=0, description="Per-request timeout.")


class ContainmentSettings(_Section):
    mlflow: MlflowSettings = Field(
        default_factory=MlflowSettings,
        description="The MLflow model registry (model rollback, inventory sync).",
    )
    aws_endpoint_url: str | None = Field(
        default=None,
        description="Endpoint URL for the AWS IAM key provider (an IAM-compatible service "
        "such as moto_server). Unset: real AWS, with boto3's usual credential chain.",
    )
    local_state_file: Path | None = Field(
        default=None,
        description="JSON file of the embedded control plane's keys (the `local` key "
        "provider). Unset: data_dir/keys.json.",
    )
    openai: OpenAIAdminSettings = Field(default_factory=OpenAIAdminSettings)
    litellm: LiteLLMSettings = Field(default_factory=LiteLLMSettings)
    vault: VaultSettings = Field(default_factory=VaultSettings)
    kubernetes: KubernetesSettings = Field(default_factory=KubernetesSettings)
    sagemaker: SageMakerSettings = Field(default_factory=SageMakerSettings)


class MemorySettings(_Section):
    """Where one application keeps conversation memory and LLM caches: what the
    `sensitive-data-leakage` playbook purges, on approval, for the leaking conversation."""

    provider: Literal["redis", "local"] = Field(
        default="redis",
        description="`redis`, or `local` (a state file beside keys.json, for the demo).",
    )
    url: str | None = Field(
        default=None,
        pattern=r"^(redis|rediss|unix)://",
        description="Redis URL with the database number, e.g. redis://cache:6379/2; no "
        "password in it (see `password`).",
    )
    username: str | None = Field(default=None, description="Redis ACL user.")
    password: Secret | None = Field(
        default=None, description="Redis password; a file:/env: reference."
    )
    key_patterns: list[str] = Field(
        min_length=1,
        description="Redis globs naming one conversation's keys, with `{session}` and/or "
        "`{user}`, e.g. `message_store:{session}` (LangChain's RedisChatMessageHistory). "
        "Write `{{` and `}}` for literal braces.",
    )
    timeout_seconds: float = Field(default=5.0, gt=0, description="Per-command timeout.")

    @field_validator("key_patterns")
    @classmethod
    def _patterns_name_a_conversation(cls, patterns: list[str]) -> list[str]:
        for index, pattern in enumerate(patterns):
            try:
                fields = placeholders(pattern)
            except ValueError as exc:
                raise ValueError(f"key_patterns.{index}: {exc}") from None
            unknown = fields - set(PLACEHOLDERS)
            if unknown:
                raise ValueError(
                    f"key_patterns.{index}: unknown placeholder {sorted(unknown)[0]!r}; "
                    "use {session} or {user}"
                )
            if not fields:
                # Without one, the purge of one conversation would delete everyone's.
                raise ValueError(
                    f"key_patterns.{index}: {pattern!r} names no conversation; it needs "
                    "{session} or {user}"
                )
        return patterns

    @model_validator(mode="before")
    @classmethod
    def _no_password_in_url(cls, data: Any) -> Any:
        # Checked on the whole section: an error on the field itself would quote the URL.
        url = data.get("url") if isinstance(data, dict) else None
        if isinstance(url, str) and "@" in url.split("://", 1)[-1].split("/", 1)[0]:
            raise ValueError(
                "url: may not carry credentials; set `username` and `password` (a "
                "file:/env: reference) instead"
            )
        return data

    @model_validator(mode="after")
    def _redis_needs_url(self) -> MemorySettings:
        if self.provider == "redis" and self.url is None:
            raise ValueError("url: the redis provider needs the URL of the Redis server")
        return self


class EvidenceSettings(_Section):
    store: Literal["local", "s3"] = Field(
        default="local", description="Where captured evidence is kept: `local` files or `s3`."
    )
    directory: Path | None = Field(
        default=None,
        description="Folder of the `local` evidence store. Unset: data_dir/evidence.",
    )
    s3_bucket: str | None = Field(default=None, description="Bucket of the `s3` evidence store.")
    s3_prefix: str = Field(default="evidence/", description="Key prefix in the bucket.")
    s3_endpoint_url: str | None = Field(
        default=None,
        description="Endpoint of an S3-compatible service (MinIO, moto_server). Unset: AWS.",
    )
    redaction_patterns: dict[str, str] = Field(
        default_factory=dict,
        description="Extra redaction patterns: kind name (lower case) to regular expression.",
    )

    @field_validator("redaction_patterns")
    @classmethod
    def _patterns_compile(cls, patterns: dict[str, str]) -> dict[str, str]:
        # Refused at load time rather than when the first worker builds its redactor.
        Redactor(patterns)
        return patterns

    @model_validator(mode="after")
    def _s3_needs_bucket(self) -> EvidenceSettings:
        if self.store == "s3" and not self.s3_bucket:
            raise ValueError("evidence.s3_bucket is required when evidence.store is s3")
        return self


class AuditSettings(_Section):
    """The audit log's chain key and head checkpoint (see docs/operations.md)."""

    key_file: Path | None = Field(
        default=None,
        description="File holding the audit log's HMAC key (kept outside the database; "
        "every process of one deployment must read the same key). Unset: "
        "data_dir/audit.key, generated once (mode 0600).",
    )
    checkpoint: bool = Field(
        default=True,
        description="Write a signed head checkpoint (last row, its hash, the row count) to "
        "the evidence store after every append, so `audit verify` detects deleted last rows.",
    )


# A role as configuration names it (security.users.Role ranks them).
RoleName = Literal["viewer", "responder", "admin"]


class ConsoleSettings(_Section):
    """The responder console at `/`: sessions, the auth proxy, who may see what."""

    session_secret: Secret | None = Field(
        default=None,
        description="Key that signs session cookies (secret). Unset: derived from the "
        "operator token, so every API replica sharing it accepts the same cookies.",
    )
    session_hours: float = Field(
        default=12.0, gt=0, le=24 * 30, description="A sign-in lasts this long."
    )
    secure_cookies: bool | None = Field(
        default=None,
        description="Mark cookies Secure (HTTPS only). Unset: when api.public_url is https.",
    )
    trusted_header: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9-]{1,100}$",
        description="Header an authenticating reverse proxy puts the user name in, e.g. "
        "X-Forwarded-User. Believed only from `trusted_header_proxies`.",
    )
    trusted_header_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks (CIDR) of the auth proxies whose `trusted_header` "
        "is believed; from any other address the header is ignored.",
    )
    proxy_default_role: RoleName | None = Field(
        default="viewer",
        description="Role of a proxy-authenticated user with no local account; null refuses them.",
    )
    sign_in_failures: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Failed sign-ins, per account and per client address, after which the "
        "console answers 429 until the oldest of them leaves `sign_in_window_minutes`.",
    )
    sign_in_window_minutes: float = Field(
        default=5.0, gt=0, le=24 * 60, description="The window failed sign-ins are counted in."
    )

    @field_validator("trusted_header_proxies")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(f"{value!r} is not an IP address or network") from None
        return values

    @model_validator(mode="after")
    def _header_needs_proxies(self) -> ConsoleSettings:
        if self.trusted_header and not self.trusted_header_proxies:
            raise ValueError("trusted_header needs trusted_header_proxies (the proxy addresses)")
        return self


SLACK_USER_ID = r"^[UW][A-Z0-9]{2,20}$"


class SlackSettings(_Section):
    """Slack as the responder surface (see docs/slack.md). Off until `bot_token` is set."""

    bot_token: Secret | None = Field(
        default=None, description="Bot token (xoxb-...) as a file:/env: reference."
    )
    signing_secret: Secret | None = Field(
        default=None,
        description="Signing secret that `POST /slack/interactions` and `/slack/commands` "
        "verify requests with.",
    )
    app_token: Secret | None = Field(
        default=None, description="App-level token (xapp-...) for Socket Mode."
    )
    socket_mode: bool = Field(
        default=False,
        description="The worker runs a Socket Mode client, for workspaces that cannot reach "
        "the API over HTTP.",
    )
    base_url: str = Field(
        default="https://slack.com/api/",
        pattern=r"^https?://.+/$",
        description="Slack Web API base URL (ends with /); a local emulator in tests and demos.",
    )
    triage_channel: str | None = Field(
        default=None, description="Channel id every new incident is announced in."
    )
    incident_channels: bool = Field(
        default=False,
        description="Open a channel per incident (`<channel_prefix>-2026-0142-<kind>`), "
        "invite `oncall`, set its topic.",
    )
    channel_prefix: str = Field(default="inc", pattern=r"^[a-z0-9][a-z0-9-]{0,20}$")
    oncall: list[str] = Field(
        default_factory=list,
        description="Responders (names or `group:<name>`) invited to incident channels and "
        "mentioned by clock reminders.",
    )
    escalate_to: list[str] = Field(
        default_factory=list,
        description="Responders mentioned by `/smokejumper escalate` and clock breaches.",
    )
    users: dict[Annotated[str, StringConstraints(pattern=SLACK_USER_ID)], str] = Field(
        default_factory=dict,
        description="Slack user id to responder name (the identity approver groups list). "
        "A Slack user who is not here cannot approve.",
    )
    templates_dir: Path | None = Field(
        default=None,
        description="Folder of your own message templates; a file named like a built-in "
        "one replaces it.",
    )

    @model_validator(mode="after")
    def _complete(self) -> SlackSettings:
        if self.bot_token is None:
            return self
        if self.socket_mode and self.app_token is None:
            raise ValueError("slack.app_token is required when slack.socket_mode is true")
        if not self.socket_mode and self.signing_secret is None:
            raise ValueError(
                "slack.signing_secret is required (or set socket_mode with an app_token)"
            )
        if self.incident_channels is False and self.triage_channel is None:
            raise ValueError("set slack.triage_channel or slack.incident_channels")
        if self.templates_dir is not None and not self.templates_dir.is_dir():
            raise ValueError(f"slack.templates_dir: folder {self.templates_dir} does not exist")
        return self

    @property
    def enabled(self) -> bool:
        return self.bot_token is not None

    def slack_id(self, responder: str) -> str | None:
        """The Slack user id of a responder, for mentions."""
        return next((uid for uid, name in self.users.items() if name == responder), None)


class Settings(BaseSettings):
    """Everything smokejumper reads at start. Every key is documented in README.md."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Field(default=Path(".smokejumper"), description="State of the embedded mode.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL. Unset: SQLite file in data_dir."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    operator: str = Field(
        default="operator", description="Identity the CLI acts as until API tokens exist."
    )
    api: ApiSettings = Field(default_factory=ApiSettings)
    temporal: TemporalSettings = Field(default_factory=TemporalSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    sources: dict[Annotated[str, StringConstraints(pattern=SOURCE_NAME)], SourceSettings] = Field(
        default_factory=dict, description="Alert sources by name (the URL segment)."
    )
    approvers: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Approver groups: `group:<name>` in a playbook's approvers means these "
        "identities (Slack user ids, user names).",
    )
    routes: list[Route] = Field(
        default_factory=list,
        description="Routes tried before the playbooks' own triggers; first match wins.",
    )
    playbook_dirs: list[Path] = Field(
        default_factory=list,
        description="Folders of your own playbooks, loaded after the built-in ones: every "
        "`*.py` file in each (not `_*.py`) is imported and its @playbook classes registered "
        "(see docs/playbook-tooling.md). Relative paths are from the working directory.",
    )
    pollers: list[PollerSettings] = Field(
        default_factory=list,
        description="Jobs the scheduler leader runs to pull alerts from sources that cannot "
        "push (see docs/pollers.md).",
    )
    containment: ContainmentSettings = Field(
        default_factory=ContainmentSettings,
        description="Containment providers: where keys are revoked (see docs/integrations.md).",
    )
    memory: dict[str, MemorySettings] = Field(
        default_factory=dict,
        description="Per application (its inventory name): where it keeps conversation "
        "memory and LLM caches, which `sensitive-data-leakage` purges on approval "
        "(see docs/playbooks.md).",
    )
    evidence: EvidenceSettings = Field(
        default_factory=EvidenceSettings,
        description="Where captured evidence is stored (see docs/evidence.md).",
    )
    audit: AuditSettings = Field(
        default_factory=AuditSettings,
        description="The audit log's chain key and head checkpoint (see docs/operations.md).",
    )
    console: ConsoleSettings = Field(
        default_factory=ConsoleSettings,
        description="The responder console: sessions and the auth proxy (see docs/console.md).",
    )
    slack: SlackSettings = Field(
        default_factory=SlackSettings,
        description="Slack: incident cards, approvals, slash commands (see docs/slack.md).",
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("only sqlite:/// and postgresql+psycopg:// URLs are supported")
        if value.startswith("postgresql://"):
            # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
            return "postgresql+psycopg://" + value[len("postgresql://") :]
        return value

    @model_validator(mode="after")
    def _embedded_payload_key(self) -> Settings:
        # The key `up` generated for the embedded mode (smokejumper.security.payload_key),
        # read by every process of it; reading only: a CLI command creates nothing.
        temporal = self.temporal
        if temporal.embedded and temporal.encrypt_embedded and temporal.encryption_key is None:
            path = self.data_dir / PAYLOAD_KEY_FILE
            if path.is_file():
                value = path.read_text(encoding="utf-8").strip()
                try:
                    decode_key(value)
                except CodecKeyError as exc:
                    raise ValueError(f"temporal: the payload key in {path}: {exc}") from None
                temporal.encryption_key = SecretStr(value)
        return self

    @model_validator(mode="after")
    def _builtin_playbook_groups(self) -> Settings:
        # The built-in playbooks ask these groups. Unconfigured, each is the operator alone,
        # so a fresh install runs them end to end (the operator answers from the CLI); a
        # deployment names its people under [approvers].
        for group in BUILTIN_PLAYBOOK_GROUPS:
            self.approvers.setdefault(group, [self.operator])
        return self

    @field_validator("pollers")
    @classmethod
    def _unique_poller_names(cls, pollers: list[PollerSettings]) -> list[PollerSettings]:
        seen: dict[str, int] = {}
        for index, poller in enumerate(pollers):
            if poller.name in seen:
                raise ValueError(
                    f"pollers.{index}.name: {poller.name!r} is already the name of "
                    f"pollers.{seen[poller.name]}; poller names must be unique"
                )
            seen[poller.name] = index
        return pollers

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'smokejumper.db').resolve()}"

    @property
    def audit_key_file(self) -> Path:
        return self.audit.key_file or self.data_dir / AUDIT_KEY_FILE

    @property
    def evidence_directory(self) -> Path:
        return self.evidence.directory or self.data_dir / "evidence"

    @property
    def local_keys_file(self) -> Path:
        return self.containment.local_state_file or self.data_dir / "keys.json"

    @property
    def local_endpoints_file(self) -> Path:
        """Beside the keys file, so one setting moves the whole embedded control plane."""
        return self.local_keys_file.with_name("endpoints.json")

    @property
    def local_models_file(self) -> Path:
        """Pinned model versions of the embedded control plane, beside the keys file."""
        return self.local_keys_file.with_name("models.json")

    @property
    def local_principals_file(self) -> Path:
        """Blocked users, tenants, sessions and API keys (beside the keys file)."""
        return self.local_keys_file.with_name("principals.json")

    @property
    def local_filter_rules_file(self) -> Path:
        """Temporary input-filter rules the gateway applies (beside the keys file)."""
        return self.local_keys_file.with_name("filter_rules.json")

    @property
    def local_documents_file(self) -> Path:
        """Quarantined retrieval documents (beside the keys file)."""
        return self.local_keys_file.with_name("documents.json")

    @property
    def local_memory_file(self) -> Path:
        """Conversation memory of the `local` memory provider (beside the keys file)."""
        return self.local_keys_file.with_name("memory.json")

    def source_context(self, source: str) -> SourceContext:
        """The configured context defaults of a source (empty for an unconfigured one)."""
        configured = self.sources.get(source)
        return configured.context if configured is not None else SourceContext()

    @property
    def api_url(self) -> str:
        return self.api.public_url or f"http://{self.api.host}:{self.api.port}"

    def secret_values(self) -> list[str]:
        """Every configured secret, so log redaction can mask them."""
        found: list[str] = []

        def walk(obj: Any) -> None:
            if isinstance(obj, SecretStr):
                found.append(obj.get_secret_value())
            elif isinstance(obj, BaseModel):
                for name in type(obj).model_fields:
                    walk(getattr(obj, name))
            elif isinstance(obj, dict):
                for item in obj.values():
                    walk(item)
            elif isinstance(obj, list | tuple):
                for item in obj:
                    walk(item)

        walk(self)
        return [value for value in found if value]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = _TomlSource(settings_cls, _TOML_DATA.get())
        return (init_settings, env_settings, toml)


class _TomlSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


# The TOML data for the settings being built; set only inside load_settings.
_TOML_DATA: ContextVar[dict[str, Any]] = ContextVar("smokejumper_toml_data", default={})  # noqa: B039


def _reject_literal_secrets(data: Any, path: str = "") -> list[str]:
    problems: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            here = f"{path}.{key}" if path else str(key)
            if key in SECRET_KEY_NAMES and isinstance(value, str):
                if not value.startswith(("file:", "env:")):
                    problems.append(
                        f"{here}: a secret may not be written in the config file; "
                        f"{_secret_hint(here)}"
                    )
            elif key in SECRET_KEY_NAMES and isinstance(value, list):
                problems.extend(
                    f"{here}.{index}: a secret may not be written in the config file; "
                    f"{_secret_hint(f'{here}.{index}')}"
                    for index, item in enumerate(value)
                    if isinstance(item, str) and not item.startswith(("file:", "env:"))
                )
            else:
                problems.extend(_reject_literal_secrets(value, here))
    elif isinstance(data, list):
        # Array tables ([[pollers]]) carry secrets too.
        for index, item in enumerate(data):
            problems.extend(_reject_literal_secrets(item, f"{path}.{index}"))
    return problems


def _secret_hint(path: str) -> str:
    references = "write 'file:/path/to/secret' or 'env:VARIABLE'"
    if any(part.isdigit() for part in path.split(".")):
        # An environment variable cannot address one element of a list.
        return references
    return f"set {ENV_PREFIX + path.upper().replace('.', '__')} or {references}"


def config_path_from_env(explicit: str | Path | None = None) -> Path | None:
    """The config file to read: explicit, then $SMOKEJUMPER_CONFIG, then ./smokejumper.toml."""
    if explicit is not None:
        return Path(explicit)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def _format_location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(root)"


def format_validation_error(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        loc = _format_location(tuple(error["loc"]))
        message = error["msg"]
        secret = any(str(part) in SECRET_KEY_NAMES for part in error["loc"])
        shown = error.get("input")
        if not secret and shown is not None and not isinstance(shown, dict | list):
            message = f"{message} (got {shown!r})"
        lines.append(f"  {loc}: {message}")
    return "\n".join(lines)


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Load and validate settings; raise ConfigError naming every bad key."""
    path = config_path_from_env(config_file)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        problems = _reject_literal_secrets(data)
        if problems:
            raise ConfigError(f"invalid configuration in {path}:\n  " + "\n  ".join(problems))
    token = _TOML_DATA.set(data)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        where = f" ({path} and {ENV_PREFIX}* environment)" if path else ""
        raise ConfigError(
            f"invalid configuration{where}:\n{format_validation_error(exc)}"
        ) from None
    finally:
        _TOML_DATA.reset(token)
