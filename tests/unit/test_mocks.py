"""The recording mocks shared by the inventory, the unit tests and the local engine."""

from __future__ import annotations

import pulumi
import pulumi_aws.sns as sns
import pytest
from aws_support import settled

from tricloud.mocks import SECRET_MARKER, RecordingMocks, cloud_module, scrub


@pulumi.runtime.test
def test_secrets_are_recorded_as_a_marker(mocks: RecordingMocks):
    sns.TopicSubscription("sub", topic="arn:aws:sns:ap-south-1:123456789012:t", protocol="email",
                          endpoint=pulumi.Output.secret("someone@example.in"))  # fmt: skip

    def check() -> None:
        rec = mocks.one("aws:sns/topicSubscription:TopicSubscription")
        assert rec.inputs["endpoint"] == SECRET_MARKER
        assert "someone@example.in" not in repr(mocks.sorted_resources())

    return settled(check)


@pulumi.runtime.test
def test_computed_outputs_reach_dependents(mocks: RecordingMocks):
    topic = sns.Topic("t", name="alerts")
    sub = sns.TopicSubscription(
        "s", topic=topic.arn, protocol="sqs", endpoint="arn:aws:sqs:ap-south-1:123456789012:q"
    )

    def check() -> None:
        assert mocks.one("aws:sns/topicSubscription:TopicSubscription").inputs["topic"] == (
            "arn:aws:sns:ap-south-1:123456789012:alerts"
        )
        assert mocks.one("aws:sns/topicSubscription:TopicSubscription").depends_on == ["t"]

    return pulumi.Output.all(settled(check), sub.urn)


def test_scrub_makes_inputs_plain_json() -> None:
    wrapped = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "pw"}
    assert scrub({"a": 3.0, "b": [1.5, wrapped]}) == {"a": 3, "b": [1.5, SECRET_MARKER]}


def test_unknown_cloud_is_named() -> None:
    with pytest.raises(ValueError, match="cloud = 'mars'"):
        cloud_module("mars")


def test_aws_invoke_without_a_mock_is_an_error() -> None:
    with pytest.raises(NotImplementedError, match="aws:ec2/getVpc:getVpc"):
        cloud_module("aws").invoke("aws:ec2/getVpc:getVpc", {}, "ap-south-1")
