"""Model monitoring on AWS: the scheduled drift job, its alarms and panels, and the retrain trigger.

- Schedule: EventBridge Scheduler starts the drift job (`python -m app.monitor`, uploaded with the app as a
  zip) on the stack's EMR Serverless application every `schedule_hours` (a universal target calls
  `emr-serverless:StartJobRun` itself: no glue function); the application scales to zero between runs.
- The job runs as the Spark job role, which gains: read capture/ and the reference profiles, write the reports,
  `cloudwatch:PutMetricData` in the `tricloud/monitoring` namespace only.
- Alarms: drift (DriftDetected), fallback rate, and a stale monitor (no run reported for two schedules).
- Retrain: CloudWatch emits the drift alarm's state change to EventBridge; a rule sends it to an API destination
  that dispatches the deploy workflow (`POST /repos/<repo>/actions/workflows/<file>/dispatches` with
  `retrain=true`). The GitHub token lives in the EventBridge connection (Secrets Manager, managed by EventBridge):
  the stack creates it with a placeholder, you set it once (docs/monitoring.md). The loop guard runs in the
  workflow (`tricloud monitor retrain`), against the ledger in the lake.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws.cloudwatch as cloudwatch
import pulumi_aws.iam as iam
import pulumi_aws.s3 as s3
import pulumi_aws.scheduler as scheduler

from components import aws_policy as pol
from components.naming import physical_name
from components.observability.spec import (
    CAPTURE_PREFIX,
    GITHUB_API,
    JOB_CODE_PREFIX,
    METRIC_NAMESPACE,
    REFERENCES_PREFIX,
    REPORTS_PREFIX,
    MonitoringArgs,
)

APP_DIR = Path(__file__).resolve().parents[2] / "app"
START_JOB_RUN = "arn:aws:scheduler:::aws-sdk:emrserverless:startJobRun"  # Scheduler's universal target
GROUND_TRUTH_PREFIX = "monitoring/ground-truth/"
FEATURES = ("city", "locality_tier", "area_sqft", "bedrooms", "bathrooms", "age_years", "floor", "parking",
            "furnishing", "distance_to_metro_km")  # fmt: skip  # app.schema.REQUEST_FIELDS (panels only)


@dataclass(frozen=True)
class MonitoringNative:
    code: s3.BucketObjectv2
    entry: s3.BucketObjectv2
    schedule: scheduler.Schedule
    scheduler_role: iam.Role
    job_policy: iam.RolePolicy
    alarms: dict[str, cloudwatch.MetricAlarm] = field(default_factory=dict)
    rule: cloudwatch.EventRule | None = None
    target: cloudwatch.EventTarget | None = None
    connection: cloudwatch.EventConnection | None = None
    destination: cloudwatch.EventApiDestination | None = None
    events_role: iam.Role | None = None


def app_zip() -> pulumi.AssetArchive:
    """app/ as `app/...` in a zip (spark-submit --py-files), without bytecode caches."""
    files = sorted(
        p for p in APP_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )
    return pulumi.AssetArchive(
        {f"app/{p.relative_to(APP_DIR).as_posix()}": pulumi.FileAsset(str(p)) for p in files}
    )


def dashboard_widgets(region: pulumi.Input[str], stack_dim: str, period: int) -> list[pulumi.Output[dict]]:
    """Drift per feature, prediction drift, fallback rate and volume, as CloudWatch dashboard widgets."""

    def widget(title: str, metrics: list[list[object]], stat: str = "Maximum") -> pulumi.Output[dict]:
        return pulumi.Output.from_input(region).apply(
            lambda r: {
                "type": "metric",
                "width": 12,
                "height": 6,
                "properties": {
                    "title": title,
                    "region": r,
                    "view": "timeSeries",
                    "period": period,
                    "stat": stat,
                    "metrics": metrics,
                },
            }
        )

    ns, dim = METRIC_NAMESPACE, ["Stack", stack_dim]
    return [
        widget(
            "Drift per feature (effect: Wasserstein SDs / Jensen-Shannon)",
            [[ns, "FeatureDrift", *dim, "Feature", f] for f in FEATURES],
        ),
        widget(
            "Prediction drift and drifted features",
            [[ns, "PredictionDrift", *dim], [ns, "DriftedFeatures", *dim], [ns, "DriftDetected", *dim]],
        ),
        widget("Fallback rate (%)", [[ns, "FallbackRate", *dim]]),
        widget("Captured rows per run (volume)", [[ns, "CapturedRows", *dim]], stat="Sum"),
    ]


class ModelMonitoring:
    """Built by `Observability.watch_model`; its resources are children of the Observability component."""

    def __init__(
        self,
        parent: pulumi.ComponentResource,
        name: str,
        args: MonitoringArgs,
        *,
        lake: object,
        spark: object,
        topic_arn: pulumi.Input[str],
        github_repository: str,
        tags: dict[str, str],
    ) -> None:
        from components.data_lake.spec import Zone

        project, stack = pulumi.get_project(), pulumi.get_stack()
        self.stack_dim = f"{project}-{stack}"
        ctx = pol.context(parent)
        child = pulumi.ResourceOptions(parent=parent)
        artifacts = lake.bucket(Zone.ARTIFACTS)  # type: ignore[attr-defined]
        period = args.schedule_hours * 3600

        # --- the job's code and permissions ------------------------------------------------------------------
        code = s3.BucketObjectv2(
            f"{name}-drift-code", bucket=artifacts.id, key=f"{JOB_CODE_PREFIX}app.zip", source=app_zip(),
            tags=tags, opts=child,
        )  # fmt: skip
        entry = s3.BucketObjectv2(
            f"{name}-drift-entry", bucket=artifacts.id, key=f"{JOB_CODE_PREFIX}drift_job.py",
            source=pulumi.FileAsset(str(APP_DIR / "monitor" / "__main__.py")), tags=tags, opts=child,
        )  # fmt: skip
        job_role = spark.native.job_role  # type: ignore[attr-defined]
        job_policy = pol.inline_policy(
            f"{name}-drift-job-policy",
            job_role,
            [
                *[
                    {**st, "Sid": f"Drift{st.get('Sid', '')}{i}"}
                    for i, prefix in enumerate(
                        (CAPTURE_PREFIX, REFERENCES_PREFIX, GROUND_TRUTH_PREFIX, JOB_CODE_PREFIX)
                    )
                    for st in lake.read_statements(Zone.ARTIFACTS, prefix)[:2]  # type: ignore[attr-defined]
                ],
                *[
                    {**st, "Sid": f"DriftReports{i}"}
                    for i, st in enumerate(lake.write_statements(Zone.ARTIFACTS, REPORTS_PREFIX))
                ],
                pol.statement(
                    ["cloudwatch:PutMetricData"],
                    ["*"],
                    sid="DriftMetrics",
                    conditions={"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}},
                ),
            ],
            parent=parent,
        )
        uri = lake.uri  # type: ignore[attr-defined]
        arguments = pulumi.Output.all(
            uri(Zone.ARTIFACTS, CAPTURE_PREFIX), uri(Zone.ARTIFACTS, REFERENCES_PREFIX),
            uri(Zone.ARTIFACTS, REPORTS_PREFIX), uri(Zone.ARTIFACTS, GROUND_TRUTH_PREFIX),
        ).apply(lambda u: ["--capture", u[0], "--reference", u[1], "--output", u[2], "--ground-truth", u[3],
                           "--publish", "aws", "--dimension", f"Stack={self.stack_dim}", *args.job_arguments()])  # fmt: skip
        self.reports_uri = uri(Zone.ARTIFACTS, REPORTS_PREFIX)
        self.capture_uri = uri(Zone.ARTIFACTS, CAPTURE_PREFIX)

        # --- the schedule ----------------------------------------------------------------------------------
        scheduler_role = pol.role(
            f"{name}-drift-scheduler-role",
            physical=physical_name("aws:iam_role", project, stack, "drift-scheduler"),
            service="scheduler.amazonaws.com",
            ctx=ctx,
            tags=tags,
            parent=parent,
            description="EventBridge Scheduler: start the drift job on the stack's EMR Serverless application",
        )
        application = spark.native.application  # type: ignore[attr-defined]
        app_arn = (
            application.arn if application is not None else pol.arn(ctx, "emr-serverless", "/applications/*")
        )
        pol.inline_policy(
            f"{name}-drift-scheduler-policy",
            scheduler_role,
            [
                pol.statement(["emr-serverless:StartJobRun"], [app_arn], sid="StartDriftJob"),
                pol.statement(
                    ["iam:PassRole"],
                    [job_role.arn],
                    sid="PassJobRole",
                    conditions={"StringEquals": {"iam:PassedToService": "emr-serverless.amazonaws.com"}},
                ),
            ],
            parent=parent,
        )
        job_input = pulumi.Output.all(
            application.id if application is not None else "",
            job_role.arn,
            arguments,
            uri(Zone.ARTIFACTS, JOB_CODE_PREFIX),
            spark.spark_logs_uri,  # type: ignore[attr-defined]
        ).apply(
            lambda v: json.dumps(
                {
                    "ApplicationId": v[0],
                    "ExecutionRoleArn": v[1],
                    "ClientToken": "<aws.scheduler.execution-id>",  # a retried delivery starts one run, not two
                    "Name": "tricloud-drift",
                    "JobDriver": {
                        "SparkSubmit": {
                            "EntryPoint": f"{v[3]}drift_job.py",
                            "EntryPointArguments": v[2],
                            "SparkSubmitParameters": f"--py-files {v[3]}app.zip --conf spark.executor.instances=1",
                        }
                    },
                    "ConfigurationOverrides": {
                        "MonitoringConfiguration": {"S3MonitoringConfiguration": {"LogUri": v[4]}}
                    },
                },
                sort_keys=True,
            )
        )
        every = "rate(1 hour)" if args.schedule_hours == 1 else f"rate({args.schedule_hours} hours)"
        schedule = scheduler.Schedule(
            f"{name}-drift-schedule",
            name=physical_name("aws:generic", project, stack, "drift"),
            description="The drift job over the last window of captured predictions (docs/monitoring.md)",
            schedule_expression=every,
            flexible_time_window={"mode": "FLEXIBLE", "maximum_window_in_minutes": 15},  # spreads load
            target={
                "arn": START_JOB_RUN,
                "role_arn": scheduler_role.arn,
                "input": job_input,
                "retry_policy": {"maximum_retry_attempts": 3, "maximum_event_age_in_seconds": 3600},
            },
            opts=child,
        )

        # --- alarms ------------------------------------------------------------------------------------------
        dims = {"Stack": self.stack_dim}
        alarms: dict[str, cloudwatch.MetricAlarm] = {}

        def alarm(role: str, metric: str, stat: str, threshold: float, op: str, missing: str, periods: int,
                  description: str) -> None:  # fmt: skip
            alarms[role] = cloudwatch.MetricAlarm(
                f"{name}-{role}",
                name=physical_name("aws:generic", project, stack, role),
                alarm_description=description,
                namespace=METRIC_NAMESPACE,
                metric_name=metric,
                dimensions=dims,
                statistic=stat,
                period=period,
                evaluation_periods=periods,
                threshold=threshold,
                comparison_operator=op,
                treat_missing_data=missing,
                alarm_actions=[topic_arn],
                ok_actions=[topic_arn],
                tags=tags,
                opts=child,
            )

        alarm(
            "drift",
            "DriftDetected",
            "Maximum",
            1,
            "GreaterThanOrEqualToThreshold",
            "notBreaching",
            1,
            "The drift job found drift (or degraded accuracy on ground truth): retraining is dispatched",
        )
        alarm(
            "fallback-rate",
            "FallbackRate",
            "Maximum",
            args.fallback_rate_percent,
            "GreaterThanOrEqualToThreshold",
            "notBreaching",
            1,
            f"{args.fallback_rate_percent}% or more answers came from the fallback rule",
        )
        # The job reports every run, even with no traffic: silence means the monitor itself is broken.
        alarm("monitor-stale", "CapturedRows", "SampleCount", 1, "LessThanThreshold", "breaching", 2,
              "The drift job has not reported for two schedules")  # fmt: skip

        # --- retrain trigger ---------------------------------------------------------------------------------
        native_trigger: dict[str, object] = {}
        if args.retrain:
            native_trigger = self._trigger(parent, name, args, alarms["drift"], github_repository, ctx, tags)
        self.native = MonitoringNative(code=code, entry=entry, schedule=schedule, scheduler_role=scheduler_role,
                                       job_policy=job_policy, alarms=alarms, **native_trigger)  # type: ignore[arg-type]  # fmt: skip
        self.drift_job = pulumi.Output.concat(
            application.id if application is not None else "", ":tricloud-drift"
        )
        self.drift_schedule = schedule.name
        self.drift_alarm = alarms["drift"].name
        self.retrain_trigger = native_trigger["rule"].name if native_trigger else pulumi.Output.from_input("")  # type: ignore[attr-defined]
        self.widgets = dashboard_widgets(ctx.region, self.stack_dim, period)

    def _trigger(self, parent: pulumi.Resource, name: str, args: MonitoringArgs, drift: cloudwatch.MetricAlarm,
                 repository: str, ctx: pol.AwsContext, tags: dict[str, str]) -> dict[str, object]:  # fmt: skip
        project, stack = pulumi.get_project(), pulumi.get_stack()
        child = pulumi.ResourceOptions(parent=parent)
        connection = cloudwatch.EventConnection(
            f"{name}-github",
            name=physical_name("aws:generic", project, stack, "github"),
            description="GitHub token that may dispatch the deploy workflow (set it once: docs/monitoring.md)",
            authorization_type="API_KEY",
            auth_parameters={"api_key": {"key": "Authorization", "value": "Bearer set-me"}},
            # The real token is set outside Pulumi (never in stack config); later updates must not reset it.
            opts=pulumi.ResourceOptions(parent=parent, ignore_changes=["authParameters"]),
        )
        destination = cloudwatch.EventApiDestination(
            f"{name}-dispatch",
            name=physical_name("aws:generic", project, stack, "dispatch"),
            description="Dispatch the deploy workflow (retrain)",
            connection_arn=connection.arn,
            http_method="POST",
            invocation_endpoint=f"{GITHUB_API}/repos/{repository}/actions/workflows/{args.github_workflow}/dispatches",
            invocation_rate_limit_per_second=1,  # one dispatch at a time; the guard refuses the rest anyway
            opts=child,
        )
        rule = cloudwatch.EventRule(
            f"{name}-drift-rule",
            name=physical_name("aws:generic", project, stack, "drift-retrain"),
            description="The drift alarm went to ALARM: dispatch retraining",
            event_pattern=drift.name.apply(
                lambda n: json.dumps(
                    {
                        "source": ["aws.cloudwatch"],
                        "detail-type": ["CloudWatch Alarm State Change"],
                        "detail": {"alarmName": [n], "state": {"value": ["ALARM"]}},
                    },
                    sort_keys=True,
                )
            ),
            tags=tags,
            opts=child,
        )
        events_role = pol.role(
            f"{name}-dispatch-role",
            physical=physical_name("aws:iam_role", project, stack, "dispatch"),
            service="events.amazonaws.com",
            ctx=ctx,
            tags=tags,
            parent=parent,
            description="EventBridge: invoke the deploy-workflow API destination",
        )
        pol.inline_policy(
            f"{name}-dispatch-policy",
            events_role,
            [pol.statement(["events:InvokeApiDestination"], [destination.arn], sid="Dispatch")],
            parent=parent,
        )
        target = cloudwatch.EventTarget(
            f"{name}-drift-target",
            rule=rule.name,
            arn=destination.arn,
            role_arn=events_role.arn,
            http_target={
                "header_parameters": {
                    "Accept": "application/vnd.github+json",
                    "X-GitHub-Api-Version": "2022-11-28",
                }
            },
            input_transformer={
                "input_paths": {"alarm": "$.detail.alarmName", "time": "$.time"},
                "input_template": '{"ref": "main", "inputs": {"retrain": "true", "reason": "<alarm> at <time>"}}',
            },
            retry_policy={"maximum_retry_attempts": 3, "maximum_event_age_in_seconds": 3600},
            opts=child,
        )
        return {"rule": rule, "target": target, "connection": connection, "destination": destination,
                "events_role": events_role}  # fmt: skip
