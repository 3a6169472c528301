"""ModelEndpoint spec (cloud-neutral).

AWS: SageMaker Model + EndpointConfiguration + Endpoint (blue/green canary, auto-rollback on the Observability
alarms). Azure: Azure ML OnlineEndpoint + OnlineDeployment with a traffic split. GCP: Vertex AiEndpoint (the model
is deployed onto it by the CD step: no Pulumi resource exists for model upload/deploy).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from components.errors import in_range, one_of, require
from components.spec_base import Args, Concept


class EndpointMode(StrEnum):
    SERVERLESS = (
        "serverless"  # scales to zero on AWS; Azure and GCP keep one small replica (no scale to zero)
    )
    INSTANCE = "instance"  # dedicated instances with target-tracking autoscaling


# SageMaker Serverless Inference accepts these memory sizes and concurrency range (the strictest cloud wins).
SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)
SERVERLESS_MAX_CONCURRENCY = (1, 200)

OUTPUTS = ("endpoint_name", "model_data_uri", "capture_uri")
INSTANCE_CAPTURE_PERCENT = 20  # what data_capture_percent = None means in INSTANCE mode


@dataclass(frozen=True, kw_only=True)
class ModelEndpointArgs(Args):
    mode: EndpointMode = EndpointMode.SERVERLESS  # serverless scales to zero where the cloud can
    serverless_memory_mb: int = 2048  # a tree model loads in well under 1 GB; 2 GB leaves headroom
    serverless_max_concurrency: int = 5  # bounds cost and protects the account's concurrency quota
    instance_type: str | None = None  # INSTANCE mode; None: ml.m5.large / Standard_DS2_v2 / n1-standard-2
    min_instances: int = 1  # INSTANCE mode autoscaling floor
    max_instances: int = 2  # INSTANCE mode autoscaling ceiling: bounds spend
    target_invocations_per_instance: int = 100  # per minute; autoscaling target
    image_uri: str | None = None  # None: the training image (app/Dockerfile serves the SageMaker contract)
    model_data_uri: str | None = None  # None: <artifacts zone>/models/latest/model.tar.gz
    canary_percent: int = 10  # share of capacity that gets the new model first
    canary_wait_minutes: int = 5  # watch the alarms this long before shifting the rest
    data_capture_percent: int | None = None  # None: 0 serverless (SageMaker refuses it), 20 instance

    def __post_init__(self) -> None:
        # Resolved once, so every cloud's component reads a number; an explicit value is kept and validated.
        if self.data_capture_percent is None:
            serverless = self.mode == EndpointMode.SERVERLESS
            object.__setattr__(self, "data_capture_percent", 0 if serverless else INSTANCE_CAPTURE_PERCENT)
        super().__post_init__()

    def validate(self) -> None:
        one_of("mode", self.mode, tuple(EndpointMode))
        one_of("serverless_memory_mb", self.serverless_memory_mb, SERVERLESS_MEMORY_MB)
        in_range("serverless_max_concurrency", self.serverless_max_concurrency, *SERVERLESS_MAX_CONCURRENCY)
        in_range("min_instances", self.min_instances, 1, 100)
        in_range("max_instances", self.max_instances, 1, 100)
        require(
            self.max_instances >= self.min_instances,
            "max_instances",
            self.max_instances,
            f"must be at least min_instances ({self.min_instances})",
        )
        in_range("target_invocations_per_instance", self.target_invocations_per_instance, 1, 100_000)
        in_range("canary_percent", self.canary_percent, 1, 50)
        in_range("canary_wait_minutes", self.canary_wait_minutes, 1, 60)
        in_range("data_capture_percent", self.data_capture_percent or 0, 0, 100)
        if self.model_data_uri is not None:
            require(
                "://" in self.model_data_uri,
                "model_data_uri",
                self.model_data_uri,
                "must be a URI such as s3://bucket/models/model.tar.gz",
            )


class ModelEndpoint(Concept):
    name = "ModelEndpoint"
    outputs = OUTPUTS
