"""Azure AI Content Safety Prompt Shields (`POST /contentsafety/text:shieldPrompt`, API 2024-09-01).

The response has no scores, only verdicts::

    {"userPromptAnalysis": {"attackDetected": bool},
     "documentsAnalysis": [{"attackDetected": bool}, ...]}   # one per request document

Envelope the integration posts: the request body it sent, the response, and context::

    {"request": {"userPrompt": "...", "documents": ["...", ...]},     # both optional
     "response": <the shieldPrompt response>,
     "context": {"application", "endpoint", "model", "model_version", "user", "api_key_id",
                 "tenant", "session_id", "ip", "occurred_at"}}          # all optional

A user-prompt attack is a direct attack (jailbreak); a document attack is an indirect prompt
injection carried by third-party content, the more serious of the two because the attacker is
not the caller. No attack detected is not an alert.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.sources import common as c
from smokejumper.domain.alerts import Alert, AlertKind, Evidence, MatchedSpan, Severity

_DIRECT = "AML.T0051.000"
_INDIRECT = "AML.T0051.001"
_JAILBREAK = "AML.T0054"


class AzurePromptShieldsNormalizer:
    name = "azure-prompt-shields"

    def normalize(self, payload: Any) -> Alert:
        request, response, context = _parts(payload)
        user_prompt = c.opt_str(request, "userPrompt", "request")
        documents = _documents(request)
        direct, attacked, screened = _verdicts(response, len(documents))
        details: dict[str, c.Scalar] = {
            "user_prompt_attack": direct,
            "documents_screened": screened,
        }
        spans: list[MatchedSpan] = []
        if direct and user_prompt:
            spans.append(
                MatchedSpan(
                    start=0, end=len(user_prompt), label="user_prompt_attack", field="prompt"
                )
            )
        if attacked:
            details |= _attacked_documents(documents, attacked, spans)
        kind, severity, vector, atlas, title = _verdict(
            direct, bool(attacked), c.on_target(context.target)
        )
        return Alert(
            source=self.name,
            kind=kind,
            severity=severity,
            title=c.title(title),
            description=c.description(
                "Azure Prompt Shields: user prompt attack "
                f"{'detected' if direct else 'not detected'}; "
                f"{len(attacked)} of {screened} document(s) carried an attack."
            ),
            principal=context.principal,
            target=context.target,
            evidence=Evidence(
                prompt=c.evidence_text(user_prompt),
                matched_spans=spans[: c.MAX_SPANS],
                details=details,
            ),
            labels={"vector": vector},
            owasp=["LLM01"],
            atlas=atlas,
            **c.occurred(context.occurred_at),
        )


def _parts(payload: Any) -> tuple[Mapping[str, Any], Mapping[str, Any], c.Context]:
    body = c.as_object(payload, "")
    request = c.opt_obj(body, "request", "") or {}
    if "response" not in body and ("userPromptAnalysis" in body or "documentsAnalysis" in body):
        # The shieldPrompt response body posted alone, exactly as Azure returns it.
        body = {"response": body}
    response = c.obj(body, "response", "")
    return request, response, c.read_context(c.opt_obj(body, "context", ""), "context")


def _documents(request: Mapping[str, Any]) -> list[str]:
    documents: list[str] = []
    for i, raw in enumerate(c.opt_list(request, "documents", "request")):
        if not isinstance(raw, str):
            c.fail(c.join("request.documents", i), "must be a string")
        documents.append(raw)
    return documents


def _verdicts(response: Mapping[str, Any], documents: int) -> tuple[bool, list[int], int]:
    """Whether the user prompt was an attack, which documents carried one, and how many
    documents were screened; refuses an answer that found nothing."""
    user_analysis = c.opt_obj(response, "userPromptAnalysis", "response")
    direct = user_analysis is not None and c.req_bool(
        user_analysis, "attackDetected", "response.userPromptAnalysis"
    )
    analyses = c.opt_list(response, "documentsAnalysis", "response")
    if documents and len(analyses) != documents:
        c.fail(
            "response.documentsAnalysis",
            f"has {len(analyses)} entries but request.documents has {documents}",
        )
    attacked: list[int] = []
    for i, raw in enumerate(analyses):
        path = c.join("response.documentsAnalysis", i)
        if c.req_bool(c.as_object(raw, path), "attackDetected", path):
            attacked.append(i)
    if not direct and not attacked:
        c.fail("response", "attackDetected is false everywhere: nothing to report")
    return direct, attacked, len(analyses)


def _attacked_documents(
    documents: list[str], attacked: list[int], spans: list[MatchedSpan]
) -> dict[str, c.Scalar]:
    details: dict[str, c.Scalar] = {
        "document_index": attacked[0],
        "attacked_document_indexes": ",".join(str(i) for i in attacked),
    }
    for i in attacked:
        if i < len(documents):
            # The poisoned document is the evidence; it has no field of its own.
            details[f"document_{i}"] = c.detail(documents[i])
            spans.append(
                MatchedSpan(
                    start=0, end=len(documents[i]), label=f"document_attack[{i}]", field="document"
                )
            )
    return details


def _verdict(
    direct: bool, indirect: bool, where: str
) -> tuple[AlertKind, Severity, str, list[str], str]:
    """Kind, severity, vector, ATLAS techniques and title of what was found."""
    if indirect:
        also = " and a user prompt attack" if direct else ""
        return (
            AlertKind.PROMPT_INJECTION,
            Severity.HIGH,
            "direct+indirect" if direct else "indirect",
            [_INDIRECT, _DIRECT, _JAILBREAK] if direct else [_INDIRECT],
            f"Prompt Shields detected an indirect prompt injection in documents{also}{where}",
        )
    return (
        AlertKind.JAILBREAK,
        Severity.MEDIUM,
        "direct",
        [_JAILBREAK, _DIRECT],
        f"Prompt Shields detected a user prompt attack{where}",
    )
