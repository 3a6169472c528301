"""Observability spec (cloud-neutral).

AWS: CloudWatch alarms + SNS topic + dashboard. Azure: Azure Monitor metric alerts + action group (+ Application
Insights). GCP: Cloud Monitoring alert policies + notification channel.

It is created first and watches the others: `watch_endpoint(...)` returns the endpoint alarms, which the
ModelEndpoint uses for blue/green auto-rollback; `watch_api(...)` adds the API and function alarms.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.errors import LOG_RETENTION_DAYS, in_range, matches, one_of
from components.spec_base import Args, Concept

OUTPUTS = ("alerts_channel", "dashboard")


@dataclass(frozen=True, kw_only=True)
class ObservabilityArgs(Args):
    alert_email: str | None = None  # None: alerts go to the topic/channel only (subscribe later)
    period_seconds: int = 60  # metric period each alarm evaluates
    evaluation_periods: int = 3  # three bad minutes, not one blip, page someone
    api_5xx_threshold: int = 5  # per period
    function_error_threshold: int = 5  # handler errors per period
    function_throttle_threshold: int = 1  # any throttling means reserved concurrency is too low
    endpoint_5xx_threshold: int = 1  # the rollback alarm: a new model must not fail at all
    model_latency_p99_ms: int = 1000  # p99 model latency that counts as breaching (rollback alarm)
    log_retention_days: int = 30  # retention of the platform log groups

    def validate(self) -> None:
        if self.alert_email is not None:
            matches("alert_email", self.alert_email, r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}", "an e-mail address")
        one_of("period_seconds", self.period_seconds, (10, 30, 60, 300, 900, 3600))
        in_range("evaluation_periods", self.evaluation_periods, 1, 60)
        in_range("api_5xx_threshold", self.api_5xx_threshold, 1, 1_000_000)
        in_range("function_error_threshold", self.function_error_threshold, 1, 1_000_000)
        in_range("function_throttle_threshold", self.function_throttle_threshold, 1, 1_000_000)
        in_range("endpoint_5xx_threshold", self.endpoint_5xx_threshold, 1, 1_000_000)
        in_range("model_latency_p99_ms", self.model_latency_p99_ms, 1, 600_000)
        one_of("log_retention_days", self.log_retention_days, LOG_RETENTION_DAYS)


class Observability(Concept):
    name = "Observability"
    outputs = OUTPUTS
