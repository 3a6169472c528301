"""The whole AWS stack under the recording mocks: every type, every cloud-neutral output, stable inventories, and
configuration errors that stop the program before any resource exists."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.api_frontend.spec import OUTPUTS as API
from components.ci_identity.spec import OUTPUTS as CI
from components.data_lake.spec import OUTPUTS as LAKE
from components.errors import InvalidArgs
from components.model_endpoint.spec import OUTPUTS as ENDPOINT
from components.observability.spec import OUTPUTS as OBS
from components.spark_cluster.spec import OUTPUTS as SPARK
from components.training_job.spec import OUTPUTS as TRAINING
from tricloud.inventory import REPO_ROOT, build_inventory, format_inventory_table, run_program, stack_config
from tricloud.mocks import RecordingMocks

EXPECTED_TYPES = {
    "aws:s3/bucket:Bucket",
    "aws:kms/key:Key",
    "aws:glue/catalogDatabase:CatalogDatabase",
    "aws:glue/crawler:Crawler",
    "aws:athena/workgroup:Workgroup",
    "aws:emrserverless/application:Application",
    "aws:sagemaker/model:Model",
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    "aws:sagemaker/endpoint:Endpoint",
    "aws:lambda/function:Function",
    "aws:apigatewayv2/api:Api",
    "aws:apigatewayv2/route:Route",
    "aws:apigatewayv2/stage:Stage",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:sns/topic:Topic",
    "aws:iam/role:Role",
}
COMPONENTS = {
    "observability": ("tricloud:aws:Observability", OBS),
    "lake": ("tricloud:aws:DataLake", LAKE),
    "spark": ("tricloud:aws:SparkCluster", SPARK),
    "training": ("tricloud:aws:TrainingJob", TRAINING),
    "endpoint": ("tricloud:aws:ModelEndpoint", ENDPOINT),
    "api": ("tricloud:aws:ApiFrontend", API),
    "ci": ("tricloud:aws:CiIdentity", CI),
}


@pytest.fixture(scope="module")
def inventory() -> dict[str, Any]:
    return build_inventory("aws", "dev")


def _types(inv: dict[str, Any]) -> set[str]:
    return {r["type"] for r in inv["resources"]}


def test_stack_registers_every_expected_type(inventory: dict[str, Any]) -> None:
    missing = EXPECTED_TYPES - _types(inventory)
    assert not missing, missing
    assert inventory["cloud"] == "aws" and inventory["stack"] == "dev" and inventory["region"] == "ap-south-1"


def test_stack_exports_every_cloud_neutral_output(inventory: dict[str, Any]) -> None:
    for _, outputs in COMPONENTS.values():
        for name in outputs:
            assert isinstance(inventory["outputs"].get(name), str) and inventory["outputs"][name], name
    assert inventory["outputs"]["lake_uri"].startswith("s3://")
    assert inventory["outputs"]["api_url"].startswith("https://")
    assert inventory["outputs"]["endpoint_name"] == "tricloud-aws-dev-endpoint"


def test_components_are_resources_and_parent_their_children(inventory: dict[str, Any]) -> None:
    comps = {r["name"]: r for r in inventory["resources"] if r["type"].startswith("tricloud:")}
    assert {n: c["type"] for n, c in comps.items()} == {n: t for n, (t, _) in COMPONENTS.items()}
    for r in inventory["resources"]:
        if not r["type"].startswith("tricloud:"):
            assert r["parent"] in comps, r  # no child without a parent component


def test_every_component_registers_exactly_its_spec_outputs() -> None:
    mocks = RecordingMocks("aws", "ap-south-1")
    run_program("aws", "dev", mocks)
    assert mocks.registered_outputs == {n: sorted(o) for n, (_, o) in COMPONENTS.items()}


def test_inventory_is_byte_stable_and_free_of_machine_paths(inventory: dict[str, Any]) -> None:
    first = json.dumps(inventory, sort_keys=True, indent=2)
    second = json.dumps(build_inventory("aws", "dev"), sort_keys=True, indent=2)
    assert first == second
    assert str(REPO_ROOT) not in first
    assert inventory["resources"] == sorted(inventory["resources"], key=lambda r: (r["type"], r["name"]))


def test_taggable_resources_carry_the_standard_tags(inventory: dict[str, Any]) -> None:
    tagged = [r for r in inventory["resources"] if "tags" in r["inputs"]]
    assert len(tagged) > 20
    for r in tagged:
        tags = r["inputs"]["tags"]
        assert tags["owner"] == "ml-platform-team" and tags["cost-center"] == "mlops-course", r["name"]
        assert tags["project"] == "tricloud-aws" and tags["stack"] == "dev" and tags["managed-by"] == "pulumi"


def test_table_lists_every_resource(inventory: dict[str, Any]) -> None:
    table = format_inventory_table(inventory)
    assert f"{len(inventory['resources'])} resources" in table
    assert "aws:sagemaker/endpoint:Endpoint" in table and "lake_uri = s3://" in table


def _with(**sections: Any) -> dict[str, Any]:
    cfg = stack_config("aws", "dev")
    for key, value in sections.items():
        cfg[key.replace("__", ":")] = value
    return cfg


def test_cluster_mode_variant() -> None:
    cfg = _with(tricloud__spark={"mode": "cluster"})
    types = _types(build_inventory("aws", config=cfg))
    assert {
        "aws:emr/cluster:Cluster",
        "aws:emr/securityConfiguration:SecurityConfiguration",
        "aws:emr/instanceGroup:InstanceGroup",
    } <= types
    assert "aws:emrserverless/application:Application" not in types


def test_instance_endpoint_and_jwt_variants() -> None:
    cfg = _with(
        tricloud__endpoint={"mode": "instance", "min_instances": 1, "max_instances": 3},
        tricloud__api={
            "auth": "jwt",
            "jwt_issuer": "https://issuer.example.in/",
            "jwt_audience": ["tricloud"],
        },
    )
    types = _types(build_inventory("aws", config=cfg))
    assert {
        "aws:appautoscaling/target:Target",
        "aws:appautoscaling/policy:Policy",
        "aws:apigatewayv2/authorizer:Authorizer",
    } <= types


@pytest.mark.parametrize(
    ("override", "field", "value"),
    [
        ({"tricloud:spark": {"max_vcpu": -4}}, "tricloud:spark.max_vcpu", -4),
        (
            {"tricloud:lake": {"noncurrent_version_expiry_days": -1}},
            "tricloud:lake.noncurrent_version_expiry_days",
            -1,
        ),
        (
            {"tricloud:endpoint": {"serverless_memory_mb": 3000}},
            "tricloud:endpoint.serverless_memory_mb",
            3000,
        ),
        ({"aws:region": "mumbai"}, "aws:region", "mumbai"),
        ({"tricloud:lake": {"versionin": True}}, "tricloud:lake.versionin", True),
        ({"tricloud:lakes": {}}, "tricloud:lakes", {}),
    ],
)
def test_invalid_config_fails_before_any_resource(override: dict[str, Any], field: str, value: Any) -> None:
    cfg = {**stack_config("aws", "dev"), **override}
    mocks = RecordingMocks("aws", "ap-south-1")
    with pytest.raises(InvalidArgs) as err:
        run_program("aws", "dev", mocks, config=cfg)
    assert err.value.field == field and err.value.value == value
    assert field in str(err.value) and repr(value) in str(err.value)
    assert mocks.resources == []


def test_build_inventory_propagates_config_errors_unchanged() -> None:
    with pytest.raises(InvalidArgs, match=r"tricloud:endpoint\.serverless_memory_mb = 3000"):
        build_inventory("aws", config=_with(tricloud__endpoint={"serverless_memory_mb": 3000}))


def test_unknown_cloud_and_stack_are_named() -> None:
    with pytest.raises(ValueError, match="cloud = 'aws2'"):
        build_inventory("aws2")
    with pytest.raises(ValueError, match="stack = 'nope'"):
        build_inventory("aws", "nope")


def test_inventory_ignores_pulumi_config_from_the_environment(
    inventory: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"tricloud:bogus": "1", "aws:region": "eu-west-1"}))
    assert build_inventory("aws", "dev") == inventory
