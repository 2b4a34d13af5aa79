"""The inventory file (YAML or JSON): applications, models, datasets, endpoints, keys, links.

References between entries are checked here, so the importer can assume every name resolves.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from smokejumper.canary import canary_digest

NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"
DIGEST = r"^sha256:[0-9a-f]{64}$"
NODE_TYPES: tuple[str, ...] = (
    "application",
    "model",
    "model_version",
    "endpoint",
    "key",
    "dataset",
)

# Shapes of live credentials. An inventory is shared and committed, so a pasted secret
# would leak it; key_id and a short prefix are all incident response needs to find a key.
_SECRET_SHAPES = (
    re.compile(r"^(sk|rk|pk)[-_](live_|test_|proj-|ant-)?[A-Za-z0-9_-]{20,}$"),
    re.compile(r"^(ghp|gho|ghs|github_pat|xox[abpr])[-_][A-Za-z0-9_-]{20,}$"),
    re.compile(r"^AIza[0-9A-Za-z_-]{30,}$"),
)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TOKENISH = re.compile(r"^[A-Za-z0-9+/=_-]{32,}$")
_SECRET_FIELDS = frozenset(
    {"secret", "secret_key", "api_key", "apikey", "key", "token", "value", "password"}
)
MAX_PREFIX = 12


def looks_like_secret(value: str) -> bool:
    if any(shape.match(value) for shape in _SECRET_SHAPES):
        return True
    if _UUID.match(value):
        return False
    # A long unbroken run of letters and digits is what generated secrets look like;
    # ids people choose have words and separators.
    return (
        bool(_TOKENISH.match(value))
        and any(c.isdigit() for c in value)
        and any(c.isalpha() for c in value)
    )


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApplicationSpec(_Entry):
    name: str = Field(pattern=NAME)
    owner: str | None = None
    description: str | None = None
    high_risk: bool = Field(
        default=False, description="A high-risk AI system under the EU AI Act (Annex III)."
    )


class ModelVersionSpec(_Entry):
    version: str = Field(pattern=NAME)
    artifact_uri: str | None = None
    digest: str | None = Field(default=None, pattern=DIGEST)
    status: str = "active"
    known_good: bool = True


class ModelSpec(_Entry):
    name: str = Field(pattern=NAME)
    provider: str = "local"
    registry_ref: str | None = None
    owner: str | None = None
    description: str | None = None
    supplier: str | None = Field(default=None, description="The supplier it comes from.")
    versions: list[ModelVersionSpec] = Field(default_factory=list)

    @field_validator("versions")
    @classmethod
    def _unique_versions(cls, versions: list[ModelVersionSpec]) -> list[ModelVersionSpec]:
        seen: set[str] = set()
        for version in versions:
            if version.version in seen:
                raise ValueError(f"version {version.version!r} is listed twice")
            seen.add(version.version)
        return versions


class DatasetSpec(_Entry):
    name: str = Field(pattern=NAME)
    uri: str | None = None
    digest: str | None = Field(default=None, pattern=DIGEST)
    owner: str | None = None
    supplier: str | None = Field(default=None, description="The vendor it comes from.")


class EndpointSpec(_Entry):
    name: str = Field(pattern=NAME)
    model: str | None = Field(default=None, description="The `model@version` it serves.")
    application: str | None = None
    provider: str = "local"
    ref: str | None = None
    environment: str = "production"
    status: str = "serving"
    chat_url: str | None = Field(
        default=None,
        max_length=500,
        pattern=r"^https?://",
        description="Its OpenAI-compatible chat API (a `/v1` base URL), which the retest "
        "calls before containment is undone.",
    )
    chat_model: str | None = Field(
        default=None, max_length=200, description="The model name to ask there (default: name)."
    )
    supplier: str | None = Field(
        default=None, description="The supplier serving it (a hosted model API)."
    )


class ApiKeySpec(_Entry):
    key_id: str = Field(min_length=1, max_length=200)
    provider: str = "local"
    prefix: str | None = Field(default=None, max_length=MAX_PREFIX)
    owner: str | None = None
    scopes: list[str] = Field(default_factory=list)
    status: str = "active"
    application: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_secret_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in data:
                if str(name).lower() in _SECRET_FIELDS:
                    raise ValueError(
                        f"field {name!r} would hold the key itself; an inventory names keys "
                        "by key_id and prefix only"
                    )
        return data

    @field_validator("key_id", "prefix", "owner")
    @classmethod
    def _not_a_secret(cls, value: str | None) -> str | None:
        if value is not None and looks_like_secret(value):
            raise ValueError(
                "looks like a full secret; give the provider's key id and at most "
                f"{MAX_PREFIX} leading characters as prefix"
            )
        return value


class PromptSpec(_Entry):
    """An application's system prompt, as its prompt registry names it. `canaries` are
    strings planted in the prompt; the store keeps only their digests."""

    name: str = Field(pattern=NAME)
    provider: str = "local"
    alias: str = Field(default="production", pattern=NAME)
    application: str | None = None
    owner: str | None = None
    replacement_version: str | None = Field(
        default=None,
        pattern=NAME,
        description="The version without the secret to rotate to when this prompt leaks.",
    )
    canaries: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("canaries")
    @classmethod
    def _unique_canaries(cls, canaries: list[str]) -> list[str]:
        digests = [canary_digest(c).sha256 for c in canaries]  # ValueError when too short
        if len(set(digests)) != len(digests):
            raise ValueError("a canary is listed twice (compared without case and spacing)")
        return canaries


class SupplierSpec(_Entry):
    """A third party whose models, datasets or endpoints are used: told, at its security
    contact, when one of them is compromised or leaks."""

    name: str = Field(pattern=NAME)
    kind: Literal["model_provider", "dataset_vendor", "guardrail_vendor", "other"] = "other"
    security_contact: str = Field(
        max_length=320,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="The e-mail address of its security team (PSIRT).",
    )
    description: str | None = None


class LinkSpec(_Entry):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    src: str = Field(alias="from")
    relation: str = Field(pattern=r"^[a-z][a-z0-9_]{0,59}$")
    dst: str = Field(alias="to")


class InventoryDocument(_Entry):
    version: Literal[1] = 1
    applications: list[ApplicationSpec] = Field(default_factory=list)
    models: list[ModelSpec] = Field(default_factory=list)
    datasets: list[DatasetSpec] = Field(default_factory=list)
    endpoints: list[EndpointSpec] = Field(default_factory=list)
    api_keys: list[ApiKeySpec] = Field(default_factory=list)
    prompts: list[PromptSpec] = Field(default_factory=list)
    suppliers: list[SupplierSpec] = Field(default_factory=list)
    links: list[LinkSpec] = Field(default_factory=list)


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class InventoryError(ValueError):
    """The file is not a valid inventory; `problems` name each field at fault."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass(frozen=True)
class NodeRef:
    """A parsed `type:name` reference; `name` is `model@version` for model versions."""

    type: str
    name: str
    provider: str | None = None


def parse_ref(text: str) -> NodeRef:
    """`model:x@1` means the version; `key:openai/k1` picks a provider. Raises ValueError."""
    kind, sep, name = text.partition(":")
    if not sep or not name:
        raise ValueError(f"{text!r} is not <type>:<name>")
    if kind == "model" and "@" in name:
        kind = "model_version"
    if kind not in NODE_TYPES:
        raise ValueError(f"unknown type {kind!r} in {text!r}; one of {', '.join(NODE_TYPES)}")
    if kind == "model_version":
        model, at, version = name.partition("@")
        if not at or not model or not version:
            raise ValueError(f"{text!r}: a model version is written <model>@<version>")
    if kind == "key" and "/" in name:
        provider, _, key_id = name.partition("/")
        return NodeRef("key", key_id, provider)
    return NodeRef(kind, name)


def _loc(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(document)"


def _check_references(doc: InventoryDocument) -> list[Problem]:
    problems: list[Problem] = []

    def duplicates(section: str, names: list[str]) -> None:
        seen: set[str] = set()
        for index, name in enumerate(names):
            if name in seen:
                problems.append(Problem(f"{section}[{index}]", f"{name!r} is listed twice"))
            seen.add(name)

    apps = {a.name for a in doc.applications}
    models = {m.name for m in doc.models}
    versions = {f"{m.name}@{v.version}" for m in doc.models for v in m.versions}
    datasets = {d.name for d in doc.datasets}
    endpoints = {e.name for e in doc.endpoints}
    keys = {(k.provider, k.key_id) for k in doc.api_keys}
    duplicates("applications", [a.name for a in doc.applications])
    duplicates("models", [m.name for m in doc.models])
    duplicates("datasets", [d.name for d in doc.datasets])
    duplicates("endpoints", [e.name for e in doc.endpoints])
    duplicates("api_keys", [f"{k.provider}/{k.key_id}" for k in doc.api_keys])

    for index, endpoint in enumerate(doc.endpoints):
        path = f"endpoints[{index}]"
        if endpoint.model is not None:
            model, at, version = endpoint.model.partition("@")
            if not at:
                problems.append(Problem(f"{path}.model", "write the model as <model>@<version>"))
            elif model not in models:
                problems.append(Problem(f"{path}.model", f"unknown model {model!r}"))
            elif endpoint.model not in versions:
                problems.append(
                    Problem(f"{path}.model", f"model {model!r} has no version {version!r}")
                )
        if endpoint.application is not None and endpoint.application not in apps:
            problems.append(
                Problem(f"{path}.application", f"unknown application {endpoint.application!r}")
            )
    duplicates("suppliers", [s.name for s in doc.suppliers])
    suppliers = {s.name for s in doc.suppliers}
    supplied: list[tuple[str, str | None]] = [
        *((f"models[{i}].supplier", m.supplier) for i, m in enumerate(doc.models)),
        *((f"datasets[{i}].supplier", d.supplier) for i, d in enumerate(doc.datasets)),
        *((f"endpoints[{i}].supplier", e.supplier) for i, e in enumerate(doc.endpoints)),
    ]
    for where, supplier in supplied:
        if supplier is not None and supplier not in suppliers:
            problems.append(Problem(where, f"unknown supplier {supplier!r}"))
    duplicates("prompts", [p.name for p in doc.prompts])
    for index, prompt in enumerate(doc.prompts):
        if prompt.application is not None and prompt.application not in apps:
            problems.append(
                Problem(
                    f"prompts[{index}].application", f"unknown application {prompt.application!r}"
                )
            )
    for index, key in enumerate(doc.api_keys):
        if key.application is not None and key.application not in apps:
            problems.append(
                Problem(
                    f"api_keys[{index}].application", f"unknown application {key.application!r}"
                )
            )

    def known(ref: NodeRef) -> str | None:
        if ref.type == "key":
            matching = [k for k in keys if k[1] == ref.name and ref.provider in (None, k[0])]
            if not matching:
                return f"unknown key {ref.name!r}"
            if len(matching) > 1:
                return f"key {ref.name!r} exists at several providers; write key:<provider>/<id>"
            return None
        names = {
            "application": apps,
            "model": models,
            "model_version": versions,
            "endpoint": endpoints,
            "dataset": datasets,
        }[ref.type]
        if ref.name not in names:
            label = "model version" if ref.type == "model_version" else ref.type
            return f"unknown {label} {ref.name!r}"
        return None

    for index, link in enumerate(doc.links):
        for side, text in (("from", link.src), ("to", link.dst)):
            path = f"links[{index}].{side}"
            try:
                ref = parse_ref(text)
            except ValueError as exc:
                problems.append(Problem(path, str(exc)))
                continue
            message = known(ref)
            if message is not None:
                problems.append(Problem(path, message))
    return problems


def load_inventory(data: Any) -> InventoryDocument:
    """Validate a parsed document; raises InventoryError naming every field at fault."""
    try:
        doc = InventoryDocument.model_validate(data)
    except ValidationError as exc:
        raise InventoryError(
            [Problem(_loc(tuple(e["loc"])), e["msg"]) for e in exc.errors()]
        ) from None
    problems = _check_references(doc)
    if problems:
        raise InventoryError(problems)
    return doc


def read_inventory_file(path: Path) -> InventoryDocument:
    """Parse `.json` as JSON and anything else as YAML (a superset of JSON)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InventoryError([Problem(str(path), f"cannot read: {exc.strerror}")]) from None
    try:
        data: Any = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InventoryError([Problem(str(path), f"not valid {_format(path)}: {exc}")]) from None
    return load_inventory({} if data is None else data)


def _format(path: Path) -> str:
    return "JSON" if path.suffix == ".json" else "YAML"
