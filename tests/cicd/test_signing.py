"""The hooks the CI permission tests stand on: a command signs as a role (`TRICLOUD_EMULATOR_CREDENTIALS`), moto
decides outside S3/IAM/STS by the action (it cannot see the ARN), and CloudWatch's actions are `cloudwatch:`."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError
from iam_eval import decide, statements
from offline import REGION, moto_process

from tricloud.engine import Emulator, iam
from tricloud.engine.emulator import SIGN_AS_ENV

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with moto_process() as url:
        yield Emulator.start(REGION, endpoint=url)


def role_session(emu: Emulator, name: str, statements_: list[dict[str, object]]) -> iam.Session:
    client = emu.client("iam")
    client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    client.put_role_policy(
        RoleName=name,
        PolicyName="p",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements_}),
    )
    arn = client.get_role(RoleName=name)["Role"]["Arn"]
    return emu.assume_role(arn, {"Service": "sagemaker.amazonaws.com"})


def test_a_command_signs_as_the_session_in_its_environment(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = role_session(
        emu, "sign-as-test", [{"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"}]
    )
    for k, v in {**session.env(), SIGN_AS_ENV: "environment"}.items():
        monkeypatch.setenv(k, v)
    signed = Emulator.start(REGION, endpoint=emu.moto_url)
    who = signed.client("sts").get_caller_identity()["Arn"]
    assert who == session.session_arn and ":assumed-role/sign-as-test/" in who
    assert signed.signer is not None and signed.signer.role_arn == session.role_arn
    # The emulator's own reads (a service assuming a role) stay the deployer's: the role has no iam:GetRole.
    assert (
        signed.assume_role(session.role_arn, {"Service": "sagemaker.amazonaws.com"}).role_arn
        == session.role_arn
    )
    monkeypatch.delenv(SIGN_AS_ENV)
    assert Emulator.start(REGION, endpoint=emu.moto_url).signer is None  # without the switch: the deployer


def test_moto_decides_by_action_where_it_cannot_see_the_arn(emu: Emulator) -> None:
    session = role_session(
        emu,
        "action-level-test",
        [
            {
                "Effect": "Allow",
                "Action": ["sagemaker:ListModelPackageGroups", "cloudwatch:DescribeAlarms"],
                "Resource": [f"arn:aws:sagemaker:{REGION}:123456789012:model-package-group/x-*"],
                "Condition": {"StringEquals": {"aws:ResourceTag/stack": "dev"}},
            },
            {"Effect": "Deny", "Action": "sagemaker:ListEndpoints", "Resource": "*"},
            {"Effect": "Allow", "Action": "sagemaker:ListEndpoints", "Resource": "*"},
        ],
    )
    sm = emu.session_client("sagemaker", session)
    sm.list_model_package_groups()  # scoped and conditioned: moto cannot tell, so the action decides
    emu.session_client(
        "cloudwatch", session
    ).describe_alarms()  # signed as `monitoring`, authorized as cloudwatch
    with pytest.raises(ClientError, match="AccessDenied"):
        sm.list_endpoints()  # an unconditional Deny on every resource still wins
    with pytest.raises(ClientError, match="AccessDenied"):
        sm.list_models()  # no statement names the action


def test_moto_authorizes_api_gateway_by_http_verb_as_iam_does(emu: Emulator) -> None:
    # IAM's API Gateway actions are HTTP verbs (apigateway:GET on /apis); moto named them by operation.
    verb = role_session(
        emu, "apigw-verb-test", [{"Effect": "Allow", "Action": "apigateway:GET", "Resource": "*"}]
    )
    emu.session_client("apigatewayv2", verb).get_apis()
    named = role_session(
        emu, "apigw-name-test", [{"Effect": "Allow", "Action": "apigateway:GetApis", "Resource": "*"}]
    )
    with pytest.raises(ClientError, match="apigateway:GET"):
        emu.session_client("apigatewayv2", named).get_apis()


def test_the_evaluator_reads_conditions_resources_and_deny_by_known_answers() -> None:
    policy = statements(
        [
            {
                "Statement": [
                    {
                        "Sid": "Tagged",
                        "Effect": "Allow",
                        "Action": "sagemaker:Describe*",
                        "Resource": "arn:aws:sagemaker:r:1:model/*",
                        "Condition": {"StringEquals": {"aws:ResourceTag/stack": "dev"}},
                    },
                    {
                        "Sid": "Prefix",
                        "Effect": "Allow",
                        "Action": "s3:ListBucket",
                        "Resource": "arn:aws:s3:::b",
                        "Condition": {"StringLike": {"s3:prefix": ["holdout/*"]}},
                    },
                    {
                        "Sid": "No",
                        "Effect": "Deny",
                        "Action": "sagemaker:DescribeModel",
                        "Resource": "*:model/secret",
                    },
                ]
            }
        ]
    )
    model = "arn:aws:sagemaker:r:1:model/m"
    assert decide(policy, "sagemaker:DescribeModel", model, {"aws:ResourceTag/stack": "dev"}).allowed
    assert decide(policy, "SageMaker:describemodel", model, {"aws:ResourceTag/stack": "dev"}).allowed  # case
    assert not decide(policy, "sagemaker:DescribeModel", model, {"aws:ResourceTag/stack": "prod"}).allowed
    assert not decide(
        policy, "sagemaker:DescribeModel", model, {}
    ).allowed  # a missing key fails the condition
    assert not decide(policy, "sagemaker:DescribeModel", "arn:aws:sagemaker:r:1:endpoint/m", {}).allowed
    secret = "arn:aws:sagemaker:r:1:model/secret"
    assert not decide(policy, "sagemaker:DescribeModel", secret, {"aws:ResourceTag/stack": "dev"}).allowed
    assert decide(policy, "s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "holdout/"}).allowed
    assert not decide(policy, "s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "listings/"}).allowed
