"""Observability (encrypted topic, alarms, dashboard) and CiIdentity (GitHub OIDC pinned to aud and sub) on AWS."""

from __future__ import annotations

import json

import pulumi
import pytest
from aws_support import actions_and_resources, platform, role_statements, settled

from components.ci_identity.aws import CiIdentity
from components.ci_identity.spec import AwsCiOptions, CiIdentityArgs
from components.observability.aws import Observability
from components.observability.spec import ObservabilityArgs
from tricloud.mocks import RecordingMocks

TOPIC = "arn:aws:sns:ap-south-1:123456789012:tricloud-aws-dev-alerts"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


@pulumi.runtime.test
def test_topic_is_kms_encrypted_and_every_alarm_notifies_it(mocks: RecordingMocks):
    platform(observability=ObservabilityArgs(alert_email="ops@example.in", model_latency_p99_ms=800))

    def check() -> None:
        topic = mocks.one("aws:sns/topic:Topic").inputs
        key = mocks.one("aws:kms/key:Key", "observability-key")
        assert topic["kmsMasterKeyId"] == f"arn:aws:kms:ap-south-1:123456789012:key/{key.id}"
        policy = json.loads(key.inputs["policy"])
        assert any(s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} for s in policy["Statement"])
        sub = mocks.one("aws:sns/topicSubscription:TopicSubscription").inputs
        assert (sub["protocol"], sub["endpoint"], sub["topic"]) == ("email", "ops@example.in", TOPIC)
        alarms = {r.inputs["name"]: r.inputs for r in mocks.of_type(ALARM)}
        assert set(alarms) == {
            "tricloud-aws-dev-endpoint-5xx",
            "tricloud-aws-dev-endpoint-latency-p99",
            "tricloud-aws-dev-api-5xx",
            "tricloud-aws-dev-function-errors",
            "tricloud-aws-dev-function-throttles",
        }
        for a in alarms.values():
            assert a["alarmActions"] == [TOPIC] and a["treatMissingData"] == "notBreaching"
        latency = alarms["tricloud-aws-dev-endpoint-latency-p99"]
        assert (latency["metricName"], latency["extendedStatistic"]) == ("ModelLatency", "p99")
        assert latency["threshold"] == 800_000  # ModelLatency is reported in microseconds
        assert alarms["tricloud-aws-dev-endpoint-5xx"]["metricName"] == "Invocation5XXErrors"
        assert alarms["tricloud-aws-dev-api-5xx"]["namespace"] == "AWS/ApiGateway"
        assert alarms["tricloud-aws-dev-api-5xx"]["dimensions"]["Stage"] == "$default"
        assert alarms["tricloud-aws-dev-function-throttles"]["metricName"] == "Throttles"
        assert alarms["tricloud-aws-dev-function-errors"]["dimensions"] == {
            "FunctionName": "tricloud-aws-dev-api"
        }

    return settled(check)


@pulumi.runtime.test
def test_dashboard_shows_everything_watched(mocks: RecordingMocks):
    platform()

    def check() -> None:
        dash = mocks.one("aws:cloudwatch/dashboard:Dashboard").inputs
        assert dash["dashboardName"] == "tricloud-aws-dev-platform"
        widgets = json.loads(dash["dashboardBody"])["widgets"]
        namespaces = {w["properties"]["metrics"][0][0] for w in widgets}
        assert namespaces == {"AWS/SageMaker", "AWS/ApiGateway", "AWS/Lambda"}
        assert all(w["properties"]["region"] == "ap-south-1" for w in widgets)
        metrics = {m[1] for w in widgets for m in w["properties"]["metrics"]}
        assert {"Invocation5XXErrors", "ModelLatency", "5xx", "Errors", "Throttles"} <= metrics

    return settled(check)


@pulumi.runtime.test
def test_watching_after_the_dashboard_is_published_is_an_error(mocks: RecordingMocks):
    obs = Observability("observability", ObservabilityArgs())
    obs.watch_api("api123", "$default", "fn")
    with pytest.raises(RuntimeError, match="call watch_api last"):
        obs.watch_endpoint("ep", "primary")
    return settled(lambda: None)


@pulumi.runtime.test
def test_oidc_trust_pins_audience_and_subject(mocks: RecordingMocks):
    platform(ci=CiIdentityArgs(github_repository="acme/ml", environment="prod"))

    def check() -> None:
        provider = mocks.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
        assert provider.inputs["url"] == "https://token.actions.githubusercontent.com"
        assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]
        trust = json.loads(mocks.one("aws:iam/role:Role", "ci-deploy-role").inputs["assumeRolePolicy"])
        (st,) = trust["Statement"]
        assert st["Principal"] == {"Federated": provider.id}
        assert st["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert st["Condition"] == {
            "StringEquals": {
                "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                "token.actions.githubusercontent.com:sub": ["repo:acme/ml:environment:prod"],
            }
        }

    return settled(check)


@pulumi.runtime.test
def test_oidc_subjects_are_refs_without_an_environment(mocks: RecordingMocks):
    platform(
        ci=CiIdentityArgs(
            github_repository="acme/ml", environment=None, allowed_refs=("refs/heads/main", "refs/tags/v*")
        )
    )

    def check() -> None:
        trust = json.loads(mocks.one("aws:iam/role:Role", "ci-deploy-role").inputs["assumeRolePolicy"])
        subs = trust["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
        assert subs == ["repo:acme/ml:ref:refs/heads/main", "repo:acme/ml:ref:refs/tags/v*"]

    return settled(check)


@pulumi.runtime.test
def test_an_existing_oidc_provider_is_reused(mocks: RecordingMocks):
    arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    p = platform(with_api=False)
    ci = CiIdentity(
        "ci",
        CiIdentityArgs(aws=AwsCiOptions(existing_provider_arn=arn)),
        lake=p.lake,
        endpoint=p.endpoint,
        training=p.training,
    )

    def check(provider: str) -> None:
        assert provider == arn
        assert mocks.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider") == []
        trust = json.loads(mocks.one("aws:iam/role:Role", "ci-deploy-role").inputs["assumeRolePolicy"])
        assert trust["Statement"][0]["Principal"] == {"Federated": arn}

    return pulumi.Output.all(settled(lambda: None), ci.ci_identity_provider).apply(lambda v: check(v[1]))


@pulumi.runtime.test
def test_deploy_role_is_limited_to_the_deploy_workflow(mocks: RecordingMocks):
    platform(ci=CiIdentityArgs())

    def check() -> None:
        statements = role_statements(mocks, "tricloud-aws-dev-github-deploy")
        pairs = set(actions_and_resources(statements))
        # ecr:GetAuthorizationToken has no resource-level permissions: "*" is its only form (it grants no image).
        assert not any((r == "*" and a != "ecr:GetAuthorizationToken") or a.endswith(":*") for a, r in pairs)
        push = {r for a, r in pairs if a == "ecr:PutImage"}
        assert push == {"arn:aws:ecr:ap-south-1:123456789012:repository/tricloud-aws-dev"}, push
        update = {r for a, r in pairs if a == "sagemaker:UpdateEndpoint"}
        assert update == {"arn:aws:sagemaker:ap-south-1:123456789012:endpoint/tricloud-aws-dev-endpoint"}
        passrole = next(s for s in statements if s["Action"] == ["iam:PassRole"])
        assert passrole["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
        assert set(passrole["Resource"]) == {
            "arn:aws:iam::123456789012:role/tricloud-aws-dev-sagemaker-training",
            "arn:aws:iam::123456789012:role/tricloud-aws-dev-sagemaker-endpoint",
        }
        s3 = {r for a, r in pairs if a.startswith("s3:")}
        bucket = "arn:aws:s3:::tricloud-aws-dev-artifacts-123456789012-ap-south-1"
        assert s3 == {bucket, bucket + "/models/*"}
        assert {a for a, _ in pairs if a.startswith("iam:")} == {"iam:PassRole"}

    return settled(check)
