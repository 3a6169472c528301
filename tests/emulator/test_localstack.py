"""The LocalStack tier: S3, IAM, KMS, CloudWatch, Logs and Firehose on LocalStack (which enforces and evaluates what moto
only stores), the rest on moto. Needs `scripts/localstack.sh start` (make test does it); fails, not skips, without."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import boto3
import pytest

from tricloud.engine import Emulator, Engine
from tricloud.engine.emulator import ACCESS_KEY_ID, SECRET_ACCESS_KEY, reachable
from tricloud.engine.leftovers import leftovers
from tricloud.inventory import stack_config

pytestmark = [pytest.mark.emulator, pytest.mark.localstack]
LOCALSTACK = os.environ.get("LOCALSTACK_URL", "http://127.0.0.1:4566")
REGION = stack_config("aws", "dev")["aws:region"]


def localstack_client(service: str):
    return boto3.client(
        service,
        endpoint_url=LOCALSTACK,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory, module_moto_process) -> Iterator[tuple[Emulator, dict]]:
    if not reachable(LOCALSTACK, "/_localstack/health"):
        pytest.fail(f"LocalStack is not reachable at {LOCALSTACK}: run `scripts/localstack.sh start` first")
    config = stack_config("aws", "dev")
    # Alarms evaluated every 10 s over one period, so the test sees ALARM in seconds, not minutes.
    config["tricloud:observability"] = {
        **(config.get("tricloud:observability") or {}),
        "period_seconds": 10,
        "evaluation_periods": 1,
    }
    # Its own moto process: an in-process moto shares its backends with the session's platform, which holds the
    # same dev-stack names (a role found there would be "replaced", deleting the platform's own).
    emu = Emulator.start(
        REGION, endpoint=module_moto_process.url, backend="localstack", localstack_url=LOCALSTACK
    )
    state = tmp_path_factory.mktemp("ls") / "state.json"
    try:
        res = Engine(emu, state_path=state, config=config).apply()
        yield emu, res.outputs
    finally:
        Engine(emu, state_path=state, config=config).destroy()
        left = leftovers(emu)
        emu.stop()
        assert left == {}, f"destroy left resources behind: {left}"


def test_lake_buckets_live_in_localstack_encrypted_and_private(applied) -> None:
    _, outputs = applied
    s3 = localstack_client("s3")
    kms = localstack_client("kms")
    for uri in (outputs["raw_uri"], outputs["curated_uri"], outputs["artifacts_uri"]):
        bucket = uri.split("/")[2]
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        default = rule["ApplyServerSideEncryptionByDefault"]
        assert default["SSEAlgorithm"] == "aws:kms"
        assert default["KMSMasterKeyID"] == outputs["encryption_key"]
        key = kms.describe_key(KeyId=outputs["encryption_key"])["KeyMetadata"]
        assert key["KeyState"] == "Enabled"
        pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(pab.values()) and len(pab) == 4
        # LocalStack enforces the default encryption on a real write.
        s3.put_object(Bucket=bucket, Key="probe.txt", Body=b"x")
        head = s3.head_object(Bucket=bucket, Key="probe.txt")
        assert head["ServerSideEncryption"] == "aws:kms"
        s3.delete_object(Bucket=bucket, Key="probe.txt")


def test_rollback_alarm_goes_to_alarm_on_breaching_metrics(applied) -> None:
    _, outputs = applied
    cw = localstack_client("cloudwatch")
    name = f"{outputs['endpoint_name'].rsplit('-endpoint', 1)[0]}-endpoint-5xx"
    alarm = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert alarm, f"alarm {name} not found in LocalStack"
    assert alarm[0]["StateValue"] in ("INSUFFICIENT_DATA", "OK")
    dims = [{"Name": d["Name"], "Value": d["Value"]} for d in alarm[0]["Dimensions"]]
    deadline = time.monotonic() + 90
    state = alarm[0]["StateValue"]
    while time.monotonic() < deadline and state != "ALARM":
        cw.put_metric_data(
            Namespace="AWS/SageMaker",
            MetricData=[
                {"MetricName": "Invocation5XXErrors", "Dimensions": dims, "Value": 5.0, "Unit": "Count"}
            ],
        )
        time.sleep(3)
        state = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]
    assert state == "ALARM", f"{name} stayed {state} after 90 s of breaching Invocation5XXErrors"


def test_iam_is_enforced_on_moto_and_not_on_localstack(applied) -> None:
    """The tier's promise, as the run prints it: moto authorizes a role session, LocalStack's free core does not."""
    from botocore.exceptions import ClientError

    from tricloud.engine import iam

    emu, outputs = applied
    session = emu.assume_role(outputs["spark_job_role"], {"Service": iam.SPARK_SERVICE["serverless"]})
    raw = outputs["raw_uri"].split("/")[2]
    # The Spark job may only read raw; LocalStack (S3) lets its session write there all the same.
    emu.session_client("s3", session).put_object(Bucket=raw, Key="iam-probe.txt", Body=b"x")
    localstack_client("s3").delete_object(Bucket=raw, Key="iam-probe.txt")
    # moto (EMR Serverless here) decides: the role mirrored into moto carries no policy, so nothing is allowed.
    with pytest.raises(ClientError) as err:
        emu.session_client("emr-serverless", session).list_applications()
    assert "AccessDenied" in str(err.value)  # moto answers JSON services with its XML error body
