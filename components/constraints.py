"""What each cloud refuses, encoded once: combinations of valid settings that a real deploy would be rejected for.

Every concept's spec validates values that no cloud accepts. The rules here are the cloud-specific ones: each names
the config key it reports, the cloud, and the public page that states the limit, so the offline path (mocks, the
local engine) fails the same way `pulumi up` would, before any resource exists. `check(cloud, sections)` runs the
config-level rules (the config loader and the components call it); `check_sagemaker_endpoint` checks the endpoint
configuration the AWS component builds, for the exclusions no Args field can express.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from components.errors import InvalidArgs
from components.model_endpoint.spec import EndpointMode, ModelEndpointArgs
from components.training_job.spec import TrainingJobArgs

SAGEMAKER_SERVERLESS_EXCLUSIONS = "https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html#serverless-endpoints-how-it-works-exclusions"
SAGEMAKER_GUARDRAIL_EXCLUSIONS = (
    "https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-exclusions.html"
)
SAGEMAKER_INSTANCE_TYPES = (
    "https://docs.aws.amazon.com/sagemaker/latest/dg/notebooks-available-instance-types.html"
)
AZURE_ENDPOINT_SKUS = (
    "https://learn.microsoft.com/azure/machine-learning/reference-managed-online-endpoints-vm-sku-list"
)
AZURE_COMPUTE_SIZES = (
    "https://learn.microsoft.com/azure/machine-learning/concept-compute-target#supported-vm-series-and-sizes"
)
VERTEX_PREDICTION_MACHINES = "https://cloud.google.com/vertex-ai/docs/predictions/configure-compute"
VERTEX_TRAINING_MACHINES = "https://cloud.google.com/vertex-ai/docs/training/configure-compute"

SAGEMAKER_TYPE = re.compile(r"ml\.[a-z0-9]+\.[a-z0-9]+")
AZURE_SKU = re.compile(r"Standard_[A-Za-z0-9_]+")
GCE_MACHINE = re.compile(r"[a-z][a-z0-9]*-[a-z0-9]+(-[a-z0-9]+)*")


@dataclass(frozen=True)
class Rule:
    """One refusal of one cloud: `violation(args)` returns the offending value's reason, or None."""

    cloud: str
    section: str  # tricloud:<section>
    field: str  # the Args field (config key) the error names
    summary: str
    source: str
    violation: Callable[[Any], str | None]

    @property
    def key(self) -> str:
        return f"{self.section}.{self.field}"


def _capture_on_serverless(args: ModelEndpointArgs) -> str | None:
    if args.mode is EndpointMode.SERVERLESS and (args.data_capture_percent or 0) > 0:
        return (
            "SageMaker Serverless Inference does not support data capture; set it to 0 (the default for serverless) "
            "or use mode: instance"
        )
    return None


def _instance_type(pattern: re.Pattern[str], what: str) -> Callable[[Any], str | None]:
    def check(args: Any) -> str | None:
        value = args.instance_type
        if value is None or pattern.fullmatch(value):
            return None
        return f"must be {what}"

    return check


def _endpoint_instance(pattern: re.Pattern[str], what: str) -> Callable[[ModelEndpointArgs], str | None]:
    inner = _instance_type(pattern, what)
    # SERVERLESS ignores instance_type on every cloud; only INSTANCE mode sends it to the cloud.
    return lambda args: inner(args) if args.mode is EndpointMode.INSTANCE else None


RULES: tuple[Rule, ...] = (
    Rule(
        "aws",
        "endpoint",
        "data_capture_percent",
        "no data capture on a serverless endpoint",
        SAGEMAKER_SERVERLESS_EXCLUSIONS,
        _capture_on_serverless,
    ),
    Rule(
        "aws",
        "endpoint",
        "instance_type",
        "SageMaker hosting instance types are ml.<family>.<size>",
        SAGEMAKER_INSTANCE_TYPES,
        _endpoint_instance(SAGEMAKER_TYPE, "a SageMaker instance type such as ml.m5.large"),
    ),
    Rule(
        "aws",
        "training",
        "instance_type",
        "SageMaker training instance types are ml.<family>.<size>",
        SAGEMAKER_INSTANCE_TYPES,
        _instance_type(SAGEMAKER_TYPE, "a SageMaker instance type such as ml.m5.large"),
    ),
    Rule(
        "azure",
        "endpoint",
        "instance_type",
        "managed online deployments take an Azure VM SKU",
        AZURE_ENDPOINT_SKUS,
        _endpoint_instance(AZURE_SKU, "an Azure VM SKU such as Standard_DS2_v2"),
    ),
    Rule(
        "azure",
        "training",
        "instance_type",
        "AmlCompute clusters take an Azure VM size",
        AZURE_COMPUTE_SIZES,
        _instance_type(AZURE_SKU, "an Azure VM size such as Standard_DS3_v2"),
    ),
    Rule(
        "gcp",
        "endpoint",
        "instance_type",
        "Vertex AI prediction nodes take a Compute Engine machine type",
        VERTEX_PREDICTION_MACHINES,
        _endpoint_instance(GCE_MACHINE, "a Compute Engine machine type such as n1-standard-2"),
    ),
    Rule(
        "gcp",
        "training",
        "instance_type",
        "Vertex AI custom jobs take a Compute Engine machine type",
        VERTEX_TRAINING_MACHINES,
        _instance_type(GCE_MACHINE, "a Compute Engine machine type such as n1-standard-4"),
    ),
)

SECTION_TYPES: dict[str, type] = {"endpoint": ModelEndpointArgs, "training": TrainingJobArgs}


def rules_for(cloud: str) -> tuple[Rule, ...]:
    return tuple(r for r in RULES if r.cloud == cloud)


def check(cloud: str, sections: Mapping[str, Any]) -> None:
    """Raise InvalidArgs (field `<section>.<field>`, the value, the reason and its source) for the first refusal."""
    for rule in rules_for(cloud):
        args = sections.get(rule.section)
        if args is None:
            continue
        reason = rule.violation(args)
        if reason:
            raise InvalidArgs(rule.key, getattr(args, rule.field), f"{reason} ({cloud}: {rule.source})")


def check_args(cloud: str, section: str, args: Any) -> None:
    """The rules of one section, as a component checks its own Args (the error names the bare field)."""
    try:
        check(cloud, {section: args})
    except InvalidArgs as err:
        raise InvalidArgs(err.field.removeprefix(f"{section}."), err.value, err.reason) from None


def check_sagemaker_endpoint(
    mode: EndpointMode,
    *,
    variants: list[Mapping[str, Any]],
    network_isolation: bool,
    vpc_config: Mapping[str, Any] | None,
    deployment_config: Mapping[str, Any],
) -> None:
    """The serverless exclusions no Args field expresses, checked on what the AWS component is about to create."""
    if mode is not EndpointMode.SERVERLESS:
        return
    refusals = (
        (len(variants) > 1, "production_variants", len(variants), "multiple production variants"),
        (network_isolation, "enable_network_isolation", network_isolation, "network isolation"),
        (vpc_config is not None, "vpc_config", vpc_config, "a VPC configuration"),
        (
            "rolling_update_policy" in deployment_config,
            "deployment_config.rolling_update_policy",
            deployment_config.get("rolling_update_policy"),
            "rolling deployments",
        ),
    )
    for refused, field, value, what in refusals:
        if refused:
            source = (
                SAGEMAKER_GUARDRAIL_EXCLUSIONS
                if field.startswith("deployment")
                else SAGEMAKER_SERVERLESS_EXCLUSIONS
            )
            raise InvalidArgs(
                "mode",
                mode.value,
                f"SageMaker Serverless Inference does not support {what} (built {field} = {value!r}; {source})",
            )
