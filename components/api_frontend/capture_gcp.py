"""Prediction capture on GCP: a Cloud Logging sink routes the function's capture lines to the lake's artifacts
bucket.

No per-request call: the function's structured stderr line (`jsonPayload.logger = "tricloud.capture"`) matches the
sink's filter, and Cloud Logging writes hourly JSON files under `run.googleapis.com/stderr/YYYY/MM/DD/` of the
bucket (CMEK-encrypted by the bucket's key). Routing to a bucket is free; Pub/Sub with a Cloud Storage subscription
would add a topic and its throughput charges for the same files.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp.logging as logging
import pulumi_gcp.storage as storage

from components.data_lake.spec import Zone

LOG_FOLDER = "run.googleapis.com/stderr/"  # the sink's folder: the log name of a gen2 function's stderr


def capture_uri(lake: object) -> pulumi.Output[str]:
    return lake.uri(Zone.ARTIFACTS, LOG_FOLDER)  # type: ignore[attr-defined]


def deliver(parent: pulumi.Resource, name: str, *, function_name: pulumi.Input[str], lake: object,
            sink_name: str) -> tuple[logging.ProjectSink, storage.BucketIAMMember]:  # fmt: skip
    bucket = lake.bucket(Zone.ARTIFACTS)  # type: ignore[attr-defined]
    sink = logging.ProjectSink(
        f"{name}-capture",
        name=sink_name,
        description="Capture lines of the API function -> the lake's artifacts bucket",
        destination=pulumi.Output.concat("storage.googleapis.com/", bucket.name),
        filter=pulumi.Output.from_input(function_name).apply(
            lambda f: (
                f'resource.type="cloud_run_revision" AND resource.labels.service_name="{f}" '
                'AND jsonPayload.logger="tricloud.capture"'
            )
        ),
        unique_writer_identity=True,  # its own identity, granted on this bucket only
        opts=pulumi.ResourceOptions(parent=parent),
    )
    grant = storage.BucketIAMMember(
        f"{name}-capture-writer",
        bucket=bucket.name,
        role="roles/storage.objectCreator",  # create only: the sink can neither read nor delete the lake
        member=sink.writer_identity,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return sink, grant
