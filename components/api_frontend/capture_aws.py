"""Prediction capture on AWS: the function's capture log lines -> subscription filter -> Firehose -> the lake.

At a million requests a day a per-request S3 PUT would cost ~5 USD a day in requests alone and add its latency to
every answer; Firehose PutRecord from the handler would still add a call per request. The handler therefore only
logs (``app.frontend.capture``), and CloudWatch Logs ships the lines matching the capture logger to Firehose, which
decompresses the subscription envelope, extracts each message, buffers (5 MB or 5 minutes) and writes gzipped JSON
lines under ``capture/dt=YYYY-MM-DD/hour=HH/`` of the artifacts zone, encrypted with the lake key.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws.cloudwatch as cloudwatch
import pulumi_aws.iam as iam
import pulumi_aws.kinesis as kinesis

from components import aws_policy as pol
from components.data_lake.aws import DataLake
from components.data_lake.spec import Zone
from components.naming import physical_name
from components.observability.spec import CAPTURE_PREFIX

CAPTURE_FILTER = '{ $.logger = "tricloud.capture" }'  # Lambda's JSON log format names the logger
PARTITIONS = "dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/"
BUFFER_MB = 5  # at ~3 MB/h (1M requests/day) Firehose writes about one object per 5 minutes
BUFFER_SECONDS = 300  # a capture row reaches the lake within 5 minutes


@dataclass(frozen=True)
class CaptureNative:
    stream: kinesis.FirehoseDeliveryStream
    firehose_role: iam.Role
    logs_role: iam.Role
    subscription: cloudwatch.LogSubscriptionFilter


def capture_uri(lake: DataLake) -> pulumi.Output[str]:
    return lake.uri(Zone.ARTIFACTS, CAPTURE_PREFIX)


def deliver(
    parent: pulumi.Resource,
    name: str,
    *,
    function_logs: cloudwatch.LogGroup,
    lake: DataLake,
    ctx: pol.AwsContext,
    tags: dict[str, str],
) -> CaptureNative:
    project, stack = pulumi.get_project(), pulumi.get_stack()
    stream_name = physical_name("aws:generic", project, stack, "capture")
    firehose_role = pol.role(
        f"{name}-capture-firehose-role",
        physical=physical_name("aws:iam_role", project, stack, "capture-firehose"),
        service="firehose.amazonaws.com",
        ctx=ctx,
        tags=tags,
        parent=parent,
        description="Capture delivery: write capture/ of the artifacts zone with the lake key",
    )
    bucket = lake.bucket(Zone.ARTIFACTS)
    policy = pol.inline_policy(
        f"{name}-capture-firehose-policy",
        firehose_role,
        [
            pol.statement(
                ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                [bucket.arn],
                sid="CaptureBucket",
            ),
            *lake.write_statements(Zone.ARTIFACTS, CAPTURE_PREFIX),
            pol.statement(
                ["s3:PutObject"], [lake.object_arn(Zone.ARTIFACTS, "capture-errors/")], sid="Errors"
            ),
        ],
        parent=parent,
    )
    stream = kinesis.FirehoseDeliveryStream(
        f"{name}-capture",
        name=stream_name,
        destination="extended_s3",
        # Records at rest inside Firehose are encrypted with the lake key too.
        server_side_encryption={"enabled": True, "key_type": "CUSTOMER_MANAGED_CMK", "key_arn": lake.key_arn},
        extended_s3_configuration={
            "role_arn": firehose_role.arn,
            "bucket_arn": bucket.arn,
            "prefix": f"{CAPTURE_PREFIX}{PARTITIONS}",
            "error_output_prefix": "capture-errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/",
            "buffering_size": BUFFER_MB,
            "buffering_interval": BUFFER_SECONDS,
            "compression_format": "GZIP",
            "kms_key_arn": lake.key_arn,
            "processing_configuration": {
                "enabled": True,
                "processors": [
                    # CloudWatch Logs sends gzipped envelopes of log events: unpack them, keep each message.
                    {
                        "type": "Decompression",
                        "parameters": [{"parameter_name": "CompressionFormat", "parameter_value": "GZIP"}],
                    },
                    {
                        "type": "CloudWatchLogProcessing",
                        "parameters": [
                            {"parameter_name": "DataMessageExtraction", "parameter_value": "true"}
                        ],
                    },
                ],
            },
            # Delivery errors land with the failed records under capture-errors/ (no extra log group to pay for).
            "cloudwatch_logging_options": {"enabled": False},
        },
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[policy]),
    )
    logs_role = pol.role(
        f"{name}-capture-logs-role",
        physical=physical_name("aws:iam_role", project, stack, "capture-logs"),
        service="logs.amazonaws.com",
        ctx=ctx,
        tags=tags,
        parent=parent,
        description="CloudWatch Logs: put the function's capture lines into the capture stream",
    )
    logs_policy = pol.inline_policy(
        f"{name}-capture-logs-policy",
        logs_role,
        [pol.statement(["firehose:PutRecord", "firehose:PutRecordBatch"], [stream.arn], sid="CaptureStream")],
        parent=parent,
    )
    subscription = cloudwatch.LogSubscriptionFilter(
        f"{name}-capture-filter",
        name=f"{stream_name}-filter",
        log_group=function_logs.name,
        filter_pattern=CAPTURE_FILTER,
        destination_arn=stream.arn,
        role_arn=logs_role.arn,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[logs_policy]),
    )
    return CaptureNative(stream, firehose_role, logs_role, subscription)
