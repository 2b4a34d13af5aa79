"""The deployable artefacts under deploy/, read as Docker, Compose and Kubernetes read them."""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CONTAINERFILE = DEPLOY / "Containerfile"
COMPOSE = DEPLOY / "compose.yaml"
COMPOSE_ENV_EXAMPLE = DEPLOY / "compose.env.example"
KUBERNETES = DEPLOY / "kubernetes"
KUSTOMIZATION = KUBERNETES / "kustomization.yaml"
MAKEFILE = ROOT / "Makefile"
PYPROJECT = ROOT / "pyproject.toml"

# The image every process runs (Compose, Kubernetes and the kustomization name it so).
IMAGE_NAME = "smokejumper"


def pyproject() -> dict[str, Any]:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))


# --- Kubernetes ---------------------------------------------------------------------------


def manifest_files() -> list[Path]:
    """Every manifest applied to the cluster (the kustomization is kustomize's, not the API's)."""
    return sorted(path for path in KUBERNETES.glob("*.yaml") if path != KUSTOMIZATION)


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def resources() -> list[dict[str, Any]]:
    return [doc for path in manifest_files() for doc in documents(path)]


def kind(name: str) -> list[dict[str, Any]]:
    return [doc for doc in resources() if doc["kind"] == name]


def pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    """(workload name, pod spec) of every Deployment and Job."""
    for doc in resources():
        if doc["kind"] in ("Deployment", "Job"):
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def configmap_toml() -> tuple[str, str, str]:
    """(ConfigMap name, key, the smokejumper.toml it holds)."""
    (configmap,) = kind("ConfigMap")
    ((key, text),) = configmap["data"].items()
    return configmap["metadata"]["name"], key, text


def secret_data() -> dict[str, str]:
    (secret,) = kind("Secret")
    data: dict[str, str] = secret["stringData"]
    return data


# --- Compose ------------------------------------------------------------------------------

_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?P<operator>:?[-?])?(?P<rest>[^}]*)\}")


def compose_raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def compose_variables() -> set[str]:
    """The ${NAME...} variables compose.yaml takes from deploy/.env."""
    return {match["name"] for match in _INTERPOLATION.finditer(COMPOSE.read_text("utf-8"))}


def interpolate(value: Any, variables: Mapping[str, str]) -> Any:
    """Compose's ${NAME}, ${NAME:?message}, ${NAME:-default} and $$ in one value."""
    if isinstance(value, dict):
        return {key: interpolate(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, variables) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, operator = match["name"], match["operator"] or ""
        if variables.get(name):
            return variables[name]
        if operator.endswith("?"):
            raise KeyError(f"{name} is required by compose.yaml: {match['rest']}")
        return match["rest"] if operator.endswith("-") else ""

    text = value.replace("$$", "\0")
    return _INTERPOLATION.sub(replace, text).replace("\0", "$")


def compose(variables: Mapping[str, str]) -> dict[str, Any]:
    """compose.yaml as Compose reads it with deploy/.env holding `variables`."""
    data: dict[str, Any] = interpolate(compose_raw(), variables)
    return data


def compose_env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in COMPOSE_ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def smokejumper_services(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run the engine's image."""
    return {
        name: service
        for name, service in data["services"].items()
        if str(service.get("image", "")).split(":")[0] == IMAGE_NAME
    }


# --- The image ----------------------------------------------------------------------------


def containerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined: list[str] = []
    pending = ""
    for raw in CONTAINERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    found = []
    for line in joined:
        instruction, _, arguments = line.partition(" ")
        found.append((instruction.upper(), arguments.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    """The instructions of the image that ships (after the last FROM)."""
    instructions = containerfile_instructions()
    last = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
    return instructions[last:]


def pip_installs(commands: list[str]) -> list[list[str]]:
    """The arguments of every `pip install` in shell commands (after `install`)."""
    found = []
    for command in commands:
        for part in re.split(r"&&|;|\|\|", command):
            words = shlex.split(part)
            for index, word in enumerate(words[:-1]):
                if (word == "pip" or word.endswith("/pip")) and words[index + 1] == "install":
                    found.append(words[index + 2 :])
    return found


def make_recipe_commands(target: str) -> list[str]:
    """The shell commands `make <target>` runs, through the file targets it depends on,
    with $(VAR) and $@ expanded from the Makefile's own assignments."""
    text = MAKEFILE.read_text(encoding="utf-8")
    variables: dict[str, str] = {}
    rules: dict[str, tuple[list[str], list[str]]] = {}
    current: str | None = None
    for line in text.splitlines():
        if line.startswith("\t") and current is not None:
            rules[current][1].append(line[1:])
            continue
        assignment = re.match(r"^([A-Z_]+)\s*(?:\?=|:=|=)\s*(.*)$", line)
        if assignment:
            variables[assignment[1]] = assignment[2].strip()
            current = None
            continue
        rule = re.match(r"^([^\s:#=][^:=]*):(?!=)\s*(.*)$", line)
        if rule and not line.startswith("."):
            current = _expand(rule[1].strip(), variables)
            prerequisites = [_expand(item, variables) for item in rule[2].split()]
            rules[current] = (prerequisites, [])
        elif not line.strip():
            continue
        else:
            current = None

    commands: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen or name not in rules:
            return
        seen.add(name)
        prerequisites, recipe = rules[name]
        for prerequisite in prerequisites:
            visit(prerequisite)
        commands.extend(_expand(line, variables).replace("$@", name) for line in recipe)

    visit(target)
    return commands


def _expand(text: str, variables: Mapping[str, str]) -> str:
    for _ in range(5):
        text = re.sub(r"\$\(([A-Z_]+)\)", lambda m: variables.get(m[1], ""), text)
    return text
