"""The status a rollout in another process reads while the serving process deploys (tricloud/emulate/canary.py):
DescribeEndpoint answered as SageMaker answers during a blue/green update, from the tags the serving process writes,
and the serving process found through the state file only while it lives."""

from __future__ import annotations

import datetime
import os
import subprocess
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from tricloud.emulate.canary import DEPLOYED_TAG, FAILURE_TAG, emulated_status, serving_process
from tricloud.emulate.processes import start_time
from tricloud.engine.state import State

ARN = "arn:aws:sagemaker:ap-south-1:123456789012:endpoint/ep"


def _describe(config: str) -> dict:
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    return {
        "EndpointName": "ep",
        "EndpointArn": ARN,
        "EndpointConfigName": config,
        "EndpointStatus": "InService",  # what moto always says
        "CreationTime": now,
        "LastModifiedTime": now,
    }


@pytest.mark.parametrize(
    ("tags", "status", "reason"),
    [
        ({}, "Updating", None),  # re-created by the UpdateEndpoint stand-in: no deployment has finished on it
        ({DEPLOYED_TAG: "cfg-old"}, "Updating", None),  # the tag names another configuration
        ({DEPLOYED_TAG: "cfg-new"}, "InService", None),  # promoted
        ({DEPLOYED_TAG: "cfg-new", FAILURE_TAG: "canary rolled back"}, "InService", "canary rolled back"),
    ],
)
def test_describe_endpoint_reads_the_deployment_tags(tags: dict, status: str, reason: str | None) -> None:
    sm = boto3.client("sagemaker", region_name="ap-south-1", aws_access_key_id="a", aws_secret_access_key="b")
    emulated_status(sm, lambda: True)
    with Stubber(sm) as stub:
        stub.add_response("describe_endpoint", _describe("cfg-new"), {"EndpointName": "ep"})
        stub.add_response(
            "list_tags", {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}, {"ResourceArn": ARN}
        )
        out = sm.describe_endpoint(EndpointName="ep")
        stub.assert_no_pending_responses()
    assert out["EndpointStatus"] == status
    assert out.get("FailureReason") == reason


def test_without_a_serving_process_moto_answers_unchanged() -> None:
    sm = boto3.client("sagemaker", region_name="ap-south-1", aws_access_key_id="a", aws_secret_access_key="b")
    emulated_status(sm, lambda: False)
    with Stubber(sm) as stub:  # no ListTags stubbed: a call would fail the test
        stub.add_response("describe_endpoint", _describe("cfg-new"), {"EndpointName": "ep"})
        assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "InService"


def test_the_serving_process_is_another_live_process(tmp_path: Path) -> None:
    path = tmp_path / "aws-dev.local.json"
    assert serving_process(path) is None  # no state file
    state = State(path)
    state.run = {"pid": os.getpid(), "serving": {"endpoint": "ep"}}
    state.save()
    assert serving_process(path) is None  # this process: the canary runs inside its own apply
    proc = subprocess.Popen(["sleep", "60"])
    try:
        state.run = {"pid": proc.pid, "started": start_time(proc.pid), "serving": {"endpoint": "ep"}}
        state.save()
        assert serving_process(path) == {"endpoint": "ep"}
        state.run = {"pid": proc.pid, "started": start_time(proc.pid)}  # a run that does not serve
        state.save()
        assert serving_process(path) is None
        state.run = {"pid": proc.pid, "started": start_time(proc.pid), "serving": {"endpoint": "ep"}}
        state.save()
    finally:
        proc.kill()
        proc.wait()
    assert serving_process(path) is None  # it died: nobody runs the deployments
