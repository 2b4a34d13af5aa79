"""AWS SageMaker real-time endpoints: isolating switches the endpoint to a maintenance
endpoint config (one serving a container that refuses requests, or the endpoint's last known
good config); restoring switches it back to the config recorded before.

Needs sagemaker:DescribeEndpoint and sagemaker:UpdateEndpoint on the endpoints, and
sagemaker:DescribeEndpointConfig on the configs. An update takes minutes on AWS: until the
endpoint is InService on the maintenance config, `verify_isolated` says False.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from integrations.aws_client import LazyAwsClient, retry_can_help, why
from integrations.endpoints.base import (
    ISOLATED,
    SERVING,
    EndpointNotFound,
    EndpointProviderError,
    EndpointState,
)

PROVIDER = "sagemaker"
# An endpoint in these states refuses UpdateEndpoint until it settles: worth a retry.
_SETTLING = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"})
_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnrecognizedClientException"})
_THROTTLED = frozenset({"ThrottlingException", "Throttling", "ServiceUnavailable"})


def _translate(exc: Exception, endpoint: str, operation: str) -> EndpointProviderError:
    if not isinstance(exc, ClientError):
        return EndpointProviderError(
            f"sagemaker {operation} {endpoint}: {why(exc)}", retryable=retry_can_help(exc)
        )
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    message = str(error.get("Message", ""))
    if code == "ValidationException" and "Could not find" in message:
        return EndpointNotFound(f"sagemaker {operation}: no endpoint or config for {endpoint}")
    if code in _DENIED:
        return EndpointProviderError(
            f"sagemaker {operation} {endpoint}: access denied ({code})", retryable=False
        )
    if code in _THROTTLED:
        return EndpointProviderError(f"sagemaker {operation} {endpoint}: {code}")
    if code.startswith(("Validation", "ResourceNotFound", "ResourceLimit")):
        return EndpointProviderError(
            f"sagemaker {operation} {endpoint}: rejected ({code}: {message[:200]})",
            retryable=False,
        )
    return EndpointProviderError(f"sagemaker {operation} {endpoint}: {code}")


class SageMakerEndpoints:
    name = PROVIDER
    restorable = True

    def __init__(
        self,
        endpoint_url: str | None = None,
        maintenance_config: str | None = None,
        maintenance_configs: dict[str, str] | None = None,
    ) -> None:
        self._client = LazyAwsClient("sagemaker", endpoint_url)
        self.maintenance_config = maintenance_config
        self.maintenance_configs = dict(maintenance_configs or {})

    def _call(self, operation: str, endpoint: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self._client.get(), operation)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, endpoint, operation) from None
        return response

    def maintenance_for(self, endpoint: str) -> str | None:
        return self.maintenance_configs.get(endpoint, self.maintenance_config)

    def _describe(self, endpoint: str) -> dict[str, Any]:
        return self._call("describe_endpoint", endpoint, EndpointName=endpoint)

    def _state_of(self, endpoint: str, described: dict[str, Any]) -> EndpointState:
        config = described.get("EndpointConfigName")
        pending = (described.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
        maintenance = self.maintenance_for(endpoint)
        # A switch to the maintenance config already under way counts: asking again would
        # be refused while the endpoint updates.
        isolated = maintenance is not None and maintenance in (config, pending)
        return EndpointState(
            endpoint=endpoint,
            provider=PROVIDER,
            status=ISOLATED if isolated else SERVING,
            details={
                "endpoint_config": config,
                "pending_config": pending,
                "endpoint_status": described.get("EndpointStatus"),
                "maintenance_config": maintenance,
            },
        )

    def state(self, endpoint: str) -> EndpointState:
        return self._state_of(endpoint, self._describe(endpoint))

    def _switch(self, endpoint: str, config: str) -> EndpointState:
        described = self._describe(endpoint)
        if described.get("EndpointConfigName") == config and not described.get(
            "PendingDeploymentSummary"
        ):
            return self._state_of(endpoint, described)
        status = str(described.get("EndpointStatus"))
        if status in _SETTLING:
            raise EndpointProviderError(
                f"sagemaker: endpoint {endpoint} is {status}; it can be switched once InService"
            )
        # Checked first so a missing config fails with its name, not a generic refusal.
        self._call("describe_endpoint_config", config, EndpointConfigName=config)
        self._call("update_endpoint", endpoint, EndpointName=endpoint, EndpointConfigName=config)
        return self.state(endpoint)

    def isolate(self, endpoint: str, *, by: str, reason: str | None = None) -> EndpointState:
        maintenance = self.maintenance_for(endpoint)
        if maintenance is None:
            raise EndpointProviderError(
                f"sagemaker: no maintenance config for {endpoint}; set "
                "containment.sagemaker.maintenance_config or maintenance_configs",
                retryable=False,
            )
        return self._switch(endpoint, maintenance)

    def verify_isolated(self, endpoint: str) -> bool:
        described = self._describe(endpoint)
        return (
            described.get("EndpointConfigName") == self.maintenance_for(endpoint)
            and described.get("EndpointStatus") == "InService"
        )

    def restore(self, endpoint: str, before: EndpointState) -> EndpointState:
        config = before.details.get("endpoint_config")
        if not config:
            raise EndpointProviderError(
                f"sagemaker: no endpoint config was recorded for {endpoint}", retryable=False
            )
        return self._switch(endpoint, str(config))
