"""smokejumper's own model-integrity check: the deployed artifact's digest against the registry's.

    {"model": "support-llm", "version": "7", "artifact_uri": "s3://models/support-llm/7/",
     "expected_digest": "sha256:<64 hex>", "actual_digest": "sha256:<64 hex>",
     "checked_at": "2025-05-01T03:00:00Z", "registry": "mlflow" | "s3" | "local",
     "endpoint": "support-chat-prod", "application": "support-bot"}   # both optional

`endpoint` and `application` name where the model serves, when the checker knows; the
intake query (`?endpoint=`) or the source's configured context can say it instead.

A mismatch means the weights serving traffic are not the ones that were reviewed and
registered: tampering (a backdoored model) or a compromised supply chain until shown
otherwise, so it is always critical. Equal digests are not an alert. This is our own format,
so it is read strictly: `checked_at` must carry a UTC offset.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from integrations.sources import common as c
from smokejumper.domain.alerts import Alert, AlertKind, Evidence, Severity, Target

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_REGISTRIES = {"mlflow", "s3", "local"}


def _digest(body: Mapping[str, Any], key: str) -> str:
    value = c.req_str(body, key, "").strip().lower()
    if not _DIGEST.match(value):
        c.fail(key, "must look like 'sha256:' followed by 64 hex digits")
    return value


class ModelIntegrityNormalizer:
    name = "model-integrity"

    def normalize(self, payload: Any) -> Alert:
        body = c.as_object(payload, "")
        model = c.req_name(c.req_str(body, "model", ""), "model")
        version = c.req_name(c.req_str(body, "version", ""), "version")
        artifact_uri = c.req_str(body, "artifact_uri", "")
        registry = c.req_str(body, "registry", "")
        if registry not in _REGISTRIES:
            c.fail("registry", "must be one of: local, mlflow, s3")
        expected = _digest(body, "expected_digest")
        actual = _digest(body, "actual_digest")
        checked_at = c.parse_time(
            c.req_str(body, "checked_at", ""), "checked_at", naive_is_utc=False
        )
        if expected == actual:
            c.fail("actual_digest", "digests match: nothing to report")

        return Alert(
            source=self.name,
            kind=AlertKind.MODEL_COMPROMISE,
            severity=Severity.CRITICAL,
            title=c.title(f"Model artifact digest mismatch for {model} version {version}"),
            description=c.description(
                f"The artifact deployed for {model} version {version} does not match the digest "
                f"recorded in the {registry} registry. Treat the model as tampered with until "
                "its provenance is re-established."
            ),
            target=Target(
                model=model,
                model_version=version,
                endpoint=c.name(c.opt_str(body, "endpoint", "")),
                application=c.name(c.opt_str(body, "application", "")),
            ),
            evidence=Evidence(
                details={
                    "artifact_uri": c.detail(artifact_uri),
                    "expected_digest": expected,
                    "actual_digest": actual,
                    "registry": registry,
                }
            ),
            labels={"registry": registry},
            owasp=["LLM03", "LLM04"],
            atlas=["AML.T0018", "AML.T0010"],
            dedup_key=c.name(f"model-integrity:{model}:{version}"),
            occurred_at=checked_at,
        )
