"""components/constraints.py: every rule fails at validation with an error naming its key, before any resource.

Each rule is tested twice: through the config loader (the `tricloud:` key a user edits) and by running the stack
program, which must stop before the first resource exists. The serverless exclusions no config key can express are
tested on the checker the AWS component calls with what it is about to create.
"""

from __future__ import annotations

from typing import Any

import pytest

from components import constraints
from components.errors import InvalidArgs
from components.model_endpoint.spec import EndpointMode, ModelEndpointArgs
from tricloud.config import parse
from tricloud.inventory import run_program, stack_config
from tricloud.mocks import RecordingMocks

# (cloud, section, bad values) -> the key the error must name.
CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("aws", "endpoint", {"data_capture_percent": 20}, "tricloud:endpoint.data_capture_percent"),
    (
        "aws",
        "endpoint",
        {"mode": "instance", "instance_type": "Standard_DS2_v2"},
        "tricloud:endpoint.instance_type",
    ),
    ("aws", "training", {"instance_type": "n1-standard-4"}, "tricloud:training.instance_type"),
    (
        "azure",
        "endpoint",
        {"mode": "instance", "instance_type": "ml.m5.large"},
        "tricloud:endpoint.instance_type",
    ),
    ("azure", "training", {"instance_type": "ml.m5.large"}, "tricloud:training.instance_type"),
    (
        "gcp",
        "endpoint",
        {"mode": "instance", "instance_type": "Standard_DS2_v2"},
        "tricloud:endpoint.instance_type",
    ),
    ("gcp", "training", {"instance_type": "ml.m5.xlarge"}, "tricloud:training.instance_type"),
]


def _values(cloud: str, section: str, bad: dict[str, Any]) -> dict[str, Any]:
    values = stack_config(cloud, "dev")
    values[f"tricloud:{section}"] = {**(values.get(f"tricloud:{section}") or {}), **bad}
    return values


def test_every_rule_has_a_case_and_a_public_source() -> None:
    covered = {(cloud, key.removeprefix("tricloud:")) for cloud, _, _, key in CASES}
    assert covered == {(r.cloud, r.key) for r in constraints.RULES}
    for rule in constraints.RULES:
        assert rule.source.startswith("https://"), rule


@pytest.mark.parametrize(("cloud", "section", "bad", "key"), CASES, ids=[f"{c[0]}-{c[3]}" for c in CASES])
def test_rule_fails_in_the_loader_naming_the_key(
    cloud: str, section: str, bad: dict[str, Any], key: str
) -> None:
    with pytest.raises(InvalidArgs) as err:
        parse(cloud, _values(cloud, section, bad))
    assert err.value.field == key
    assert err.value.value == next(iter(v for k, v in bad.items() if key.endswith(k)))
    assert "https://" in err.value.reason


@pytest.mark.parametrize(("cloud", "section", "bad", "key"), CASES, ids=[f"{c[0]}-{c[3]}" for c in CASES])
def test_rule_stops_the_stack_before_any_resource(
    cloud: str, section: str, bad: dict[str, Any], key: str
) -> None:
    mocks = RecordingMocks(cloud, "r")
    with pytest.raises(InvalidArgs) as err:
        run_program(cloud, "dev", mocks, config=_values(cloud, section, bad))
    assert err.value.field == key
    assert not mocks.resources


@pytest.mark.parametrize(
    ("cloud", "section", "good"),
    [
        (
            "aws",
            "endpoint",
            {"mode": "instance", "data_capture_percent": 20, "instance_type": "ml.c5.xlarge"},
        ),
        ("aws", "endpoint", {"data_capture_percent": 0}),
        ("azure", "endpoint", {"data_capture_percent": 20}),  # Azure ML collects data on any deployment
        ("azure", "training", {"instance_type": "Standard_NC6s_v3"}),
        ("gcp", "training", {"instance_type": "e2-highmem-8"}),
        ("gcp", "endpoint", {"instance_type": "ml.m5.large"}),  # serverless mode never sends instance_type
    ],
)
def test_what_the_cloud_accepts_passes(cloud: str, section: str, good: dict[str, Any]) -> None:
    parse(cloud, _values(cloud, section, good))


def test_the_aws_component_checks_its_own_args() -> None:
    with pytest.raises(InvalidArgs) as err:
        constraints.check_args("aws", "endpoint", ModelEndpointArgs(data_capture_percent=5))
    assert err.value.field == "data_capture_percent" and err.value.value == 5


SERVERLESS_BUILDS = [
    ({"variants": [{}, {}]}, "multiple production variants"),
    ({"network_isolation": True}, "network isolation"),
    ({"vpc_config": {"subnets": ["subnet-1"]}}, "a VPC configuration"),
    ({"deployment_config": {"rolling_update_policy": {}}}, "rolling deployments"),
]


@pytest.mark.parametrize(("change", "what"), SERVERLESS_BUILDS, ids=[w for _, w in SERVERLESS_BUILDS])
def test_serverless_exclusions_on_the_built_endpoint(change: dict[str, Any], what: str) -> None:
    build: dict[str, Any] = {
        "variants": [{}],
        "network_isolation": False,
        "vpc_config": None,
        "deployment_config": {"blue_green_update_policy": {}},
    }
    constraints.check_sagemaker_endpoint(EndpointMode.SERVERLESS, **build)  # what the component builds passes
    with pytest.raises(InvalidArgs) as err:
        constraints.check_sagemaker_endpoint(EndpointMode.SERVERLESS, **{**build, **change})
    assert err.value.field == "mode" and what in err.value.reason
    constraints.check_sagemaker_endpoint(EndpointMode.INSTANCE, **{**build, **change})  # instances allow it
