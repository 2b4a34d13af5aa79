"""Configuration: one pydantic settings model, from `smokejumper.toml` and `SMOKEJUMPER_*`.

Precedence, highest first: explicit overrides (tests, CLI flags), environment variables
(`SMOKEJUMPER_API__PORT=9000` — nested keys joined by a double underscore), the TOML file,
then defaults. Secrets never live in the TOML file as literals: there they must be a
reference, `file:/path` or `env:VARIABLE`, so a config file can be committed or shared.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from smokejumper.domain.alerts import Severity
from smokejumper.domain.routing import Route
from smokejumper.domain.source_context import SourceContext
from smokejumper.payload_keys import CodecKeyError, decode_key
from smokejumper.settings.api import ApiSettings
from smokejumper.settings.audit import AuditSettings
from smokejumper.settings.console import ConsoleSettings
from smokejumper.settings.containment import ContainmentSettings
from smokejumper.settings.email import EmailSettings
from smokejumper.settings.evidence import EvidenceSettings
from smokejumper.settings.intake import SOURCE_NAME, IntakeSettings, SourceSettings
from smokejumper.settings.memory import MemorySettings
from smokejumper.settings.mirrors import (
    JiraSettings,
    OpsgenieSettings,
    PagerDutySettings,
    TeamsSettings,
)
from smokejumper.settings.observability import ObservabilitySettings
from smokejumper.settings.pollers import PollerSettings
from smokejumper.settings.query_logs import QueryLogSettings
from smokejumper.settings.retention import RetentionSettings
from smokejumper.settings.retest import RetestSettings
from smokejumper.settings.scheduler import SchedulerSettings
from smokejumper.settings.slack import SlackSettings
from smokejumper.settings.slas import SlaPolicy
from smokejumper.settings.temporal import TemporalSettings
from smokejumper.settings.vectorstores import VectorStoreSettings

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
        "client_secret",
        "routing_key",
        "webhook_secret",
        "api_token",
        "webhook_url",
    }
    | {"encryption_key", "previous_encryption_keys"}
)


# The embedded mode's generated payload key, in data_dir.
PAYLOAD_KEY_FILE = "payload.key"


# The audit log's HMAC key, generated into data_dir unless audit.key_file names one.
AUDIT_KEY_FILE = "audit.key"


# Approver groups the built-in GenAI playbooks ask (see docs/playbooks.md).
BUILTIN_PLAYBOOK_GROUPS = (
    "security-oncall",
    "dpo",
    "incident-commanders",
    "ml-platform",
    # Legal / disclosure committee: decides materiality, which starts the SEC 8-K clock.
    "disclosure",
)


class ConfigError(Exception):
    """Configuration is invalid; the message names each offending key."""


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
    sqlite_synchronous: Literal["full", "normal"] = Field(
        default="full",
        description="SQLite only. full: every commit is on disk before it returns, so an "
        "alert answered 202 survives a power loss. normal: faster commits, but the last "
        "ones before a power loss (not a crash of smokejumper) can be lost.",
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
    email: EmailSettings | None = Field(
        default=None,
        description="The SMTP server e-mail goes out through: suppliers' security contacts "
        "(see docs/integrations.md).",
    )
    query_logs: dict[str, QueryLogSettings] = Field(
        default_factory=dict,
        description="Per application (its inventory name): its gateway's query log, which "
        "`model-extraction` keeps as evidence before it throttles (see docs/playbooks.md).",
    )
    vectorstores: dict[str, VectorStoreSettings] = Field(
        default_factory=dict,
        description="Per application (its inventory name): the retrieval index it retrieves "
        "from, which `prompt-injection` sweeps after an indirect injection "
        "(see docs/integrations.md).",
    )
    evidence: EvidenceSettings = Field(
        default_factory=EvidenceSettings,
        description="Where captured evidence is stored (see docs/evidence.md).",
    )
    retest: RetestSettings = Field(
        default_factory=RetestSettings,
        description="The retest before containment is undone (see docs/playbooks.md).",
    )
    retention: RetentionSettings = Field(
        default_factory=RetentionSettings,
        description="How long raw alert bodies and dead letters are kept (see docs/operations.md).",
    )
    observability: ObservabilitySettings = Field(
        default_factory=ObservabilitySettings,
        description="The worker's Temporal SDK metrics, traces, JSON logs "
        "(see docs/operations.md).",
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
    slas: dict[Severity, SlaPolicy] = Field(
        default_factory=dict,
        description="Per severity: minutes to acknowledge and to contain, reminders and "
        "escalation at a breach (see docs/case-work.md).",
    )
    pagerduty: PagerDutySettings | None = Field(
        default=None, description="PagerDuty Events API v2 mirror (see docs/integrations.md)."
    )
    opsgenie: OpsgenieSettings | None = Field(
        default=None, description="Opsgenie Alert API mirror (see docs/integrations.md)."
    )
    jira: JiraSettings | None = Field(
        default=None, description="Jira Cloud issue per incident (see docs/integrations.md)."
    )
    teams: TeamsSettings | None = Field(
        default=None, description="Microsoft Teams card per incident (see docs/integrations.md)."
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

    @property
    def local_vectorstore_file(self) -> Path:
        """Collections of the `local` vector-store provider (beside the keys file)."""
        return self.local_keys_file.with_name("vectorstore.json")

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
