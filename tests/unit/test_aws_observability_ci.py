"""Observability on AWS: encrypted topic, alarms, dashboard (CiIdentity: test_aws_ci_identity.py)."""

from __future__ import annotations

import json

import pulumi
import pytest
from aws_support import platform, settled

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
