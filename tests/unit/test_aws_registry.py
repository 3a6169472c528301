"""AWS model registry and serving record under the recording mocks: the model package group and its policy, and the
endpoint's model taken from the SSM serving record (config pins first, bootstrap artifact when nothing rolled out)."""

from __future__ import annotations

import json

import pulumi
import pytest
from aws_support import platform, settled

from components.errors import InvalidArgs
from components.model_endpoint.serving import ServingModel, parameter_name
from components.model_endpoint.spec import ModelEndpointArgs
from tricloud.inventory import run_program, stack_config
from tricloud.mocks import RecordingMocks
from tricloud.mocks.aws import parameters_by_path

SSM_TOKEN = "aws:ssm/getParametersByPath:getParametersByPath"
IMAGE = "123456789012.dkr.ecr.ap-south-1.amazonaws.com/tricloud-aws-dev@sha256:" + "d" * 64
RECORD = ServingModel(
    version="arn:aws:sagemaker:ap-south-1:123456789012:model-package/tricloud-aws-dev-models/3",
    model_data_uri="s3://tricloud-aws-dev-artifacts-123456789012-ap-south-1/models/sha256/"
    + "e" * 64
    + "/model.tar.gz",
    model_sha256="e" * 64,
    image=IMAGE,
    label="2025.01.01-abc",
)


def with_ssm(mocks: RecordingMocks, store: dict[str, str]) -> RecordingMocks:
    mocks.invokes[SSM_TOKEN] = lambda args: parameters_by_path(args, store)
    return mocks


@pulumi.runtime.test
def test_registry_group_and_a_policy_for_this_account_only(mocks: RecordingMocks):
    p = platform(with_api=False)

    def check(name: str) -> None:
        group = mocks.one("aws:sagemaker/modelPackageGroup:ModelPackageGroup").inputs
        assert group["modelPackageGroupName"] == name == "tricloud-aws-dev-models"
        assert group["tags"]["component"] == "TrainingJob"
        policy = json.loads(
            mocks.one("aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy").inputs[
                "resourcePolicy"
            ]
        )
        (st,) = policy["Statement"]
        assert st["Effect"] == "Allow" and st["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
        assert st["Resource"] == [
            "arn:aws:sagemaker:ap-south-1:123456789012:model-package-group/tricloud-aws-dev-models",
            "arn:aws:sagemaker:ap-south-1:123456789012:model-package/tricloud-aws-dev-models/*",
        ]
        assert "sagemaker:UpdateModelPackage" in st["Action"] and not any(
            a.endswith("*") for a in st["Action"]
        )

    return pulumi.Output.all(settled(lambda: None), p.training.model_registry).apply(lambda v: check(v[1]))


@pulumi.runtime.test
def test_endpoint_serves_the_rolled_out_record_pinned_by_digest(mocks: RecordingMocks):
    with_ssm(mocks, {parameter_name("tricloud-aws", "dev"): RECORD.to_json(), "/tricloud-aws/dev/other": "x"})
    p = platform(with_api=False)

    def check(model_data_uri: str) -> None:
        container = mocks.one("aws:sagemaker/model:Model").inputs["primaryContainer"]
        assert container == {"image": IMAGE, "modelDataUrl": RECORD.model_data_uri, "mode": "SingleModel"}
        assert model_data_uri == RECORD.model_data_uri  # the model_data_uri output follows the record

    return pulumi.Output.all(settled(lambda: None), p.endpoint.model_data_uri).apply(lambda v: check(v[1]))


@pulumi.runtime.test
def test_a_config_pin_wins_over_the_record(mocks: RecordingMocks):
    with_ssm(mocks, {parameter_name("tricloud-aws", "dev"): RECORD.to_json()})
    platform(endpoint=ModelEndpointArgs(model_data_uri="s3://pinned/models/m.tar.gz"), with_api=False)

    def check() -> None:
        container = mocks.one("aws:sagemaker/model:Model").inputs["primaryContainer"]
        assert container["modelDataUrl"] == "s3://pinned/models/m.tar.gz"
        assert container["image"] == IMAGE  # only the pinned key is taken from the config

    return settled(check)


def test_another_stacks_record_is_not_read() -> None:
    mocks = with_ssm(
        RecordingMocks("aws", "ap-south-1"), {parameter_name("tricloud-aws", "prod"): RECORD.to_json()}
    )
    outputs = run_program("aws", "dev", mocks)
    container = mocks.one("aws:sagemaker/model:Model").inputs["primaryContainer"]
    assert container["modelDataUrl"].endswith("/models/latest/model.tar.gz")
    assert container["image"].endswith("/tricloud-aws-dev:latest")  # bootstrap: nothing rolled out on dev
    assert outputs["model_registry"] == "tricloud-aws-dev-models"


def test_a_broken_record_stops_the_program() -> None:
    mocks = with_ssm(
        RecordingMocks("aws", "ap-south-1"), {parameter_name("tricloud-aws", "dev"): '{"version": 1}'}
    )
    with pytest.raises(Exception, match="serving record"):
        run_program("aws", "dev", mocks, config=stack_config("aws", "dev"))
    assert not any(r.type == "aws:sagemaker/endpoint:Endpoint" for r in mocks.resources)


def test_invalid_args_are_raised_for_unpinned_images() -> None:
    with pytest.raises(InvalidArgs):
        ServingModel(RECORD.version, RECORD.model_data_uri, RECORD.model_sha256, "repo/x:latest")
