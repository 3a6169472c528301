"""Model monitoring on Azure: the drift job as a scheduled Azure ML command job, its alerts and workbook panels, and
the retrain trigger.

- Schedule: an Azure ML schedule (recurrence every `schedule_hours`) creates a command job on the training
  cluster (min 0 nodes: nothing bills between runs) in the training image, `python -m app.monitor`, with the capture
  container, the references and the reports mounted from the lake (read-only / read-write mounts by the cluster's
  managed identity: the job itself needs no storage SDK or key). The identity gains read on the capture container
  and the references, write on the reports, and Monitoring Metrics Publisher on Application Insights.
- Alerts: drift and fallback rate on the custom metrics (namespace `tricloud/monitoring`) of Application Insights.
- Retrain: the drift alert's own action group calls a Logic App that reads the GitHub token from Key Vault (its
  managed identity; you set the secret once) and dispatches the deploy workflow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_azure_native.keyvault as keyvault
import pulumi_azure_native.logic as logic
import pulumi_azure_native.machinelearningservices as ml
import pulumi_azure_native.monitor as monitor
import pulumi_azure_native.storage as storage

from components.api_frontend.capture_azure import capture_uri, container
from components.azure_common import AzurePrincipal, assign_role, azure_name, key_vault
from components.data_lake.spec import Zone
from components.observability.spec import (
    GITHUB_API,
    METRIC_NAMESPACE,
    REFERENCES_PREFIX,
    REPORTS_PREFIX,
    MonitoringArgs,
)

GITHUB_SECRET = "github-dispatch-token"
GROUND_TRUTH_PREFIX = "monitoring/ground-truth/"
HOURLY = {1: ("Hour", 1), 2: ("Hour", 2), 3: ("Hour", 3), 4: ("Hour", 4), 6: ("Hour", 6), 8: ("Hour", 8),
          12: ("Hour", 12), 24: ("Day", 1)}  # fmt: skip


@dataclass(frozen=True)
class MonitoringNative:
    environment: ml.EnvironmentVersion
    capture_container: storage.BlobContainer
    schedule: ml.Schedule
    alerts: dict[str, monitor.MetricAlert] = field(default_factory=dict)
    action_group: monitor.ActionGroup | None = None
    workflow: logic.Workflow | None = None
    vault: keyvault.Vault | None = None


def workbook_items() -> list[dict[str, object]]:
    """Workbook charts of the drift metrics (Application Insights customMetrics)."""

    def chart(title: str, metric: str) -> dict[str, object]:
        query = (f'customMetrics | where name == "{metric}" | extend feature = tostring(customDimensions.Feature)'
                 " | summarize value = max(value) by bin(timestamp, 1h), feature")  # fmt: skip
        return {"type": 3, "name": title, "content": {"version": "KqlItem/1.0", "title": title, "query": query,
                "size": 0, "queryType": 0, "resourceType": "microsoft.insights/components",
                "visualization": "timechart", "timeContext": {"durationMs": 7 * 86_400_000}}}  # fmt: skip

    return [
        {"type": 1, "content": {"json": "## Model monitoring: drift, fallback rate, volume"}},
        chart("Drift per feature (effect)", "FeatureDrift"),
        chart("Prediction drift", "PredictionDrift"),
        chart("Fallback rate (%)", "FallbackRate"),
        chart("Captured rows per run (volume)", "CapturedRows"),
    ]


class ModelMonitoring:
    def __init__(self, parent: pulumi.ComponentResource, name: str, args: MonitoringArgs, *, lake: object,
                 training: object, app_insights_id: pulumi.Input[str], resource_group: pulumi.Input[str],
                 region: str, github_repository: str, tags: dict[str, str], alert: object) -> None:  # fmt: skip
        child = pulumi.ResourceOptions(parent=parent)
        t = training.native  # type: ignore[attr-defined]
        principal = AzurePrincipal(f"{name}-drift", t.identity.principal_id)
        capture = container(parent, name, lake=lake)
        grants = [
            lake.grant_read(principal, zone=Zone.ARTIFACTS, prefix=REFERENCES_PREFIX, parent=parent),  # type: ignore[attr-defined]
            lake.grant_read(principal, zone=Zone.ARTIFACTS, prefix=GROUND_TRUTH_PREFIX, parent=parent),  # type: ignore[attr-defined]
            lake.grant_write(principal, zone=Zone.ARTIFACTS, prefix=REPORTS_PREFIX, parent=parent),  # type: ignore[attr-defined]
            assign_role(
                f"{name}-drift-capture-read",
                principal,
                "Storage Blob Data Reader",
                capture.id,
                parent,
            ),
            assign_role(
                f"{name}-drift-metrics", principal, "Monitoring Metrics Publisher", app_insights_id, parent
            ),
        ]
        env = ml.EnvironmentVersion(
            f"{name}-drift-environment",
            name=azure_name("generic", "monitor"),
            version="1",
            workspace_name=t.workspace.name,
            resource_group_name=t.resource_group.name,
            # azure-native 3 (API 2025-09-01) takes `properties`; `environment_version_properties` was 2.x's name.
            properties=ml.EnvironmentVersionPropertiesArgs(
                image=training.training_image_uri,  # type: ignore[attr-defined]  # the app image: app.monitor is in it
                os_type="Linux",
                description="The training image, which carries app.monitor",
            ),
            opts=child,
        )
        uri = lake.uri  # type: ignore[attr-defined]
        self.capture_uri = capture_uri(lake)
        self.reports_uri = uri(Zone.ARTIFACTS, REPORTS_PREFIX)
        command = " ".join([
            "python -m app.monitor --capture ${{inputs.capture}} --reference ${{inputs.references}}/",
            "--ground-truth ${{inputs.ground_truth}} --output ${{outputs.reports}} --publish azure",
            f"--azure-region {region} --azure-resource-id ${{{{inputs.metrics_scope}}}}",
            "--dimension Stack=" + azure_name("generic", "stack"), *args.job_arguments(),
        ])  # fmt: skip
        frequency, interval = HOURLY[args.schedule_hours]
        schedule = ml.Schedule(
            f"{name}-drift-schedule",
            name=azure_name("generic", "drift"),
            workspace_name=t.workspace.name,
            resource_group_name=t.resource_group.name,
            properties=ml.SchedulePropertiesArgs(
                display_name="tricloud drift job",
                description="The drift job over the last window of captured predictions (docs/monitoring.md)",
                is_enabled=True,
                tags=tags,  # the schedule's ARM envelope takes none: they live in its properties
                trigger=ml.RecurrenceTriggerArgs(
                    trigger_type="Recurrence", frequency=frequency, interval=interval, time_zone="UTC"
                ),
                action=ml.JobScheduleActionArgs(
                    action_type="CreateJob",
                    job_definition=ml.CommandJobArgs(
                        job_type="Command",
                        command=command,
                        environment_id=env.id,
                        compute_id=t.compute.id,
                        identity=ml.ManagedIdentityArgs(identity_type="Managed"),  # the cluster's identity
                        inputs={
                            "capture": ml.UriFolderJobInputArgs(
                                job_input_type="uri_folder", uri=self.capture_uri, mode="ReadOnlyMount"
                            ),
                            "references": ml.UriFolderJobInputArgs(
                                job_input_type="uri_folder",
                                uri=uri(Zone.ARTIFACTS, REFERENCES_PREFIX),
                                mode="ReadOnlyMount",
                            ),
                            "ground_truth": ml.UriFolderJobInputArgs(
                                job_input_type="uri_folder",
                                uri=uri(Zone.ARTIFACTS, GROUND_TRUTH_PREFIX),
                                mode="ReadOnlyMount",
                            ),
                            "metrics_scope": ml.LiteralJobInputArgs(
                                job_input_type="literal", value=app_insights_id
                            ),
                        },
                        outputs={
                            "reports": ml.UriFolderJobOutputArgs(
                                job_output_type="uri_folder", uri=self.reports_uri, mode="ReadWriteMount"
                            )
                        },
                        limits=ml.CommandJobLimitsArgs(job_limits_type="Command", timeout="PT1H"),
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=parent, depends_on=grants),
        )
        extra: dict[str, object] = {}
        groups: list[pulumi.Input[str]] = []
        if args.retrain:
            extra = self._trigger(parent, name, args, resource_group, region, github_repository, tags)
            groups = [extra["action_group"].id]  # type: ignore[attr-defined]
        alerts = {
            "drift": alert(
                "drift",
                "Drift found by the drift job (retraining is dispatched)",
                app_insights_id,  # type: ignore[operator]
                METRIC_NAMESPACE,
                "DriftDetected",
                0.5,
                aggregation="Maximum",
                extra_groups=groups,
                window_seconds=args.schedule_hours * 3600,
            ),
            "fallback-rate": alert(
                "fallback-rate",
                "Share of fallback answers (%)",
                app_insights_id,  # type: ignore[operator]
                METRIC_NAMESPACE,
                "FallbackRate",
                args.fallback_rate_percent,
                aggregation="Maximum",
                window_seconds=args.schedule_hours * 3600,
            ),
        }
        self.native = MonitoringNative(
            environment=env, capture_container=capture, schedule=schedule, alerts=alerts, **extra
        )  # type: ignore[arg-type]
        self.drift_job = pulumi.Output.concat(t.workspace.name, "/", t.compute.name, " (app.monitor)")
        self.drift_schedule = schedule.name
        self.drift_alarm = alerts["drift"].name
        self.metrics_scope = pulumi.Output.from_input(app_insights_id)
        self.retrain_trigger = extra["workflow"].name if extra else pulumi.Output.from_input("")  # type: ignore[attr-defined]

    def _trigger(self, parent: pulumi.Resource, name: str, args: MonitoringArgs, rg: pulumi.Input[str], region: str,
                 repository: str, tags: dict[str, str]) -> dict[str, object]:  # fmt: skip
        child = pulumi.ResourceOptions(parent=parent)
        tenant = pulumi.Output.from_input(_tenant())
        # Logic Apps is not a trusted service of the Key Vault firewall and a consumption workflow has no VNet: like
        # the API's vault, this one is reached over the network and guarded by RBAC on its one secret.
        vault = key_vault(f"{name}-dispatch-vault", "dispatch", rg, tenant, tags, parent, firewall=False)
        # A placeholder you replace once (docs/monitoring.md); later updates must not reset it.
        token = keyvault.Secret(
            f"{name}-github-token",
            secret_name=GITHUB_SECRET,
            vault_name=vault.name,
            resource_group_name=rg,
            properties={"value": pulumi.Output.secret("set-me")},
            tags=tags,
            opts=pulumi.ResourceOptions(parent=parent, ignore_changes=["properties.value"]),
        )
        url = f"{GITHUB_API}/repos/{repository}/actions/workflows/{args.github_workflow}/dispatches"
        definition = vault.properties.apply(lambda p: {
            "$schema": "https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#",
            "contentVersion": "1.0.0.0",
            "triggers": {"manual": {"type": "Request", "kind": "Http", "inputs": {"schema": {}}}},
            "actions": {
                "token": {"type": "Http", "inputs": {
                    "method": "GET", "uri": f"{p.vault_uri}secrets/{GITHUB_SECRET}?api-version=7.4",
                    "authentication": {"type": "ManagedServiceIdentity", "audience": "https://vault.azure.net"}},
                    "runtimeConfiguration": {"secureData": {"properties": ["outputs"]}}},
                "dispatch": {"type": "Http", "runAfter": {"token": ["Succeeded"]}, "inputs": {
                    "method": "POST", "uri": url,
                    "headers": {"Authorization": "Bearer @{body('token')?['value']}",
                                "Accept": "application/vnd.github+json", "User-Agent": "tricloud-drift"},
                    "body": {"ref": "main", "inputs": {"retrain": "true", "reason": "drift alert"}}},
                    "runtimeConfiguration": {"secureData": {"properties": ["inputs"]}}},
            },
        })  # fmt: skip
        workflow = logic.Workflow(
            f"{name}-dispatch",
            workflow_name=azure_name("generic", "dispatch"),
            resource_group_name=rg,
            location=region,
            state="Enabled",
            identity={
                "type": "SystemAssigned"
            },  # reads the token with its own identity: no secret in the definition
            definition=definition,
            tags=tags,
            opts=child,
        )
        principal = AzurePrincipal(
            f"{name}-dispatch", workflow.identity.apply(lambda i: i.principal_id if i else "")
        )
        assign_role(f"{name}-dispatch-token", principal, "Key Vault Secrets User", token.id, parent)
        callback = logic.list_workflow_trigger_callback_url_output(
            resource_group_name=rg, workflow_name=workflow.name, trigger_name="manual"
        )
        group = monitor.ActionGroup(
            f"{name}-drift-actions",
            action_group_name=azure_name("generic", "drift"),
            resource_group_name=rg,
            location="global",
            group_short_name="drift",
            enabled=True,
            logic_app_receivers=[
                monitor.LogicAppReceiverArgs(
                    name="dispatch-retrain",
                    resource_id=workflow.id,
                    callback_url=pulumi.Output.secret(callback.apply(lambda c: c.value or "")),
                    use_common_alert_schema=True,
                )
            ],
            tags=tags,
            opts=child,
        )
        return {"action_group": group, "workflow": workflow, "vault": vault}


def _tenant() -> pulumi.Output[str]:
    import pulumi_azure_native.authorization as authorization

    return authorization.get_client_config_output().tenant_id


def dumps(doc: object) -> str:
    return json.dumps(doc, sort_keys=True)
