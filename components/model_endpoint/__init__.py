"""ModelEndpoint: the model behind an HTTPS endpoint, serverless by default, with blue/green rollout."""

from components.model_endpoint.spec import (
    SERVERLESS_MAX_CONCURRENCY,
    SERVERLESS_MEMORY_MB,
    EndpointMode,
    ModelEndpointArgs,
)

__all__ = ["SERVERLESS_MAX_CONCURRENCY", "SERVERLESS_MEMORY_MB", "EndpointMode", "ModelEndpointArgs"]
