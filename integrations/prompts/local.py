"""Prompt versions of the embedded control plane, in `prompts.json` beside the keys file:
what the demo's application reads its system prompt from.

    {"prompts": {"support-system": {"versions": {"1": {"template": "...", "tags": {}}},
                                    "aliases": {"production": "1"}}}}
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from integrations.local_state import LocalProvider
from integrations.prompts.base import PromptNotFound, PromptProviderError, PromptState

PROVIDER = "local"
SECTION = "prompts"


class LocalPrompts(LocalProvider):
    section = SECTION
    what = "local prompts"
    error = PromptProviderError
    restorable = True

    def _prompt(self, prompts: dict[str, dict[str, Any]], prompt: str) -> dict[str, Any]:
        if prompt not in prompts:
            raise PromptNotFound(f"local: no prompt {prompt}")
        return prompts[prompt]

    def _version(self, record: dict[str, Any], prompt: str, version: str) -> dict[str, Any]:
        versions: dict[str, dict[str, Any]] = record.get("versions", {})
        if version not in versions:
            raise PromptNotFound(f"local: prompt {prompt} has no version {version}")
        return versions[version]

    def register(self, prompt: str, template: str, *, aliases: tuple[str, ...] = ()) -> str:
        """Record a new version (what publishing a prompt does); returns its number."""
        with self._file.locked():
            prompts = self._read()
            record = prompts.setdefault(prompt, {"versions": {}, "aliases": {}})
            version = str(len(record["versions"]) + 1)
            record["versions"][version] = {"template": template, "tags": {}}
            for alias in aliases:
                record["aliases"][alias] = version
            self._file.write(prompts)
            return version

    def state(self, prompt: str, alias: str) -> PromptState:
        record = self._prompt(self._read(), prompt)
        return self._state(prompt, alias, record)

    def _state(self, prompt: str, alias: str, record: dict[str, Any]) -> PromptState:
        return PromptState(
            prompt=prompt,
            alias=alias,
            provider=PROVIDER,
            version=record.get("aliases", {}).get(alias),
            details=dict(record.get("alias_changes", {}).get(alias, {})),
        )

    def text(self, prompt: str, version: str) -> str:
        record = self._prompt(self._read(), prompt)
        return str(self._version(record, prompt, version).get("template", ""))

    def tags(self, prompt: str, version: str) -> dict[str, str]:
        record = self._prompt(self._read(), prompt)
        return dict(self._version(record, prompt, version).get("tags", {}))

    def set_tag(self, prompt: str, version: str, key: str, value: str) -> None:
        with self._file.locked():
            prompts = self._read()
            entry = self._version(self._prompt(prompts, prompt), prompt, version)
            entry.setdefault("tags", {})[key] = value
            self._file.write(prompts)

    def set_alias(self, prompt: str, alias: str, version: str) -> PromptState:
        with self._file.locked():
            prompts = self._read()
            record = self._prompt(prompts, prompt)
            self._version(record, prompt, version)
            record.setdefault("aliases", {})[alias] = version
            changes = record.setdefault("alias_changes", {})
            changes[alias] = {"changed_at": datetime.now(UTC).isoformat()}
            self._file.write(prompts)
            return self._state(prompt, alias, record)
