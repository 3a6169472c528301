"""Observability on GCP: Cloud Monitoring alert policies, notification channels and a dashboard.

Created first; the endpoint and the API register themselves with `watch_endpoint` / `watch_api`, which add the
alert policies as children of this component. Vertex has no automatic rollback: the CD step polls the endpoint
policies' open incidents during the canary wait and undeploys the new model when one fires.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import ClassVar

import pulumi
import pulumi_gcp.kms as kms
import pulumi_gcp.monitoring as monitoring
import pulumi_gcp.organizations as organizations
import pulumi_gcp.projects as projects
import pulumi_gcp.pubsub as pubsub

from components.data_lake.gcp import KEY_ROLE, base_name, enable_services, region
from components.observability.monitoring_gcp import ModelMonitoring, dashboard_tiles
from components.observability.spec import (
    MONITORING_OUTPUTS,
    OUTPUTS,
    MonitoringArgs,
    ObservabilityArgs,
    WatchOrder,
)
from components.observability.spec import Observability as Concept
from components.tags import component_tags

CLOUD = "gcp"
ENDPOINT_RESOURCE = 'resource.type = "aiplatform.googleapis.com/Endpoint"'
FUNCTION_RESOURCE = 'resource.type = "cloud_run_revision"'
GATEWAY_RESOURCE = 'resource.type = "apigateway.googleapis.com/Gateway"'
KEY_ROTATION_DAYS = 90  # the platform's rotation bound (gcp-kms-rotation, CIS GCP 1.10)


@dataclass(frozen=True)
class ObservabilityNative:
    key: kms.CryptoKey
    topic: pubsub.Topic
    channels: tuple[monitoring.NotificationChannel, ...]
    dashboard: monitoring.Dashboard
    policies: dict[str, monitoring.AlertPolicy] = field(default_factory=dict)


class Observability(WatchOrder, pulumi.ComponentResource):
    """Alert policies (function errors/throttles, API 5xx, endpoint errors, p99 latency) + channels + dashboard."""

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
        super().__init__(f"tricloud:{CLOUD}:{Concept.name}", name, None, opts)
        for output in MONITORING_OUTPUTS:  # set by watch_model; empty until then
            setattr(self, output, pulumi.Output.from_input(""))
        args.validate()
        self._base = name
        self._args = args
        self._labels = component_tags(CLOUD, Concept.name, args.tags)
        self._prefix = base_name("gcp:generic", "")
        services = enable_services(
            self, name, ("monitoring.googleapis.com", "pubsub.googleapis.com", "cloudkms.googleapis.com")
        )
        after_apis = pulumi.ResourceOptions(parent=self, depends_on=list(services.values()))
        here = region()

        # Alert texts name resources and values: the topic is encrypted with its own key (this component is
        # created before the lake, like the SNS topic's key on AWS). One more key version costs ~0.06 USD/month.
        key_ring = kms.KeyRing(
            f"{name}-keyring", name=base_name("gcp:generic", "alerts"), location=here, opts=after_apis
        )
        key = kms.CryptoKey(
            f"{name}-key",
            name="alerts",
            key_ring=key_ring.id,
            purpose="ENCRYPT_DECRYPT",
            rotation_period=f"{KEY_ROTATION_DAYS * 86400}s",
            labels=self._labels,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The Pub/Sub service agent encrypts on the topic's behalf; ServiceIdentity makes sure it exists.
        pubsub_agent = projects.ServiceIdentity(
            f"{name}-agent-pubsub",
            service="pubsub.googleapis.com",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[services["pubsub.googleapis.com"]]),
        )
        key_grant = kms.CryptoKeyIAMMember(
            f"{name}-key-pubsub-agent",
            crypto_key_id=key.id,
            role=KEY_ROLE,
            member=pubsub_agent.member,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # A topic channel always exists (like an SNS topic): chat-ops or paging tools subscribe to it later.
        topic = pubsub.Topic(
            f"{name}-alerts",
            name=base_name("gcp:generic", "alerts"),
            message_retention_duration=f"{7 * 86400}s",  # a week to replay alerts a subscriber missed
            kms_key_name=key.id,
            # Messages are stored only where the (regional) key lives; for an Indian deployment, in India.
            message_storage_policy=pubsub.TopicMessageStoragePolicyArgs(allowed_persistence_regions=[here]),
            labels=self._labels,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*services.values(), key_grant]),
        )
        channels = [
            monitoring.NotificationChannel(
                f"{name}-channel-topic",
                display_name=f"{self._prefix} alerts topic",
                type="pubsub",
                labels={"topic": topic.id},
                user_labels=self._labels,
                opts=after_apis,
            )
        ]
        number = organizations.get_project_output().number
        # Cloud Monitoring publishes with its notification service agent (made with the first Pub/Sub channel);
        # it may publish to this topic only.
        pubsub.TopicIAMMember(
            f"{name}-alerts-publisher",
            topic=topic.name,
            role="roles/pubsub.publisher",
            member=number.apply(
                lambda n: f"serviceAccount:service-{n}@gcp-sa-monitoring-notification.iam.gserviceaccount.com"
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[channels[0]]),
        )
        if args.alert_email:
            channels.append(
                monitoring.NotificationChannel(
                    f"{name}-channel-email",
                    display_name=f"{self._prefix} alerts e-mail",
                    type="email",
                    labels={"email_address": args.alert_email},
                    user_labels=self._labels,
                    opts=after_apis,
                )
            )
        self._channels = channels
        self._services = services

        dashboard = monitoring.Dashboard(
            f"{name}-dashboard",
            dashboard_json=json.dumps(self._dashboard_json(), sort_keys=True),
            opts=after_apis,
        )
        self.native = ObservabilityNative(key=key, topic=topic, channels=tuple(channels), dashboard=dashboard)
        # The e-mail channel when there is one, else the topic channel.
        self.alerts_channel = channels[-1].name
        self.dashboard = dashboard.id

    # --- registration by the watched components ----------------------------------------------------------------

    def watch_model(
        self, args: MonitoringArgs, *, lake: object, spark: object, github_repository: str
    ) -> ModelMonitoring:
        """The drift batch on its schedule, drift and fallback alert policies, the retrain trigger
        (components/observability/monitoring_gcp.py); the dashboard already charts the drift metrics."""
        self._check_open("watch_model")
        m = ModelMonitoring(self, self._base, args, lake=lake, spark=spark, channels=[c.name for c in self._channels],
                            github_repository=github_repository, labels=self._labels, policy=self._policy)  # fmt: skip
        self.prediction_capture_uri = m.capture_uri
        self.drift_job = m.drift_job
        self.drift_schedule = m.drift_schedule
        self.drift_reports_uri = m.reports_uri
        self.drift_alarm = m.drift_alarm
        self.drift_metrics_scope = m.metrics_scope
        self.retrain_trigger = m.retrain_trigger
        return m

    def watch_endpoint(
        self, endpoint_name: pulumi.Input[str], *, label: str = "endpoint"
    ) -> list[monitoring.AlertPolicy]:
        """Endpoint error and p99-latency policies: the CD step's rollback signals.

        `endpoint_name` is the Vertex endpoint id; `label` names the policies, give each watched endpoint its own.
        """
        self._check_open("watch_endpoint")
        a = self._args
        only = pulumi.Output.from_input(endpoint_name).apply(
            lambda e: f'{ENDPOINT_RESOURCE} AND resource.labels.endpoint_id = "{e}"'
        )
        return [
            self._policy(
                f"{label}-errors",
                "Vertex endpoint prediction errors",
                only.apply(
                    lambda f: (
                        f'{f} AND metric.type = "aiplatform.googleapis.com/prediction/online/error_count"'
                    )
                ),
                a.endpoint_5xx_threshold,
                aligner="ALIGN_SUM",
            ),
            self._policy(
                f"{label}-latency-p99",
                "Vertex endpoint p99 prediction latency (ms)",
                only.apply(
                    lambda f: (
                        f"{f} AND metric.type = "
                        '"aiplatform.googleapis.com/prediction/online/prediction_latencies"'
                    )
                ),
                a.model_latency_p99_ms,
                aligner="ALIGN_PERCENTILE_99",
                reducer="REDUCE_MAX",
            ),
        ]

    def watch_api(
        self, gateway_id: pulumi.Input[str], function_name: pulumi.Input[str]
    ) -> list[monitoring.AlertPolicy]:
        """Function 5xx, throttling (429 at max instances) and gateway 5xx policies; the last watch (completes this)."""
        a = self._args
        fn = pulumi.Output.from_input(function_name).apply(
            lambda f: (
                f'{FUNCTION_RESOURCE} AND resource.labels.service_name = "{f}" AND '
                'metric.type = "run.googleapis.com/request_count"'
            )
        )
        gw = pulumi.Output.from_input(gateway_id).apply(
            lambda g: (
                f'{GATEWAY_RESOURCE} AND resource.labels.gateway_id = "{g}" AND '
                'metric.type = "apigateway.googleapis.com/proxy/request_count"'
            )
        )
        alerts = [
            self._policy(
                "function-errors",
                "API function 5xx responses",
                fn.apply(lambda f: f'{f} AND metric.labels.response_code_class = "5xx"'),
                a.function_error_threshold,
            ),
            self._policy(
                "function-throttles",
                "API function throttled (429: max instances reached)",
                fn.apply(lambda f: f'{f} AND metric.labels.response_code = "429"'),
                a.function_throttle_threshold,
            ),
            self._policy(
                "api-5xx",
                "API Gateway 5xx responses",
                gw.apply(lambda f: f'{f} AND metric.labels.response_code_class = "5xx"'),
                a.api_5xx_threshold,
            ),
        ]
        self._complete()
        return alerts

    def _policy(
        self,
        role: str,
        title: str,
        metric_filter: pulumi.Input[str],
        threshold: float,
        *,
        aligner: str = "ALIGN_SUM",
        reducer: str = "REDUCE_SUM",
        extra_channels: list[pulumi.Input[str]] | None = None,
        alignment: str | None = None,
    ) -> monitoring.AlertPolicy:
        """`alignment` (a scheduled job's metric): one aligned point over that period breaches at once."""
        a = self._args
        policy = monitoring.AlertPolicy(
            f"{self._base}-{role}",
            display_name=f"{self._prefix}: {title}",
            combiner="OR",
            severity="ERROR",
            conditions=[
                monitoring.AlertPolicyConditionArgs(
                    display_name=title,
                    condition_threshold=monitoring.AlertPolicyConditionConditionThresholdArgs(
                        filter=metric_filter,
                        comparison="COMPARISON_GT",
                        threshold_value=threshold,
                        # The breach must last evaluation_periods periods: a blip does not page anyone.
                        duration="0s" if alignment else f"{a.period_seconds * a.evaluation_periods}s",
                        aggregations=[
                            monitoring.AlertPolicyConditionConditionThresholdAggregationArgs(
                                alignment_period=alignment or f"{a.period_seconds}s",
                                per_series_aligner=aligner,
                                cross_series_reducer=reducer,
                            )
                        ],
                        # No traffic is not an outage: missing data does not open an incident.
                        evaluation_missing_data="EVALUATION_MISSING_DATA_INACTIVE",
                    ),
                )
            ],
            notification_channels=[c.name for c in self._channels] + list(extra_channels or []),
            alert_strategy=monitoring.AlertPolicyAlertStrategyArgs(auto_close=f"{7 * 86400}s"),
            documentation=monitoring.AlertPolicyDocumentationArgs(
                content=f"{title} above {threshold} for {a.evaluation_periods} x {a.period_seconds}s. "
                "See docs/gcp.md (operations) for the runbook.",
                mime_type="text/markdown",
            ),
            user_labels=self._labels,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(self._services.values())),
        )
        self.native.policies[role] = policy
        return policy

    def _dashboard_json(self) -> dict[str, object]:
        """Charts over this stack's resources (names start with the stack prefix; endpoints by resource type)."""
        prefix = self._prefix

        def chart(title: str, flt: str, aligner: str = "ALIGN_RATE") -> dict[str, object]:
            return {
                "title": title,
                "xyChart": {
                    "dataSets": [
                        {
                            "timeSeriesQuery": {
                                "timeSeriesFilter": {
                                    "filter": flt,
                                    "aggregation": {"alignmentPeriod": "60s", "perSeriesAligner": aligner},
                                }
                            },
                            "plotType": "LINE",
                        }
                    ]
                },
            }

        tiles = [
            chart(
                "API requests by status",
                f'{GATEWAY_RESOURCE} AND resource.labels.gateway_id = starts_with("{prefix}") AND '
                'metric.type = "apigateway.googleapis.com/proxy/request_count"',
            ),
            chart(
                "Function requests by status",
                f'{FUNCTION_RESOURCE} AND resource.labels.service_name = starts_with("{prefix}") AND '
                'metric.type = "run.googleapis.com/request_count"',
            ),
            chart(
                "Endpoint predictions",
                f'{ENDPOINT_RESOURCE} AND metric.type = "aiplatform.googleapis.com/prediction/online/prediction_count"',
            ),
            chart(
                "Endpoint p99 latency (ms)",
                f"{ENDPOINT_RESOURCE} AND metric.type = "
                '"aiplatform.googleapis.com/prediction/online/prediction_latencies"',
                "ALIGN_PERCENTILE_99",
            ),
        ]
        tiles += dashboard_tiles(
            base_name("gcp:generic", "")
        )  # drift, prediction drift, fallback rate, volume
        return {
            "displayName": f"{prefix} platform",
            "mosaicLayout": {
                "columns": 12,
                "tiles": [
                    {"xPos": (i % 2) * 6, "yPos": (i // 2) * 4, "width": 6, "height": 4, "widget": t}
                    for i, t in enumerate(tiles)
                ],
            },
        }
