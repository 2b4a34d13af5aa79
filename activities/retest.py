"""The retest before containment is undone (`retest_endpoint`): the incident's own attack
prompts, read back through the evidence store, and the configured probe set, sent to each
endpoint's OpenAI-compatible chat API (its `chat_url` in the inventory); every answer
checked by the rules detector (smokejumper/retest_rules.py).

Only a full pass passes: an endpoint that is down, slow, refusing with an error status or
answering something that is not a chat completion fails the retest, as does an endpoint
the inventory gives no chat URL, or an incident with no endpoint to ask.

The transcript (prompts and raw answers) is kept as evidence `retest-<attempt>`; the
workflow, the timeline and the logs get probe names, outcomes and finding kinds only. That
evidence is also the record that makes the activity idempotent: a retried attempt whose
transcript is already kept returns the verdict recorded in it instead of asking again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.evidence import EvidenceActivities
from integrations.chat_api import ask
from integrations.evidence.base import EvidenceStoreError
from smokejumper.config import Settings
from smokejumper.contracts.retest import RETEST
from smokejumper.domain.evidence import EvidenceCapture
from smokejumper.domain.response import KeptEvidence
from smokejumper.domain.retest import ProbeVerdict, RetestRequest, RetestResult
from smokejumper.inventory.key_prefixes import redactor_for
from smokejumper.redaction import Redactor
from smokejumper.retest_rules import RulesDetector, attack_prompts, markers_of
from smokejumper.store.db import Store
from smokejumper.store.tables import (
    AlertRow,
    EvidenceItem,
    Incident,
    InventoryEndpoint,
    InventoryModel,
    InventoryModelVersion,
)

log = logging.getLogger("smokejumper.retest")

PROMPT_KIND = "alert.prompt"
TRANSCRIPT_KIND = "retest.transcript"


@dataclass(frozen=True)
class _Target:
    name: str
    chat_url: str | None
    model: str
    known: bool = True


@dataclass(frozen=True)
class _Probe:
    name: str
    prompt: str


class RetestActivities:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        evidence: EvidenceActivities | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.evidence = evidence or EvidenceActivities(store, settings)
        self._client = client

    @property
    def client(self) -> httpx.Client:
        # Built on first use: `activity_names` builds these activities without a network.
        if self._client is None:
            self._client = httpx.Client(follow_redirects=False)
        return self._client

    @RETEST.implementation
    async def retest_endpoint(self, request: RetestRequest) -> RetestResult:
        """Ask each endpoint every prompt and check the answers; see the module."""
        kept = await asyncio.to_thread(self._kept, request)
        if kept is not None:
            return kept
        redactor = await asyncio.to_thread(redactor_for, self.store, self.settings)
        alerts, targets, prompts, withheld = await asyncio.to_thread(
            self._prepare, request, redactor
        )
        detector = RulesDetector(redactor, markers_of(alerts), self.settings.retest.ignore_kinds)
        verdicts: list[ProbeVerdict] = []
        exchanges: list[dict[str, Any]] = []
        for target in targets:
            if target.chat_url is None:
                verdicts.append(
                    ProbeVerdict(
                        name="endpoint",
                        endpoint=target.name,
                        outcome="no_answer",
                        detail="the inventory gives it no chat_url"
                        if target.known
                        else "not in the inventory",
                    )
                )
                continue
            for probe in prompts:
                verdict, answer = await asyncio.to_thread(self._probe, target, probe, detector)
                verdicts.append(verdict)
                exchanges.append(
                    {"probe": probe.name, "endpoint": target.name, "prompt": probe.prompt}
                    | {"answer": answer, "outcome": verdict.outcome, "findings": verdict.findings}
                )
                # A long probe set on a slow endpoint stays within the heartbeat.
                activity.heartbeat(len(verdicts))
        result = RetestResult(
            incident_id=request.incident_id,
            business_key=request.business_key,
            detector=detector.name,
            endpoints=[target.name for target in targets],
            probes=verdicts,
            withheld=withheld,
        )
        result.passed = bool(verdicts) and all(v.outcome == "passed" for v in verdicts)
        result.reason = (
            result.summary()
            if targets
            else "no endpoint to retest: the steps being undone "
            "and the alerts name none, and the inventory has none serving the alerts' model"
        )
        result.transcript = await asyncio.to_thread(self._keep, request, result, exchanges)
        log.info(
            "retest %s of incident %s: %s; %d probes, findings %s",
            request.attempt,
            request.incident_id,
            "passed" if result.passed else "failed",
            len(verdicts),
            ",".join(sorted({k for v in verdicts for k in v.findings})) or "none",
        )
        return result

    def _probe(
        self, target: _Target, probe: _Probe, detector: RulesDetector
    ) -> tuple[ProbeVerdict, str | None]:
        settings = self.settings.retest
        assert target.chat_url is not None
        answer = ask(
            self.client,
            target.chat_url,
            target.model,
            probe.prompt,
            timeout_seconds=settings.timeout_seconds,
            api_key=settings.api_key.get_secret_value() if settings.api_key else None,
            max_tokens=settings.max_tokens,
        )
        if answer.text is None:
            verdict = ProbeVerdict(
                name=probe.name, endpoint=target.name, outcome="no_answer", detail=answer.detail
            )
            return verdict, None
        findings = detector.findings(answer.text)
        verdict = ProbeVerdict(
            name=probe.name,
            endpoint=target.name,
            outcome="flagged" if findings else "passed",
            findings=findings,
            detail="refused by the provider's content filter" if answer.refused else None,
        )
        return verdict, answer.text

    # -- what to ask, and where ----------------------------------------------------------

    def _prepare(
        self, request: RetestRequest, redactor: Redactor
    ) -> tuple[list[dict[str, Any]], list[_Target], list[_Probe], int]:
        with self.store.session() as session:
            incident = session.get(Incident, request.incident_id)
            if incident is None:
                raise ApplicationError(
                    f"no incident {request.incident_id}", type="UnknownIncident", non_retryable=True
                )
            rows = session.scalars(
                select(AlertRow)
                .where(AlertRow.incident_id == request.incident_id)
                .order_by(AlertRow.received_at, AlertRow.id)
            ).all()
            alerts = [dict(row.normalized) for row in rows]
            ids = [row.id for row in rows]
        targets = self._targets(request, alerts)
        settings = self.settings.retest
        captured = self._prompts(request.incident_id, alerts, ids)
        # A prompt holding personal data or a secret (a DLP alert on the input) is not sent
        # again: that would leak it to the endpoint's provider a second time.
        safe = [text for text in captured if not redactor.find(text)]
        attacks = attack_prompts(safe, settings.max_attack_prompts)
        withheld = len(set(captured) - set(safe))
        probes = [_Probe(f"attack-{n}", text) for n, text in enumerate(attacks, start=1)]
        probes += [_Probe(f"probe:{p.name}", p.prompt) for p in settings.probes]
        return alerts, targets, probes, withheld

    def _targets(self, request: RetestRequest, alerts: list[dict[str, Any]]) -> list[_Target]:
        names = list(dict.fromkeys(request.endpoints))
        target = (alerts[0].get("target") or {}) if alerts else {}
        if not names and isinstance(target.get("endpoint"), str):
            names = [target["endpoint"]]
        with self.store.session() as session:
            if names:
                rows = {
                    row.name: row
                    for row in session.scalars(
                        select(InventoryEndpoint).where(InventoryEndpoint.name.in_(names))
                    )
                }
            elif isinstance(target.get("model"), str):
                found = session.scalars(
                    select(InventoryEndpoint)
                    .join(
                        InventoryModelVersion,
                        InventoryEndpoint.model_version_id == InventoryModelVersion.id,
                    )
                    .join(InventoryModel, InventoryModelVersion.model_id == InventoryModel.id)
                    .where(InventoryModel.name == target["model"])
                    .order_by(InventoryEndpoint.name)
                ).all()
                rows = {row.name: row for row in found}
                names = list(rows)
            else:
                rows = {}
        return [
            _Target(
                name,
                rows[name].chat_url if name in rows else None,
                (rows[name].chat_model if name in rows else None) or name,
                known=name in rows,
            )
            for name in names
        ]

    def _prompts(self, incident_id: int, alerts: list[dict[str, Any]], ids: list[str]) -> list[str]:
        """The incident's prompts, as kept in its evidence; read back through the evidence
        store. An incident whose playbook kept none (it read no leak) has its alerts'
        prompts kept now, the way the leak assessment keeps them."""
        items = self._prompt_items(incident_id)
        if not items:
            self.evidence.capture_many(
                [
                    EvidenceCapture(
                        incident_id=incident_id,
                        name=f"alert-{alert_id[:8]}-prompt",
                        kind=PROMPT_KIND,
                        content=prompt,
                        captured_by="retest",
                    )
                    for alert, alert_id in zip(alerts, ids, strict=True)
                    if isinstance(prompt := (alert.get("evidence") or {}).get("prompt"), str)
                    and prompt
                ],
                redactor_for(self.store, self.settings),
            )
            items = self._prompt_items(incident_id)
        return [self._read(uri) for uri in items]

    def _prompt_items(self, incident_id: int) -> list[str]:
        with self.store.session() as session:
            return list(
                session.scalars(
                    select(EvidenceItem.uri)
                    .where(
                        EvidenceItem.incident_id == incident_id, EvidenceItem.kind == PROMPT_KIND
                    )
                    .order_by(EvidenceItem.captured_at, EvidenceItem.id)
                )
            )

    def _read(self, uri: str) -> str:
        try:
            return self.evidence.evidence.get(uri).decode("utf-8", errors="replace")
        except EvidenceStoreError as exc:
            raise ApplicationError(
                str(exc), type=type(exc).__name__, non_retryable=not exc.retryable
            ) from None

    # -- the record ----------------------------------------------------------------------

    def _keep(
        self, request: RetestRequest, result: RetestResult, exchanges: list[dict[str, Any]]
    ) -> KeptEvidence:
        content = json.dumps(
            {"request": request.model_dump(mode="json"), "verdict": result.model_dump(mode="json")}
            | {"exchanges": exchanges},
            indent=2,
            sort_keys=True,
        )
        ref = self.evidence.capture_many(
            [
                EvidenceCapture(
                    incident_id=request.incident_id,
                    name=_transcript_name(request),
                    kind=TRANSCRIPT_KIND,
                    content=content,
                    captured_by=f"retest for {request.requested_by}",
                )
            ],
            redactor_for(self.store, self.settings),
        )[0]
        return KeptEvidence(name=ref.name, sha256=ref.sha256, findings=ref.findings)

    def _kept(self, request: RetestRequest) -> RetestResult | None:
        """The verdict of an attempt that already ran to its record."""
        with self.store.session() as session:
            row = session.scalars(
                select(EvidenceItem)
                .where(
                    EvidenceItem.incident_id == request.incident_id,
                    EvidenceItem.name == _transcript_name(request),
                )
                .order_by(EvidenceItem.id)
                .limit(1)
            ).first()
            if row is None:
                return None
            uri, sha256, name = row.uri, row.sha256, row.name
        recorded = json.loads(self._read(uri))
        result = RetestResult.model_validate(recorded["verdict"])
        result.transcript = KeptEvidence(name=name, sha256=sha256, findings=[])
        return result


def _transcript_name(request: RetestRequest) -> str:
    return f"retest-{request.attempt}"
