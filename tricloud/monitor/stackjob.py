"""The stack's drift job run from this machine: the same `app.monitor.job.run` the schedule runs on the platform,
with every location from the stack outputs and every threshold from `tricloud:monitoring`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.monitor import storage
from app.monitor.job import JobArgs, run
from app.monitor.publish import aws_publisher, azure_publisher, gcp_publisher
from components.observability.spec import REFERENCES_PREFIX
from tricloud.model.base import Context


def job_args(ctx: Context, *, end: dt.datetime | None = None, publish: Any = None) -> JobArgs:
    from app.monitor.drift import Thresholds

    m = ctx.config.monitoring
    return JobArgs(
        capture=ctx.output("prediction_capture_uri"),
        reference=storage.join(ctx.output("artifacts_uri"), REFERENCES_PREFIX) + "/",
        output=ctx.output("drift_reports_uri"),
        window_hours=float(m.schedule_hours),
        end=end,
        thresholds=Thresholds(
            m.alpha, m.numeric_effect, m.categorical_effect, m.min_rows, m.alarm_min_features
        ),
        max_mape_increase=m.max_mape_increase_percent / 100,
        publish=publish,
        dimensions={"Stack": f"{ctx.project}-{ctx.stack}"},
    )


def run_stack_job(
    ctx: Context, delivery: Any, *, end: dt.datetime | None = None, publish: bool = True
) -> dict[str, Any]:
    publisher = None
    if ctx.cloud == "aws":
        storage.use("s3", storage.S3Store(delivery.s3()))
        if publish:
            publisher = aws_publisher(delivery.clients.client("cloudwatch"))
    elif publish and ctx.cloud == "azure":
        publisher = azure_publisher(ctx.config.region, ctx.output("drift_metrics_scope"))
    elif publish:
        publisher = gcp_publisher(str(ctx.config.project_id))
    return run(job_args(ctx, end=end, publish=publisher))
