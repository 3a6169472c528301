"""Observability on AWS: an encrypted SNS topic, CloudWatch alarms for what the stack asks to watch, a dashboard.

It is created first; the other components call `watch_endpoint(...)` (whose alarms drive the endpoint's blue/green
auto-rollback) and `watch_api(...)`. The dashboard's name is fixed at construction (it is an output), and the
dashboard itself is published by the last watch call, `watch_api`, once every widget is known: a dashboard
resource must be given its whole body, and no later call can amend it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, NamedTuple

import pulumi
import pulumi_aws.cloudwatch as cloudwatch
import pulumi_aws.kms as kms
import pulumi_aws.sns as sns

from components import aws_policy as pol
from components.naming import physical_name
from components.observability.monitoring_aws import ModelMonitoring
from components.observability.spec import (
    METRIC_NAMESPACE,
    MONITORING_OUTPUTS,
    OUTPUTS,
    MonitoringArgs,
    ObservabilityArgs,
    WatchOrder,
)
from components.observability.spec import Observability as Concept
from components.tags import component_tags

US_PER_MS = 1000  # SageMaker reports ModelLatency in microseconds
KEY_ROTATION_DAYS = 90  # the platform's rotation bound (aws-kms-key-rotation, CIS); KMS accepts 90-2560


class Rule(NamedTuple):
    """One alarm: name suffix, metric, statistic (Sum, Average, ... or a percentile like p99), threshold."""

    role: str
    metric: str
    statistic: str
    threshold: int
    description: str


@dataclass(frozen=True)
class ObservabilityNative:
    key: kms.Key
    topic: sns.Topic
    subscription: sns.TopicSubscription | None
    alarms: list[cloudwatch.MetricAlarm] = field(default_factory=list)
    dashboards: list[cloudwatch.Dashboard] = field(default_factory=list)


class Observability(WatchOrder, pulumi.ComponentResource):
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
    monitoring: ModelMonitoring | None = None

    def __init__(
        self, name: str, args: ObservabilityArgs, *, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tricloud:aws:Observability", name, None, opts)
        for output in MONITORING_OUTPUTS:  # set by watch_model; empty until then
            setattr(self, output, pulumi.Output.from_input(""))
        args.validate()
        self._args = args
        self._tags = component_tags("aws", Concept.name, args.tags)
        self._project, self._stack = pulumi.get_project(), pulumi.get_stack()
        ctx = pol.context(self)
        self._region = ctx.region
        child = pulumi.ResourceOptions(parent=self)
        key = kms.Key(
            f"{name}-key",
            description=f"{self._project}-{self._stack} alert topic",
            enable_key_rotation=True,  # limits what one key version protects
            rotation_period_in_days=KEY_ROTATION_DAYS,
            deletion_window_in_days=30,  # a mistaken delete can be cancelled
            # CloudWatch must encrypt what it publishes; an AWS-managed SNS key cannot grant it that.
            policy=pol.document(
                [
                    pol.key_admin_statement(ctx),
                    {
                        "Sid": "CloudWatchAlarmsOfThisAccount",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudwatch.amazonaws.com"},
                        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                        "Resource": "*",
                        "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account_id}},
                    },
                ]
            ),
            tags=self._tags,
            opts=child,
        )
        topic = sns.Topic(
            f"{name}-alerts",
            name=physical_name("aws:generic", self._project, self._stack, "alerts"),
            kms_master_key_id=key.arn,  # alert texts name resources and values: encrypt at rest
            tags=self._tags,
            opts=child,
        )
        subscription = None
        if args.alert_email:
            subscription = sns.TopicSubscription(
                f"{name}-email", topic=topic.arn, protocol="email", endpoint=args.alert_email, opts=child
            )
        self._topic = topic
        self._widgets: list[pulumi.Output[dict]] = []
        self._published = False
        self._dashboard_name = physical_name("aws:generic", self._project, self._stack, "platform")
        self.alerts_channel = topic.arn
        self.dashboard = pulumi.Output.from_input(self._dashboard_name)
        self.native = ObservabilityNative(key=key, topic=topic, subscription=subscription)

    # --- watching ----------------------------------------------------------------------------------------------

    def watch_model(
        self, args: MonitoringArgs, *, lake: object, spark: object, github_repository: str
    ) -> ModelMonitoring:
        """The drift job on its schedule, drift/fallback/stale alarms, their panels, the retrain trigger
        (components/observability/monitoring_aws.py). Call before watch_api, which publishes the dashboard."""
        self._check_open("watch_model")
        if self._published:
            raise RuntimeError("watch_model after the dashboard was published: call it before watch_api")
        m = ModelMonitoring(self, self.pulumi_resource_name, args, lake=lake, spark=spark,
                            topic_arn=self._topic.arn, github_repository=github_repository, tags=self._tags)  # fmt: skip
        self._widgets.extend(m.widgets)
        self.native.alarms.extend(m.native.alarms.values())
        self.monitoring = m
        self.prediction_capture_uri = m.capture_uri
        self.drift_job = m.drift_job
        self.drift_schedule = m.drift_schedule
        self.drift_reports_uri = m.reports_uri
        self.drift_alarm = m.drift_alarm
        self.drift_metrics_scope = pulumi.Output.from_input(METRIC_NAMESPACE)
        self.retrain_trigger = m.retrain_trigger
        return m

    def watch_endpoint(
        self, endpoint_name: str, variant_name: str, *, label: str = "endpoint"
    ) -> list[cloudwatch.MetricAlarm]:
        """5xx and p99 latency alarms on one endpoint variant; the endpoint rolls back when either fires.

        `label` names the alarms (`<project>-<stack>-<label>-5xx`); give each watched endpoint its own.
        """
        a = self._args
        dims = {"EndpointName": endpoint_name, "VariantName": variant_name}
        self._widgets.append(
            self._widget(
                f"Endpoint {endpoint_name}",
                "AWS/SageMaker",
                [("Invocations", "Sum"), ("Invocation5XXErrors", "Sum"), ("ModelLatency", "p99")],
                dims,
            )
        )
        return self._alarms(
            "AWS/SageMaker",
            dims,
            [
                Rule(f"{label}-5xx", "Invocation5XXErrors", "Sum", a.endpoint_5xx_threshold,
                     "Model container errors: a new model that fails rolls back"),
                Rule(f"{label}-latency-p99", "ModelLatency", "p99", a.model_latency_p99_ms * US_PER_MS,
                     f"p99 model latency above {a.model_latency_p99_ms} ms"),
            ],
        )  # fmt: skip

    def watch_api(
        self, api_id: pulumi.Input[str], stage: str, function_name: pulumi.Input[str]
    ) -> list[cloudwatch.MetricAlarm]:
        """API 5xx, function errors and throttles; then publishes the dashboard (the last watch of the stack)."""
        a = self._args
        api_dims = {"ApiId": api_id, "Stage": stage}
        fn_dims = {"FunctionName": function_name}
        alarms = self._alarms(
            "AWS/ApiGateway",
            api_dims,
            [Rule("api-5xx", "5xx", "Sum", a.api_5xx_threshold, "API answers 5xx to callers")],
        ) + self._alarms(
            "AWS/Lambda",
            fn_dims,
            [
                Rule("function-errors", "Errors", "Sum", a.function_error_threshold,
                     "Handler errors (unhandled exceptions, timeouts)"),
                Rule("function-throttles", "Throttles", "Sum", a.function_throttle_threshold,
                     "Reserved concurrency is too low for the traffic"),
            ],
        )  # fmt: skip
        self._widgets.append(
            self._widget(
                "API", "AWS/ApiGateway", [("Count", "Sum"), ("5xx", "Sum"), ("Latency", "p99")], api_dims
            )
        )
        self._widgets.append(
            self._widget(
                "Function",
                "AWS/Lambda",
                [("Invocations", "Sum"), ("Errors", "Sum"), ("Throttles", "Sum"), ("Duration", "p99")],
                fn_dims,
            )
        )
        self.publish_dashboard()
        self._complete()
        return alarms

    def publish_dashboard(self) -> cloudwatch.Dashboard:
        """Create the dashboard from every widget watched so far; call once, after the last watch."""
        if self._published:
            raise RuntimeError(
                f"dashboard {self._dashboard_name!r} is already published; watch before publishing"
            )
        self._published = True
        body = pulumi.Output.all(*[pulumi.Output.from_input(w) for w in self._widgets]).apply(
            lambda widgets: json.dumps({"widgets": list(widgets)}, sort_keys=True)
        )
        dash = cloudwatch.Dashboard(
            f"{self.pulumi_resource_name}-dashboard",
            dashboard_name=self._dashboard_name,
            dashboard_body=body,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.native.dashboards.append(dash)
        return dash

    # --- building blocks ---------------------------------------------------------------------------------------

    def _alarms(
        self, namespace: str, dims: Mapping[str, pulumi.Input[str]], rules: list[Rule]
    ) -> list[cloudwatch.MetricAlarm]:
        if self._published:
            raise RuntimeError("watch_* after the dashboard was published: call watch_api last")
        a = self._args
        alarms = []
        for r in rules:
            percentile = r.statistic.startswith("p")
            alarm = cloudwatch.MetricAlarm(
                f"{self.pulumi_resource_name}-{r.role}",
                name=physical_name("aws:generic", self._project, self._stack, r.role),
                alarm_description=r.description,
                namespace=namespace,
                metric_name=r.metric,
                dimensions=dims,
                statistic=None if percentile else r.statistic,
                extended_statistic=r.statistic if percentile else None,
                period=a.period_seconds,
                evaluation_periods=a.evaluation_periods,
                threshold=r.threshold,
                comparison_operator="GreaterThanOrEqualToThreshold",
                treat_missing_data="notBreaching",  # no traffic is not an incident (serverless idles at zero)
                alarm_actions=[self._topic.arn],
                ok_actions=[self._topic.arn],  # the all-clear is news too
                tags=self._tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.native.alarms.append(alarm)
            alarms.append(alarm)
        return alarms

    def _widget(
        self,
        title: str,
        namespace: str,
        metrics: list[tuple[str, str]],
        dims: Mapping[str, pulumi.Input[str]],
    ) -> pulumi.Output[dict]:
        keys = sorted(dims)
        return pulumi.Output.all(self._region, *[dims[k] for k in keys]).apply(
            lambda rv: {
                "type": "metric",
                "width": 12,
                "height": 6,
                "properties": {
                    "title": title,
                    "region": rv[0],
                    "view": "timeSeries",
                    "period": self._args.period_seconds,
                    "metrics": [
                        [namespace, m, *[x for kv in zip(keys, rv[1:], strict=True) for x in kv], {"stat": s}]
                        for m, s in metrics
                    ],
                },
            }
        )
