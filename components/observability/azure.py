"""Observability on Azure: Log Analytics + Application Insights, an action group, and Azure Monitor metric alerts.

Created first; the endpoint and the API register themselves with `watch_endpoint` / `watch_api`, which add metric
alerts as children of this component. Azure ML has no alarm-driven rollback: the CD step watches the endpoint
alerts during the canary wait and shifts traffic back to blue when one fires (docs/azure.md).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import ClassVar

import pulumi
import pulumi_azure_native.applicationinsights as applicationinsights
import pulumi_azure_native.monitor as monitor
import pulumi_azure_native.operationalinsights as operationalinsights
import pulumi_azure_native.resources as resources

from components.azure_common import app_insights, azure_name, log_workspace, resource_group, tags_for
from components.observability.monitoring_azure import ModelMonitoring, workbook_items
from components.observability.spec import (
    MONITORING_OUTPUTS,
    OUTPUTS,
    MonitoringArgs,
    ObservabilityArgs,
    WatchOrder,
)
from components.observability.spec import Observability as Concept

# Log Analytics keeps 30 to 730 days interactively (30 are free): shorter spec values are raised to 30.
LAW_RETENTION_DAYS = (30, 730)
_FREQUENCIES = {60: "PT1M", 300: "PT5M", 900: "PT15M", 1800: "PT30M", 3600: "PT1H"}
_WINDOWS = {
    60: "PT1M",
    300: "PT5M",
    900: "PT15M",
    1800: "PT30M",
    3600: "PT1H",
    21600: "PT6H",
    43200: "PT12H",
    86400: "P1D",
}
ENDPOINT_NS = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
SITE_NS = "Microsoft.Web/sites"
APIM_NS = "Microsoft.ApiManagement/service"


def frequency(period_seconds: int) -> str:
    """Azure evaluates at most once a minute: shorter periods evaluate every minute."""
    return next(v for k, v in _FREQUENCIES.items() if k >= period_seconds)


def window(period_seconds: int, evaluation_periods: int) -> str:
    """The smallest window Azure accepts that covers evaluation_periods x period_seconds."""
    want = period_seconds * evaluation_periods
    return next((v for k, v in _WINDOWS.items() if k >= want), "P1D")


def workbook_content() -> dict[str, object]:
    """Azure Monitor workbook JSON (Notebook/1.0): KQL charts over the Function App's request telemetry."""

    def chart(title: str, query: str, visualization: str = "timechart") -> dict[str, object]:
        return {
            "type": 3,  # a KQL query item
            "name": title,
            "content": {
                "version": "KqlItem/1.0",
                "title": title,
                "query": query,
                "size": 0,
                "queryType": 0,  # Application Insights logs
                "resourceType": "microsoft.insights/components",
                "visualization": visualization,
                "timeContext": {"durationMs": 86_400_000},
            },
        }

    return {
        "version": "Notebook/1.0",
        "isLocked": False,
        "items": [
            {"type": 1, "content": {"json": "## tricloud: API and model endpoint"}},
            chart("Requests by status", "requests | summarize count() by bin(timestamp, 5m), resultCode"),
            chart(
                "p99 latency by operation (ms)",
                "requests | summarize percentile(duration, 99) by bin(timestamp, 5m), name",
            ),
            chart(
                "Failures by operation",
                "requests | where success == false | summarize count() by name, resultCode",
                "table",
            ),
            # app.frontend logs one JSON audit line per prediction, with "fallback": true when the rules answered.
            chart(
                "Predictions and fallback answers",
                'traces | where message startswith \'{"event":"prediction"\' | extend d = parse_json(message)'
                " | summarize predictions = count(), fallbacks = countif(tobool(d.fallback)) by bin(timestamp, 5m)",
            ),
            *workbook_items(),  # the drift job's metrics (components/observability/monitoring_azure.py)
        ],
    }


@dataclass(frozen=True)
class ObservabilityNative:
    resource_group: resources.ResourceGroup
    logs: operationalinsights.Workspace
    app_insights: applicationinsights.Component
    workbook: applicationinsights.Workbook
    action_group: monitor.ActionGroup
    alerts: dict[str, monitor.MetricAlert] = field(default_factory=dict)


class Observability(WatchOrder, pulumi.ComponentResource):
    """Metric alerts (function 5xx/throttles, API 5xx, endpoint 5xx, p99 latency) + action group + App Insights."""

    OUTPUTS: ClassVar[tuple[str, ...]] = OUTPUTS  # the cloud-neutral outputs this class registers
    alerts_channel: pulumi.Output[str]
    dashboard: pulumi.Output[str]
    prediction_capture_uri: pulumi.Output[str]
    drift_job: pulumi.Output[str]
    drift_schedule: pulumi.Output[str]
    drift_reports_uri: pulumi.Output[str]
    drift_alarm: pulumi.Output[str]
    drift_metrics_scope: pulumi.Output[str]
    retrain_trigger: pulumi.Output[str]
    native: ObservabilityNative

    def __init__(
        self, name: str, args: ObservabilityArgs, *, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"tricloud:azure:{Concept.name}", name, None, opts)
        for output in MONITORING_OUTPUTS:  # set by watch_model; empty until then
            setattr(self, output, pulumi.Output.from_input(""))
        args.validate()
        self._name = name
        self._args = args
        self._tags = tags_for(Concept.name, args.tags)
        child = pulumi.ResourceOptions(parent=self)

        rg = resource_group(name, "obs", self._tags, self)
        self._rg = rg
        low, high = LAW_RETENTION_DAYS
        logs = log_workspace(
            f"{name}-logs", "logs", rg.name, min(max(args.log_retention_days, low), high), self._tags, self
        )
        insights = app_insights(f"{name}-app-insights", "appi", rg.name, logs, self._tags, self)
        action_group = monitor.ActionGroup(
            f"{name}-action-group",
            action_group_name=azure_name("generic", "alerts"),
            resource_group_name=rg.name,
            location="global",  # action groups are global resources
            group_short_name="tricloud",  # at most 12 characters: shown in e-mail subjects
            enabled=True,
            email_receivers=[
                {"name": "alert-email", "email_address": args.alert_email, "use_common_alert_schema": True}
            ]
            if args.alert_email
            else [],
            tags=self._tags,
            opts=child,
        )
        # The platform's dashboard: a workbook of the API's requests, failures and latency from App Insights.
        workbook = applicationinsights.Workbook(
            f"{name}-dashboard",
            # Workbook names must be GUIDs: derive one from the stack so every run names it the same.
            resource_name_=str(
                uuid.uuid5(uuid.NAMESPACE_URL, f"tricloud/{azure_name('generic', 'dashboard')}")
            ),
            resource_group_name=rg.name,
            kind="shared",
            category="workbook",
            display_name=f"{azure_name('generic', 'platform')} dashboard",
            source_id=insights.id,
            serialized_data=json.dumps(workbook_content(), sort_keys=True),
            tags=self._tags,
            opts=child,
        )
        self.app_insights_connection_string: pulumi.Output[str] = insights.connection_string
        self.app_insights_id: pulumi.Output[str] = insights.id
        self.log_workspace_id: pulumi.Output[str] = logs.id
        self.native = ObservabilityNative(
            resource_group=rg, logs=logs, app_insights=insights, workbook=workbook, action_group=action_group
        )
        self.alerts_channel = action_group.id
        self.dashboard = workbook.id

    # --- registration by the watched components ----------------------------------------------------------------

    def watch_model(
        self, args: MonitoringArgs, *, lake: object, training: object, github_repository: str
    ) -> ModelMonitoring:
        """The scheduled drift job (Azure ML), drift and fallback alerts, the retrain trigger
        (components/observability/monitoring_azure.py); the workbook already charts the drift metrics."""
        self._check_open("watch_model")
        region = pulumi.Config("azure-native").get("location") or "centralindia"
        m = ModelMonitoring(self, self._name, args, lake=lake, training=training, app_insights_id=self.app_insights_id,
                            resource_group=self._rg.name, region=region, github_repository=github_repository,
                            tags=self._tags, alert=self._alert)  # fmt: skip
        self.prediction_capture_uri = m.capture_uri
        self.drift_job = m.drift_job
        self.drift_schedule = m.drift_schedule
        self.drift_reports_uri = m.reports_uri
        self.drift_alarm = m.drift_alarm
        self.drift_metrics_scope = m.metrics_scope
        self.retrain_trigger = m.retrain_trigger
        return m

    def watch_endpoint(self, endpoint_id: pulumi.Input[str]) -> list[monitor.MetricAlert]:
        """Endpoint 5xx and p99-latency alerts: the CD step's rollback signals."""
        self._check_open("watch_endpoint")
        a = self._args
        return [
            self._alert(
                "endpoint-5xx",
                "Online endpoint 5xx responses",
                endpoint_id,
                ENDPOINT_NS,
                "RequestsPerMinute",
                a.endpoint_5xx_threshold,
                aggregation="Total",
                dimensions=[("statusCodeClass", "5xx")],
                severity=1,
            ),
            self._alert(
                "endpoint-latency-p99",
                "Online endpoint p99 request latency (ms)",
                endpoint_id,
                ENDPOINT_NS,
                "RequestLatency_P99",
                a.model_latency_p99_ms,
                aggregation="Average",
                severity=2,
            ),
        ]

    def watch_api(
        self, *, function_id: pulumi.Input[str], gateway_id: pulumi.Input[str]
    ) -> list[monitor.MetricAlert]:
        """Function App 5xx and throttling (429) and API Management 5xx alerts; the last watch (completes this)."""
        a = self._args
        alerts = [
            self._alert(
                "function-errors",
                "API function 5xx responses",
                function_id,
                SITE_NS,
                "Http5xx",
                a.function_error_threshold,
            ),
            # Throttling happens at the gateway on Azure (rate-limit policy), so 429s are counted there.
            self._alert(
                "function-throttles",
                "API throttled (429 from the rate limit)",
                gateway_id,
                APIM_NS,
                "Requests",
                a.function_throttle_threshold,
                dimensions=[("GatewayResponseCode", "429")],
            ),
            self._alert(
                "api-5xx",
                "API Management 5xx responses",
                gateway_id,
                APIM_NS,
                "Requests",
                a.api_5xx_threshold,
                dimensions=[("GatewayResponseCodeCategory", "5xx")],
            ),
        ]
        self._complete()
        return alerts

    def _alert(
        self,
        role: str,
        title: str,
        scope: pulumi.Input[str],
        namespace: str,
        metric: str,
        threshold: float,
        *,
        aggregation: str = "Total",
        dimensions: list[tuple[str, str]] | None = None,
        severity: int = 2,
        extra_groups: list[pulumi.Input[str]] | None = None,
        window_seconds: int | None = None,
    ) -> monitor.MetricAlert:
        """`window_seconds` (a scheduled job's metric): one point in that window decides, checked hourly."""
        a = self._args
        alert = monitor.MetricAlert(
            f"{self._name}-{role}",
            rule_name=azure_name("generic", role),
            resource_group_name=self._rg.name,
            location="global",  # metric alert rules on a single resource are global
            description=f"{title} above {threshold} over {a.evaluation_periods} x {a.period_seconds}s. "
            "See docs/azure.md (operations) for the runbook.",
            severity=severity,
            enabled=True,
            scopes=[scope],
            evaluation_frequency="PT1H" if window_seconds else frequency(a.period_seconds),
            # The window spans evaluation_periods periods: a blip does not page anyone.
            window_size=window(window_seconds, 1)
            if window_seconds
            else window(a.period_seconds, a.evaluation_periods),
            auto_mitigate=True,  # resolves itself when the metric recovers, like CloudWatch OK state
            # Typed args: `criteria` is a union, so plain dict keys would not be translated to the wire names.
            criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
                odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                all_of=[
                    monitor.MetricCriteriaArgs(
                        criterion_type="StaticThresholdCriterion",
                        name=role,
                        metric_name=metric,
                        metric_namespace=namespace,
                        operator="GreaterThan",
                        threshold=threshold,
                        time_aggregation=aggregation,
                        dimensions=[
                            monitor.MetricDimensionArgs(name=d, operator="Include", values=[v])
                            for d, v in (dimensions or [])
                        ],
                        skip_metric_validation=True,  # the watched resource may not exist yet at create time
                    )
                ],
            ),
            actions=[{"action_group_id": g} for g in [self.native.action_group.id, *(extra_groups or [])]],
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.native.alerts[role] = alert
        return alert
