"""Observability spec (cloud-neutral).

AWS: CloudWatch alarms + SNS topic + dashboard. Azure: Azure Monitor metric alerts + action group (+ Application
Insights). GCP: Cloud Monitoring alert policies + notification channel.

It is created first and watches the others: `watch_endpoint(...)` returns the endpoint alarms, which the
ModelEndpoint uses for blue/green auto-rollback; `watch_model(...)` adds the drift job, its alarms and the retrain
trigger; `watch_api(...)` adds the API and function alarms and completes the component (its outputs are registered
then, once every child exists), so it is the last watch on every cloud.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.errors import LOG_RETENTION_DAYS, in_range, matches, one_of, require
from components.spec_base import Args, Concept

# Outputs of the monitoring pieces (capture delivery, drift job and its schedule, drift alarm, retrain trigger):
# the same names on every cloud.
MONITORING_OUTPUTS = ("prediction_capture_uri", "drift_job", "drift_schedule", "drift_reports_uri", "drift_alarm",
                      "drift_metrics_scope", "retrain_trigger")  # fmt: skip
OUTPUTS = ("alerts_channel", "dashboard", *MONITORING_OUTPUTS)


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


CAPTURE_PREFIX = "capture/"  # under the artifacts zone; each cloud's delivery adds its date partitions
REPORTS_PREFIX = "monitoring/drift/"  # the drift job's summary.json and report.html per run
REFERENCES_PREFIX = (
    "monitoring/references/"  # <model version>.json: the reference profile of each served model
)
RETRAINS_PREFIX = "monitoring/retrains/"  # the retrain ledger: one object per retrain started by an alarm
JOB_CODE_PREFIX = "code/monitor/"  # the drift job's code, uploaded by the stack
METRIC_NAMESPACE = "tricloud/monitoring"  # app.monitor.report.METRIC_NAMESPACE: what the job publishes
GITHUB_API = "https://api.github.com"


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs(Args):
    """`tricloud:monitoring`: prediction capture, the drift job and its alarm, and the guarded retraining it starts."""

    capture_percent: float = 100.0  # share of API requests captured (a learner's traffic is small: all)
    schedule_hours: int = 24  # the drift job runs this often, over the last window of the same length
    alpha: float = 0.05  # family-wise false-alarm rate of one window (Holm-Bonferroni over every field)
    numeric_effect: float = 0.1  # Wasserstein distance, in reference SDs, that counts as a change
    categorical_effect: float = 0.1  # Jensen-Shannon distance that counts as a change
    min_rows: int = 200  # fewer captured rows in a window: not judged, no alarm
    alarm_min_features: int = 1  # drifted fields that raise the drift alarm (a drifted prediction does too)
    fallback_rate_percent: float = 5.0  # share of rule-based answers that raises the fallback alarm
    max_mape_increase_percent: float = 25.0  # ground truth: MAPE above held-out MAPE by this raises the alarm
    retrain: bool = True  # a drift alarm dispatches the deploy workflow (train, register, approve, rollout)
    retrain_cooldown_hours: int = 24  # no alarm-started retrain within this long of the previous one
    max_retrains: int = 2  # at most this many alarm-started retrains per retrain_window_days
    retrain_window_days: int = 7  # the window max_retrains counts over
    github_workflow: str = "deploy.yml"  # the workflow a drift alarm dispatches (repository: tricloud:ci)

    def validate(self) -> None:
        in_range("capture_percent", self.capture_percent, 0.0, 100.0)
        one_of("schedule_hours", self.schedule_hours, (1, 2, 3, 4, 6, 8, 12, 24))
        in_range("alpha", self.alpha, 0.0001, 0.5)
        in_range("numeric_effect", self.numeric_effect, 0.0, 10.0)
        in_range("categorical_effect", self.categorical_effect, 0.0, 1.0)
        in_range("min_rows", self.min_rows, 30, 10_000_000)
        in_range("alarm_min_features", self.alarm_min_features, 1, 10)
        in_range("fallback_rate_percent", self.fallback_rate_percent, 0.1, 100.0)
        in_range("max_mape_increase_percent", self.max_mape_increase_percent, 0.0, 1000.0)
        in_range("retrain_cooldown_hours", self.retrain_cooldown_hours, 1, 24 * 30)
        in_range("max_retrains", self.max_retrains, 1, 50)
        in_range("retrain_window_days", self.retrain_window_days, 1, 90)
        matches("github_workflow", self.github_workflow, r"[A-Za-z0-9_.-]+\.ya?ml", "a workflow file name")
        require(
            self.retrain_window_days * 24 >= self.retrain_cooldown_hours,
            "retrain_window_days",
            self.retrain_window_days,
            f"must cover retrain_cooldown_hours ({self.retrain_cooldown_hours} h)",
        )

    def job_arguments(self) -> list[str]:
        """The drift job's threshold arguments (app.monitor's command line), the same on every cloud."""
        return [
            "--window-hours", str(self.schedule_hours), "--alpha", str(self.alpha),
            "--numeric-effect", str(self.numeric_effect), "--categorical-effect", str(self.categorical_effect),
            "--min-rows", str(self.min_rows), "--alarm-min-features", str(self.alarm_min_features),
            "--max-mape-increase", str(self.max_mape_increase_percent / 100),
        ]  # fmt: skip


class WatchOrder:
    """Mixed into every cloud's Observability: watch_endpoint and watch_model first, then watch_api, which completes
    the component. The watchers add its children after __init__, so its outputs are final (and registered) only
    after the last one; a watch after that is a mistake in the stack's order."""

    _completed = False

    def _check_open(self, what: str) -> None:
        if self._completed:
            raise RuntimeError(f"{what} after watch_api completed Observability: call watch_api last")

    def _complete(self) -> None:
        self._check_open("watch_api")
        self._completed = True
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})  # type: ignore[attr-defined]
