"""TrainingJob on AWS: the SageMaker role reads curated, writes models/, pulls its image, writes logs; nothing else."""

from __future__ import annotations

import json

import pulumi
from aws_support import KEY_ARN, actions_and_resources, bucket_arn, role_statements, settled

from components.data_lake.aws import DataLake
from components.data_lake.spec import DataLakeArgs
from components.training_job.aws import TrainingJob
from components.training_job.spec import OUTPUTS, TrainingJobArgs
from tricloud.mocks import RecordingMocks

REPO_ARN = "arn:aws:ecr:ap-south-1:123456789012:repository/tricloud-aws-dev"
LOGS = "arn:aws:logs:ap-south-1:123456789012:log-group:/aws/sagemaker/TrainingJobs*"


@pulumi.runtime.test
def test_training_role_is_limited_to_curated_models_ecr_and_logs(mocks: RecordingMocks):
    lake = DataLake("lake", DataLakeArgs())
    TrainingJob("training", TrainingJobArgs(), lake=lake)

    def check() -> None:
        pairs = set(actions_and_resources(role_statements(mocks, "tricloud-aws-dev-sagemaker-training")))
        allowed_resources = {
            bucket_arn("curated"),
            bucket_arn("curated") + "/*",
            bucket_arn("artifacts") + "/models/*",
            KEY_ARN,
            REPO_ARN,
            LOGS,
            LOGS + ":log-stream:*",
        }
        wildcard = {(a, r) for a, r in pairs if r == "*"}
        assert wildcard == {("ecr:GetAuthorizationToken", "*")}  # the one action without resource scoping
        assert {r for _, r in pairs} - {"*"} == allowed_resources
        writes = {r for a, r in pairs if a == "s3:PutObject"}
        assert writes == {bucket_arn("artifacts") + "/models/*"}
        assert not any(a.startswith(("iam:", "sagemaker:", "s3:Delete")) for a, _ in pairs)
        trust = mocks.one("aws:iam/role:Role", "training-role").inputs["assumeRolePolicy"]
        assert '"Service": "sagemaker.amazonaws.com"' in trust

    return settled(check)


@pulumi.runtime.test
def test_default_image_is_this_stacks_scanned_kms_encrypted_ecr_repository(mocks: RecordingMocks):
    lake = DataLake("lake", DataLakeArgs())
    tr = TrainingJob("training", TrainingJobArgs(), lake=lake)

    def check(values: list[str]) -> None:
        got = dict(zip(OUTPUTS, values, strict=True))
        assert (
            got["training_image_uri"]
            == "123456789012.dkr.ecr.ap-south-1.amazonaws.com/tricloud-aws-dev:latest"
        )
        assert got["training_instance_type"] == "ml.m5.large"
        assert got["training_input_uri"] == "s3://tricloud-aws-dev-curated-123456789012-ap-south-1/"
        assert got["training_output_uri"] == "s3://tricloud-aws-dev-artifacts-123456789012-ap-south-1/models/"
        assert got["training_role"] == "arn:aws:iam::123456789012:role/tricloud-aws-dev-sagemaker-training"
        repo = mocks.one("aws:ecr/repository:Repository").inputs
        assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repo["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": KEY_ARN}]
        rules = json.loads(mocks.one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs["policy"])["rules"]
        assert [r["selection"]["tagStatus"] for r in rules] == [
            "untagged"
        ]  # tagged images stay for rollbacks
        assert mocks.registered_outputs["training"] == sorted(OUTPUTS)

    return pulumi.Output.all(settled(lambda: None), *[getattr(tr, k) for k in OUTPUTS]).apply(
        lambda v: check(v[1:])
    )


@pulumi.runtime.test
def test_explicit_image_and_instance_type_are_used(mocks: RecordingMocks):
    lake = DataLake("lake", DataLakeArgs())
    image = "public.ecr.aws/acme/trainer:1.2.3"
    tr = TrainingJob("training", TrainingJobArgs(image_uri=image, instance_type="ml.c5.xlarge"), lake=lake)

    def check(v: list[str]) -> None:
        assert v == [image, "ml.c5.xlarge"]

    return pulumi.Output.all(tr.training_image_uri, tr.training_instance_type).apply(check)
