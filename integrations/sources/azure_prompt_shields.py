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

from typing import Any

from integrations.sources import common as c
from smokejumper.domain.alerts import Alert, AlertKind, Evidence, MatchedSpan, Severity

_DIRECT = "AML.T0051.000"
_INDIRECT = "AML.T0051.001"
_JAILBREAK = "AML.T0054"


class AzurePromptShieldsNormalizer:
    name = "azure-prompt-shields"

    def normalize(self, payload: Any) -> Alert:
        body = c.as_object(payload, "")
        request = c.opt_obj(body, "request", "") or {}
        if "response" not in body and ("userPromptAnalysis" in body or "documentsAnalysis" in body):
            # The shieldPrompt response body posted alone, exactly as Azure returns it.
            body = {"response": body}
        response = c.obj(body, "response", "")
        context = c.read_context(c.opt_obj(body, "context", ""), "context")

        user_prompt = c.opt_str(request, "userPrompt", "request")
        documents: list[str] = []
        for i, raw in enumerate(c.opt_list(request, "documents", "request")):
            if not isinstance(raw, str):
                c.fail(c.join("request.documents", i), "must be a string")
            documents.append(raw)

        user_analysis = c.opt_obj(response, "userPromptAnalysis", "response")
        direct = user_analysis is not None and c.req_bool(
            user_analysis, "attackDetected", "response.userPromptAnalysis"
        )
        analyses = c.opt_list(response, "documentsAnalysis", "response")
        if documents and len(analyses) != len(documents):
            c.fail(
                "response.documentsAnalysis",
                f"has {len(analyses)} entries but request.documents has {len(documents)}",
            )
        attacked: list[int] = []
        for i, raw in enumerate(analyses):
            path = c.join("response.documentsAnalysis", i)
            if c.req_bool(c.as_object(raw, path), "attackDetected", path):
                attacked.append(i)
        if not direct and not attacked:
            c.fail("response", "attackDetected is false everywhere: nothing to report")

        details: dict[str, c.Scalar] = {
            "user_prompt_attack": direct,
            "documents_screened": len(analyses),
        }
        spans: list[MatchedSpan] = []
        if direct and user_prompt:
            spans.append(
                MatchedSpan(
                    start=0, end=len(user_prompt), label="user_prompt_attack", field="prompt"
                )
            )
        if attacked:
            details["document_index"] = attacked[0]
            details["attacked_document_indexes"] = ",".join(str(i) for i in attacked)
            for i in attacked:
                if i < len(documents):
                    # The poisoned document is the evidence; it has no field of its own.
                    details[f"document_{i}"] = c.detail(documents[i])
                    spans.append(
                        MatchedSpan(
                            start=0,
                            end=len(documents[i]),
                            label=f"document_attack[{i}]",
                            field="document",
                        )
                    )

        where = c.on_target(context.target)
        if attacked:
            kind = AlertKind.PROMPT_INJECTION
            severity = Severity.HIGH
            vector = "direct+indirect" if direct else "indirect"
            atlas = [_INDIRECT, _DIRECT, _JAILBREAK] if direct else [_INDIRECT]
            also = " and a user prompt attack" if direct else ""
            title = (
                f"Prompt Shields detected an indirect prompt injection in documents{also}{where}"
            )
        else:
            kind = AlertKind.JAILBREAK
            severity = Severity.MEDIUM
            vector = "direct"
            atlas = [_JAILBREAK, _DIRECT]
            title = f"Prompt Shields detected a user prompt attack{where}"

        return Alert(
            source=self.name,
            kind=kind,
            severity=severity,
            title=c.title(title),
            description=c.description(
                "Azure Prompt Shields: user prompt attack "
                f"{'detected' if direct else 'not detected'}; "
                f"{len(attacked)} of {len(analyses)} document(s) carried an attack."
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
