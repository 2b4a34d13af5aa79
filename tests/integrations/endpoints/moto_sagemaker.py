"""`moto_server` with SageMaker's UpdateEndpoint, which moto (5.2) does not implement:
run as `python -m tests.integrations.endpoints.moto_sagemaker -H HOST -p PORT`.

Everything else the provider calls (DescribeEndpoint, DescribeEndpointConfig, their errors)
is moto's own. The added call follows the API reference: an unknown endpoint or config is a
ValidationException "Could not find ...", and the endpoint then runs the new config. AWS
switches asynchronously (Updating, then InService); here the switch is immediate.
"""

from __future__ import annotations

import sys

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse
from moto.server import main


def update_endpoint(
    self: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str
) -> FakeEndpoint:
    endpoint = self.endpoints.get(endpoint_name)
    if endpoint is None:
        arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
        raise ValidationError(message=f"Could not find endpoint '{arn}'.")
    config = self.describe_endpoint_config(endpoint_config_name)
    endpoint.endpoint_config_name = endpoint_config_name
    endpoint.production_variants = endpoint._process_production_variants(
        config["ProductionVariants"]
    )
    endpoint.last_modified_time = utcnow()
    return endpoint


def update_endpoint_response(self: SageMakerResponse) -> ActionResult:
    endpoint = self.sagemaker_backend.update_endpoint(
        endpoint_name=self._get_param("EndpointName"),
        endpoint_config_name=self._get_param("EndpointConfigName"),
    )
    return ActionResult({"EndpointArn": endpoint.arn})


SageMakerModelBackend.update_endpoint = update_endpoint  # type: ignore[attr-defined]
SageMakerResponse.update_endpoint = update_endpoint_response  # type: ignore[attr-defined]

if __name__ == "__main__":
    main(sys.argv[1:])
