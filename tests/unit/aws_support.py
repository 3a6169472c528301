"""Helpers of the AWS unit tests: wait for resources, read recorded inputs and IAM documents, build the platform."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime.stack import wait_for_rpcs

from components.api_frontend.aws import ApiFrontend
from components.api_frontend.spec import ApiFrontendArgs
from components.ci_identity.aws import CiIdentity
from components.ci_identity.spec import CiIdentityArgs
from components.data_lake.aws import DataLake
from components.data_lake.spec import DataLakeArgs
from components.model_endpoint.aws import ModelEndpoint
from components.model_endpoint.spec import ModelEndpointArgs
from components.observability.aws import Observability
from components.observability.spec import ObservabilityArgs
from components.spark_cluster.aws import SparkCluster
from components.spark_cluster.spec import SparkClusterArgs
from components.training_job.aws import TrainingJob
from components.training_job.spec import TrainingJobArgs
from tricloud.mocks import Recorded, RecordingMocks

ACCOUNT = "123456789012"
KEY_ARN = "arn:aws:kms:ap-south-1:123456789012:key/key-lake-key"


def bucket_arn(zone: str) -> str:
    return f"arn:aws:s3:::tricloud-aws-dev-{zone}-{ACCOUNT}-ap-south-1"


def settled(check: Callable[[], None]) -> pulumi.Output[None]:
    """Run `check` once every registration queued so far has reached the mocks (and its dependents too).

    Waiting on a few URNs is not enough: sibling resources register concurrently, in dependency order.
    """

    async def run() -> None:
        await wait_for_rpcs(await_all_outstanding_tasks=False)
        check()

    return pulumi.Output.from_input(asyncio.ensure_future(run()))


def doc(rec: Recorded, key: str = "policy") -> dict[str, Any]:
    return json.loads(rec.inputs[key])


def role_statements(mocks: RecordingMocks, role_name: str) -> list[dict[str, Any]]:
    """Every statement of every inline policy attached to the role with this physical name."""
    out: list[dict[str, Any]] = []
    for rec in mocks.of_type("aws:iam/rolePolicy:RolePolicy"):
        if rec.inputs["role"] == role_name:
            out.extend(doc(rec)["Statement"])
    return out


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def actions_and_resources(statements: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(a, r) for st in statements for a in as_list(st["Action"]) for r in as_list(st["Resource"])]


@dataclass
class Platform:
    observability: Observability
    lake: DataLake
    training: TrainingJob
    endpoint: ModelEndpoint
    api: ApiFrontend | None = None
    spark: SparkCluster | None = None
    ci: CiIdentity | None = None


def platform(
    *,
    endpoint: ModelEndpointArgs | None = None,
    api: ApiFrontendArgs | None = None,
    observability: ObservabilityArgs | None = None,
    training: TrainingJobArgs | None = None,
    spark: SparkClusterArgs | None = None,
    ci: CiIdentityArgs | None = None,
    with_api: bool = True,
) -> Platform:
    """The components in the stack's order (spark and ci only when asked for)."""
    obs = Observability("observability", observability or ObservabilityArgs())
    lake = DataLake("lake", DataLakeArgs())
    sp = SparkCluster("spark", spark, lake=lake) if spark else None
    tr = TrainingJob("training", training or TrainingJobArgs(), lake=lake)
    ep = ModelEndpoint("endpoint", endpoint or ModelEndpointArgs(), lake=lake, training=tr, observability=obs)
    fe = ApiFrontend("api", api or ApiFrontendArgs(), endpoint=ep, observability=obs) if with_api else None
    cid = CiIdentity("ci", ci, lake=lake, endpoint=ep, training=tr, api=fe) if ci and fe else None
    return Platform(observability=obs, lake=lake, training=tr, endpoint=ep, api=fe, spark=sp, ci=cid)
