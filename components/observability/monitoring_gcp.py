"""Model monitoring on GCP: the drift job as a Dataproc Serverless batch on a Cloud Scheduler schedule, its alert
policies and dashboard tiles, and the retrain trigger.

- Schedule: Cloud Scheduler POSTs `projects.locations.batches.create` (the Dataproc API) every `schedule_hours`
  with its own service account's OAuth token; the batch runs `python -m app.monitor` as the Spark service account
  on the Spark subnet, billed per second, nothing between runs.
- The Spark service account gains: read capture and references, write reports, `monitoring.metricWriter`.
- Alerts: drift, fallback rate, stale monitor, on `custom.googleapis.com/tricloud/*`.
- Retrain: the drift policy also notifies a `drift` Pub/Sub topic; an Eventarc trigger runs a Workflows workflow
  that reads the GitHub token from Secret Manager (you add its version once) and dispatches the deploy workflow.
"""

from __future__ import annotations

import base64
import json
import textwrap
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp.cloudscheduler as cloudscheduler
import pulumi_gcp.eventarc as eventarc
import pulumi_gcp.monitoring as monitoring
import pulumi_gcp.pubsub as pubsub
import pulumi_gcp.secretmanager as secretmanager
import pulumi_gcp.serviceaccount as serviceaccount
import pulumi_gcp.storage as storage
import pulumi_gcp.workflows as workflows

from components.api_frontend.capture_gcp import capture_uri
from components.data_lake.gcp import base_name, project_grant, region, service_account
from components.data_lake.spec import Zone
from components.observability.spec import (
    GITHUB_API,
    JOB_CODE_PREFIX,
    REFERENCES_PREFIX,
    REPORTS_PREFIX,
    MonitoringArgs,
)

CUSTOM = "custom.googleapis.com/tricloud/"
GROUND_TRUTH_PREFIX = "monitoring/ground-truth/"
RUNTIME_VERSION = "2.2"  # Dataproc Serverless runtime: Spark 3.5, Python 3.12 with numpy


@dataclass(frozen=True)
class MonitoringNative:
    code: storage.BucketObject
    entry: storage.BucketObject
    scheduler_account: serviceaccount.Account
    schedule: cloudscheduler.Job
    policies: dict[str, monitoring.AlertPolicy] = field(default_factory=dict)
    topic: pubsub.Topic | None = None
    secret: secretmanager.Secret | None = None
    workflow: workflows.Workflow | None = None
    trigger: eventarc.Trigger | None = None


def dashboard_tiles(stack: str) -> list[dict[str, object]]:
    def chart(title: str, metric: str) -> dict[str, object]:
        flt = f'metric.type = "{CUSTOM}{metric}" AND metric.labels.stack = "{stack}"'
        return {"title": title, "xyChart": {"dataSets": [{"timeSeriesQuery": {"timeSeriesFilter": {
            "filter": flt, "aggregation": {"alignmentPeriod": "3600s", "perSeriesAligner": "ALIGN_MAX"}}},
            "plotType": "LINE"}]}}  # fmt: skip

    return [
        chart("Drift per feature (effect)", "FeatureDrift"),
        chart("Prediction drift", "PredictionDrift"),
        chart("Fallback rate (%)", "FallbackRate"),
        chart("Captured rows per run (volume)", "CapturedRows"),
    ]


class ModelMonitoring:
    def __init__(self, parent: pulumi.ComponentResource, name: str, args: MonitoringArgs, *, lake: object,
                 spark: object, channels: list[pulumi.Input[str]], github_repository: str,
                 labels: dict[str, str], policy: object) -> None:  # fmt: skip
        here = region()
        child = pulumi.ResourceOptions(parent=parent)
        project = lake.project_id  # type: ignore[attr-defined]
        self.stack_label = base_name("gcp:generic", "")
        artifacts = lake.bucket(Zone.ARTIFACTS)  # type: ignore[attr-defined]
        code = storage.BucketObject(
            f"{name}-drift-code", bucket=artifacts.name, name=f"{JOB_CODE_PREFIX}app.zip",
            source=_app_zip(), opts=child,
        )  # fmt: skip
        entry = storage.BucketObject(
            f"{name}-drift-entry", bucket=artifacts.name, name=f"{JOB_CODE_PREFIX}drift_job.py",
            source=pulumi.FileAsset(str(_app_dir() / "monitor" / "__main__.py")), opts=child,
        )  # fmt: skip
        sa = spark.native.service_account  # type: ignore[attr-defined]
        for prefix in ("run.googleapis.com/", REFERENCES_PREFIX, GROUND_TRUTH_PREFIX, JOB_CODE_PREFIX):
            lake.grant_read(sa, zone=Zone.ARTIFACTS, prefix=prefix, parent=parent)  # type: ignore[attr-defined]
        lake.grant_write(sa, zone=Zone.ARTIFACTS, prefix=REPORTS_PREFIX, parent=parent)  # type: ignore[attr-defined]
        # Cloud Monitoring has no narrower scope than the project for writing metrics.
        project_grant(parent, f"{name}-drift-metrics", project, "roles/monitoring.metricWriter", sa.member)

        uri = lake.uri  # type: ignore[attr-defined]
        self.capture_uri = capture_uri(lake)
        self.reports_uri = uri(Zone.ARTIFACTS, REPORTS_PREFIX)
        scheduler_sa = service_account(parent, f"{name}-drift-scheduler-sa", "drift-sched",
                                       "tricloud drift job scheduler", lake=lake)  # type: ignore[arg-type]  # fmt: skip
        # batches.create has no resource narrower than the project; actAs is granted on the Spark account only.
        project_grant(
            parent, f"{name}-drift-scheduler-dataproc", project, "roles/dataproc.editor", scheduler_sa.member
        )
        serviceaccount.IAMMember(
            f"{name}-drift-scheduler-actas", service_account_id=sa.name, role="roles/iam.serviceAccountUser",
            member=scheduler_sa.member, opts=child,
        )  # fmt: skip
        body = pulumi.Output.all(
            self.capture_uri, uri(Zone.ARTIFACTS, REFERENCES_PREFIX), self.reports_uri,
            uri(Zone.ARTIFACTS, GROUND_TRUTH_PREFIX), uri(Zone.ARTIFACTS, JOB_CODE_PREFIX), sa.email,
            spark.native.subnet.id, project,  # type: ignore[attr-defined]
        ).apply(lambda v: base64.b64encode(json.dumps({
            "pysparkBatch": {
                "mainPythonFileUri": f"{v[4]}drift_job.py", "pythonFileUris": [f"{v[4]}app.zip"],
                "args": ["--capture", v[0], "--reference", v[1], "--output", v[2], "--ground-truth", v[3],
                         "--publish", "gcp", "--gcp-project", v[7], "--dimension", f"Stack={self.stack_label}",
                         *args.job_arguments()],
            },
            "runtimeConfig": {"version": RUNTIME_VERSION},
            "environmentConfig": {"executionConfig": {"serviceAccount": v[5], "subnetworkUri": v[6]}},
        }, sort_keys=True).encode()).decode())  # fmt: skip
        schedule = cloudscheduler.Job(
            f"{name}-drift-schedule",
            name=base_name("gcp:generic", "drift"),
            description="The drift job over the last window of captured predictions (docs/monitoring.md)",
            region=here,
            schedule=f"17 */{args.schedule_hours} * * *" if args.schedule_hours < 24 else "17 3 * * *",
            time_zone="Etc/UTC",
            attempt_deadline="320s",
            retry_config=cloudscheduler.JobRetryConfigArgs(retry_count=3, max_retry_duration="3600s"),
            http_target=cloudscheduler.JobHttpTargetArgs(
                http_method="POST",
                uri=pulumi.Output.concat(
                    "https://dataproc.googleapis.com/v1/projects/", project, "/locations/", here, "/batches"
                ),
                body=body,
                headers={"Content-Type": "application/json"},
                oauth_token=cloudscheduler.JobHttpTargetOauthTokenArgs(
                    service_account_email=scheduler_sa.email,
                    scope="https://www.googleapis.com/auth/cloud-platform",
                ),
            ),
            opts=child,
        )

        # --- alert policies (the Observability helper, custom metrics) ------------------------------------------
        trigger_channel: list[pulumi.Input[str]] = []
        native_trigger: dict[str, object] = {}
        if args.retrain:
            native_trigger = self._trigger(parent, name, args, github_repository, project, here, labels, lake)
            trigger_channel = [native_trigger.pop("channel").name]  # type: ignore[union-attr]

        def metric(m):
            return f'metric.type = "{CUSTOM}{m}" AND metric.labels.stack = "{self.stack_label}" AND resource.type = "global"'

        period = f"{args.schedule_hours * 3600}s"
        policies = {
            "drift": policy(  # type: ignore[operator]
                "drift",
                "Drift found by the drift job (retraining is dispatched)",
                metric("DriftDetected"),
                0.5,
                aligner="ALIGN_MAX",
                reducer="REDUCE_MAX",
                extra_channels=trigger_channel,
                alignment=period,
            ),
            "fallback-rate": policy(  # type: ignore[operator]
                "fallback-rate",
                "Share of fallback answers (%)",
                metric("FallbackRate"),
                args.fallback_rate_percent,
                aligner="ALIGN_MAX",
                reducer="REDUCE_MAX",
                alignment=period,
            ),
        }
        self.native = MonitoringNative(code=code, entry=entry, scheduler_account=scheduler_sa, schedule=schedule,
                                       policies=policies, **native_trigger)  # type: ignore[arg-type]  # fmt: skip
        self.drift_job = pulumi.Output.concat(
            "projects/", project, "/locations/", here, "/batches (app.monitor)"
        )
        self.drift_schedule = schedule.name
        self.drift_alarm = policies["drift"].name
        self.metrics_scope = pulumi.Output.concat("projects/", project)
        self.retrain_trigger = (
            native_trigger["workflow"].name if native_trigger else pulumi.Output.from_input("")
        )  # type: ignore[attr-defined]
        self.tiles = dashboard_tiles(self.stack_label)

    def _trigger(self, parent: pulumi.Resource, name: str, args: MonitoringArgs, repository: str,
                 project: pulumi.Input[str], here: str, labels: dict[str, str], lake: object) -> dict[str, object]:  # fmt: skip
        child = pulumi.ResourceOptions(parent=parent)
        topic = pubsub.Topic(
            f"{name}-drift-topic", name=base_name("gcp:generic", "drift"), kms_key_name=lake.key.id,  # type: ignore[attr-defined]
            message_storage_policy=pubsub.TopicMessageStoragePolicyArgs(allowed_persistence_regions=[here]),
            labels=labels, opts=child,
        )  # fmt: skip
        channel = monitoring.NotificationChannel(
            f"{name}-drift-channel", display_name=f"{base_name('gcp:generic', '')} drift -> retrain",
            type="pubsub", labels={"topic": topic.id}, user_labels=labels, opts=child,
        )  # fmt: skip
        secret = secretmanager.Secret(
            f"{name}-github-token",
            secret_id=base_name("gcp:generic", "github-token"),
            replication=secretmanager.SecretReplicationArgs(
                user_managed=secretmanager.SecretReplicationUserManagedArgs(
                    replicas=[secretmanager.SecretReplicationUserManagedReplicaArgs(location=here)]
                )
            ),
            labels=labels,
            opts=child,
        )
        wf_sa = service_account(
            parent, f"{name}-dispatch-sa", "dispatch", "tricloud retrain dispatch", lake=lake
        )  # type: ignore[arg-type]
        secretmanager.SecretIamMember(
            f"{name}-dispatch-token", secret_id=secret.id, role="roles/secretmanager.secretAccessor",
            member=wf_sa.member, opts=child,
        )  # fmt: skip
        url = f"{GITHUB_API}/repos/{repository}/actions/workflows/{args.github_workflow}/dispatches"
        source = pulumi.Output.concat(secret.secret_id).apply(lambda sid: textwrap.dedent(f"""\
            main:
              params: [event]
              steps:
                - token:
                    call: googleapis.secretmanager.v1.projects.secrets.versions.accessString
                    args: {{secret_id: "{sid}", project_id: ${{sys.get_env("GOOGLE_CLOUD_PROJECT_ID")}}}}
                    result: token
                - dispatch:
                    call: http.post
                    args:
                      url: "{url}"
                      timeout: 30
                      headers: {{Authorization: '${{"Bearer " + token}}', Accept: "application/vnd.github+json"}}
                      body: {{ref: "main", inputs: {{retrain: "true", reason: "drift alert"}}}}
            """))  # fmt: skip
        workflow = workflows.Workflow(
            f"{name}-dispatch", name=base_name("gcp:generic", "dispatch"), region=here,
            description="Drift alert -> dispatch the deploy workflow (retrain)", service_account=wf_sa.email,
            source_contents=source, labels=labels, opts=child,
        )  # fmt: skip
        trigger_sa = service_account(
            parent, f"{name}-trigger-sa", "drift-trig", "tricloud drift trigger", lake=lake
        )  # type: ignore[arg-type]
        project_grant(
            parent, f"{name}-trigger-invoker", project, "roles/workflows.invoker", trigger_sa.member
        )
        trigger = eventarc.Trigger(
            f"{name}-drift-trigger", name=base_name("gcp:generic", "drift"), location=here,
            matching_criterias=[eventarc.TriggerMatchingCriteriaArgs(
                attribute="type", value="google.cloud.pubsub.topic.v1.messagePublished")],
            transport=eventarc.TriggerTransportArgs(pubsub=eventarc.TriggerTransportPubsubArgs(topic=topic.id)),
            destination=eventarc.TriggerDestinationArgs(workflow=workflow.id),
            service_account=trigger_sa.email, labels=labels, opts=child,
        )  # fmt: skip
        return {
            "topic": topic,
            "secret": secret,
            "workflow": workflow,
            "trigger": trigger,
            "channel": channel,
        }


def _app_dir():  # type: ignore[no-untyped-def]
    from components.observability.monitoring_aws import APP_DIR

    return APP_DIR


def _app_zip() -> pulumi.AssetArchive:
    from components.observability.monitoring_aws import app_zip

    return app_zip()
