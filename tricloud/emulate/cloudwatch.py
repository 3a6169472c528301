"""CloudWatch for the offline endpoint: SageMaker's invocation metrics, and the alarms that judge a canary.

moto stores metrics and alarms but never evaluates an alarm (DESIGN.md 5). Offline, three parts do CloudWatch's
and SageMaker's share of the work, each through the emulator's CloudWatch API:

- `EndpointMetrics` turns each invocation the runtime shim routes into SageMaker's one-minute metrics (namespace
  `AWS/SageMaker`: `Invocations`, `Invocation4XXErrors`, `Invocation5XXErrors`, `ModelLatency` in microseconds),
  published with PutMetricData per `EndpointName` + `VariantName` (both fleets of a blue/green update carry the
  variant's name, so their invocations add up there, as the rollback alarms see them). No narrower dimension set
  is published: moto matches a query's dimensions as a subset, so a second set would be counted twice.
- `evaluate` is the alarm rule on the values of an alarm's evaluation range (known answers in
  tests/model/test_alarms.py); `AlarmEvaluator` reads each alarm (DescribeAlarms), its statistic per period
  (GetMetricStatistics; a percentile such as p99 from the values published, since moto answers extended
  statistics without a value), evaluates it and sets the state (SetAlarmState), as CloudWatch does every minute.
- `Clock`: emulated time. Offline, time runs `factor` times faster than the wall clock (default 60: one emulated
  minute per second, `TRICLOUD_TIME_FACTOR`), so a 5-minute canary bake lasts 5 seconds. Metric timestamps, alarm
  periods and every deployment wait are in emulated time; latencies are real (a request is not faster offline).
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

NAMESPACE = "AWS/SageMaker"
METRIC_PERIOD_S = 60  # SageMaker publishes invocation metrics at one-minute granularity
TIME_FACTOR_ENV = "TRICLOUD_TIME_FACTOR"
DEFAULT_TIME_FACTOR = 60.0  # one emulated minute per real second
EXTRA_PERIODS = (
    2  # the evaluation range: CloudWatch retrieves more points than the evaluation periods (N + 2)
)
MAX_VALUES_PER_DATUM = 150  # PutMetricData's limit of Values per metric datum
KEEP_MINUTES = 24 * 60  # published latency values kept for percentile alarms (a day of emulated minutes)

OK, ALARM, INSUFFICIENT = "OK", "ALARM", "INSUFFICIENT_DATA"
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}
MISSING_TREATMENTS = ("breaching", "notBreaching", "ignore", "missing")


def time_factor(env: dict[str, str] | None = None) -> float:
    """`TRICLOUD_TIME_FACTOR` (emulated seconds per real second), default 60; a bad value names the variable."""
    raw = (env if env is not None else os.environ).get(TIME_FACTOR_ENV, "")
    if not raw:
        return DEFAULT_TIME_FACTOR
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 1 <= value <= 3600:  # `not` also refuses NaN
        from components.errors import InvalidArgs

        raise InvalidArgs(TIME_FACTOR_ENV, raw, "must be a number from 1 (real time) to 3600")
    return value


class Clock:
    """Emulated time: from `origin` (a real epoch second) on, `factor` emulated seconds pass per real second."""

    def __init__(self, factor: float | None = None, *, real: Callable[[], float] = time.time) -> None:
        self.factor = factor if factor is not None else time_factor()
        self.real = real
        self.origin = real()

    def now(self) -> float:
        return self.origin + (self.real() - self.origin) * self.factor

    def real_seconds(self, emulated_s: float) -> float:
        return emulated_s / self.factor

    def wait(self, emulated_s: float, stop: threading.Event | None = None) -> bool:
        """Wait `emulated_s` emulated seconds; True when `stop` was set first."""
        real = max(0.0, self.real_seconds(emulated_s))
        if stop is None:
            time.sleep(real)
            return False
        return stop.wait(real)

    def until(self, emulated_t: float, stop: threading.Event | None = None) -> bool:
        return self.wait(emulated_t - self.now(), stop)


# --- the alarm rule ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlarmRule:
    """A metric alarm as DescribeAlarms returns it (the fields its evaluation reads)."""

    name: str
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: str  # Sum | Average | SampleCount | Minimum | Maximum, or an extended statistic such as p99
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    treat_missing: str = "missing"  # CloudWatch's default

    def __post_init__(self) -> None:
        if self.comparison not in COMPARISONS:
            raise ValueError(f"alarm {self.name}: comparison {self.comparison!r} is not evaluated offline")
        if self.treat_missing not in MISSING_TREATMENTS:
            raise ValueError(f"alarm {self.name}: TreatMissingData {self.treat_missing!r} is unknown")
        if not 1 <= self.datapoints_to_alarm <= self.evaluation_periods:
            raise ValueError(
                f"alarm {self.name}: DatapointsToAlarm {self.datapoints_to_alarm} is not within 1.."
                f"{self.evaluation_periods} (EvaluationPeriods)"
            )

    @classmethod
    def from_api(cls, a: dict[str, Any]) -> AlarmRule:
        n = int(a["EvaluationPeriods"])
        return cls(
            name=a["AlarmName"],
            namespace=a["Namespace"],
            metric=a["MetricName"],
            dimensions=tuple(sorted((d["Name"], d["Value"]) for d in a.get("Dimensions", []))),
            statistic=a.get("ExtendedStatistic") or a["Statistic"],
            period=int(a["Period"]),
            evaluation_periods=n,
            datapoints_to_alarm=int(a.get("DatapointsToAlarm") or n),  # absent: N of N
            threshold=float(a["Threshold"]),
            comparison=a["ComparisonOperator"],
            treat_missing=a.get("TreatMissingData") or "missing",
        )

    @property
    def extended(self) -> bool:
        return self.statistic.startswith("p")

    def breaches(self, value: float) -> bool:
        return COMPARISONS[self.comparison](value, self.threshold)


@dataclass(frozen=True)
class Verdict:
    state: str
    reason: str
    evaluated: list[float | None] = field(default_factory=list)  # the points the decision used, oldest first
    breaching: int = 0


def evaluate(rule: AlarmRule, values: Sequence[float | None], current: str = INSUFFICIENT) -> Verdict:
    """CloudWatch's alarm rule on the values of the evaluation range, oldest first (None: no datapoint).

    - At least N (EvaluationPeriods) real points in the range: the newest N real points decide, missing ones are
      skipped whatever TreatMissingData says; ALARM when at least M (DatapointsToAlarm) of them breach.
    - Fewer real points: the missing ones among the last N are filled as TreatMissingData says (`breaching`,
      `notBreaching`); `missing` and `ignore` count only the real ones, and with no real point at all `missing`
      goes to INSUFFICIENT_DATA and `ignore` keeps the current state (as does `ignore` when the real points
      cannot decide either way).
    """
    n, m = rule.evaluation_periods, rule.datapoints_to_alarm
    real = [v for v in values if v is not None]
    if len(real) >= n:
        window: list[float | None] = list(real[-n:])
        breaching = sum(rule.breaches(v) for v in real[-n:])
        state = ALARM if breaching >= m else OK
        return Verdict(state, _reason(rule, window, breaching), window, breaching)
    window = list(values[-n:]) if len(values) >= n else [None] * (n - len(values)) + list(values)
    missing = n - len(real)
    real_breaching = sum(rule.breaches(v) for v in real)
    breaching = real_breaching + missing if rule.treat_missing == "breaching" else real_breaching
    if breaching >= m:
        return Verdict(ALARM, _reason(rule, window, breaching), window, breaching)
    if not real and rule.treat_missing == "missing":
        return Verdict(INSUFFICIENT, f"no datapoint in the last {len(values)} periods", window, 0)
    if rule.treat_missing == "ignore":
        cannot_alarm = (len(real) - real_breaching) > n - m  # even if every missing point breached
        if not real or not cannot_alarm:
            return Verdict(current, "missing data ignored: the state is kept", window, breaching)
    return Verdict(OK, _reason(rule, window, breaching), window, breaching)


def _reason(rule: AlarmRule, window: list[float | None], breaching: int) -> str:
    shown = ", ".join("missing" if v is None else f"{v:g}" for v in window)
    return (
        f"{breaching} of the last {rule.evaluation_periods} datapoints [{shown}] were {rule.comparison} "
        f"{rule.threshold:g} ({rule.statistic} over {rule.period} s; {rule.datapoints_to_alarm} to alarm)"
    )


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p % of the values at or below it (p99 of 100 values is the
    99th smallest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def period_slots(end: float, period: int, count: int) -> list[float]:
    """Start times (epoch s) of the `count` complete periods before `end`, oldest first, aligned to the period."""
    last = math.floor(end / period) * period
    return [last - period * (count - i) for i in range(count)]


# --- metrics -----------------------------------------------------------------------------------------------------


@dataclass
class _Bucket:
    invocations: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    latencies_us: list[float] = field(default_factory=list)


class EndpointMetrics:
    """Per-minute SageMaker invocation metrics from the invocations the runtime shim routes, published to CloudWatch
    (`put` is the emulator's PutMetricData) once each emulated minute is over."""

    def __init__(self, put: Callable[..., Any], clock: Clock) -> None:
        self.put, self.clock = put, clock
        self._buckets: dict[tuple[str, str, int], _Bucket] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.published = 0  # datums sent, for the run's summary
        self.errors: list[str] = []
        # The ModelLatency values published, per (endpoint, variant, minute): moto stores them but computes no
        # percentile (GetMetricStatistics answers extended statistics with no value), so alarms on p99 read these.
        self._published: dict[tuple[str, str, int], list[float]] = {}

    def latency_values(self, rule: AlarmRule, start: float, end: float) -> list[float] | None:
        """The ModelLatency values published for `rule`'s endpoint and variant in [start, end); None: no datapoint."""
        dims = dict(rule.dimensions)
        if (
            rule.namespace != NAMESPACE
            or rule.metric != "ModelLatency"
            or set(dims) != {"EndpointName", "VariantName"}
        ):
            raise ValueError(f"alarm {rule.name}: {rule.statistic} of {rule.metric} is not computed offline")
        key = (dims["EndpointName"], dims["VariantName"])
        with self._lock:
            found = [v for (e, var, m), vals in self._published.items() if (e, var) == key and start <= m < end
                     for v in vals]  # fmt: skip
        return found or None

    def record(self, endpoint: str, variant: str, status: int, latency_us: float) -> None:
        """One invocation: the container's HTTP status (599 when it could not be reached) and the model latency."""
        minute = int(self.clock.now() // METRIC_PERIOD_S) * METRIC_PERIOD_S
        with self._lock:
            b = self._buckets.setdefault((endpoint, variant, minute), _Bucket())
            b.invocations += 1
            b.errors_4xx += 400 <= status < 500
            b.errors_5xx += status >= 500
            if (
                status < 500
            ):  # SageMaker measures the model's latency on answers, not on unreachable containers
                b.latencies_us.append(latency_us)

    def flush(self, before: float | None = None) -> int:
        """Publish every minute that ended before `before` (emulated; default now). Returns datums sent."""
        cutoff = self.clock.now() if before is None else before
        with self._lock:
            done = {k: v for k, v in self._buckets.items() if k[2] + METRIC_PERIOD_S <= cutoff}
            for k in done:
                del self._buckets[k]
                if done[k].latencies_us:
                    self._published[k] = list(done[k].latencies_us)
            for k in sorted(self._published, key=lambda k: k[2])[:-KEEP_MINUTES]:
                del self._published[k]  # bounded: longer than any evaluation range the alarms allow offline
        datums: list[dict[str, Any]] = []
        for (endpoint, variant, minute), b in sorted(done.items(), key=lambda kv: kv[0][2]):
            stamp = datetime.fromtimestamp(minute, UTC)
            dimensions = [
                {"Name": "EndpointName", "Value": endpoint},
                {"Name": "VariantName", "Value": variant},
            ]
            for name, count in (
                ("Invocations", b.invocations),
                ("Invocation4XXErrors", b.errors_4xx),
                ("Invocation5XXErrors", b.errors_5xx),
            ):
                datums.append(
                    {
                        "MetricName": name,
                        "Dimensions": dimensions,
                        "Timestamp": stamp,
                        "Value": float(count),
                        "Unit": "None",
                    }
                )
            for i in range(0, len(b.latencies_us), MAX_VALUES_PER_DATUM):
                chunk = b.latencies_us[i : i + MAX_VALUES_PER_DATUM]
                datums.append(
                    {
                        "MetricName": "ModelLatency",
                        "Dimensions": dimensions,
                        "Timestamp": stamp,
                        "Values": [round(v, 1) for v in chunk],
                        "Counts": [1.0] * len(chunk),
                        "Unit": "Microseconds",
                    }
                )
        for i in range(0, len(datums), 20):
            self.put(Namespace=NAMESPACE, MetricData=datums[i : i + 20])
        self.published += len(datums)
        return len(datums)

    def start(self) -> EndpointMetrics:
        """Flush at every emulated minute boundary until `stop()`."""
        self._thread = threading.Thread(target=self._run, name="endpoint-metrics", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            boundary = (math.floor(self.clock.now() / METRIC_PERIOD_S) + 1) * METRIC_PERIOD_S
            if self.clock.until(boundary, self._stop):
                return
            try:
                self.flush()
            except Exception as exc:  # a failed publish is reported, it never stops the endpoint
                self.errors.append(f"{type(exc).__name__}: {exc}"[:300])

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush(before=math.inf)


# --- alarms --------------------------------------------------------------------------------------------------------


class AlarmEvaluator:
    """Evaluates named alarms from the emulator's metrics and sets their state there, as CloudWatch does."""

    def __init__(
        self,
        cloudwatch: Any,
        clock: Clock,
        names: Sequence[str],
        samples: Callable[[AlarmRule, float, float], list[float] | None] | None = None,
    ) -> None:
        """`samples(rule, start, end)`: the raw values of a period, for extended statistics (moto computes none)."""
        self.cw, self.clock, self.names, self.samples = cloudwatch, clock, list(names), samples
        self.history: list[tuple[float, str, str, str]] = []  # (emulated time, alarm, old state, new state)
        self.last: dict[str, Verdict] = {}

    def rules(self) -> list[tuple[AlarmRule, str]]:
        alarms = self.cw.describe_alarms(AlarmNames=self.names)["MetricAlarms"] if self.names else []
        found = {a["AlarmName"] for a in alarms}
        missing = sorted(set(self.names) - found)
        if missing:
            raise LookupError(f"alarms {missing} do not exist in CloudWatch")
        return [(AlarmRule.from_api(a), a.get("StateValue", INSUFFICIENT)) for a in alarms]

    def values(self, rule: AlarmRule, now: float) -> list[float | None]:
        """The statistic per period over the evaluation range (N + 2 complete periods before `now`)."""
        slots = period_slots(now, rule.period, rule.evaluation_periods + EXTRA_PERIODS)
        if rule.extended:
            if self.samples is None:
                raise ValueError(f"alarm {rule.name}: {rule.statistic} needs the published values (samples=)")
            found = [self.samples(rule, s, s + rule.period) for s in slots]
            return [percentile(v, float(rule.statistic[1:])) if v else None for v in found]
        points = self.cw.get_metric_statistics(
            Namespace=rule.namespace,
            MetricName=rule.metric,
            Dimensions=[{"Name": k, "Value": v} for k, v in rule.dimensions],
            StartTime=datetime.fromtimestamp(slots[0], UTC),
            EndTime=datetime.fromtimestamp(slots[-1] + rule.period, UTC),
            Period=rule.period,
            Statistics=[rule.statistic],
        )["Datapoints"]
        by_slot: dict[float, float] = {}
        for p in points:
            if p.get(rule.statistic) is not None:
                by_slot[p["Timestamp"].timestamp() // rule.period * rule.period] = float(p[rule.statistic])
        return [by_slot.get(s) for s in slots]

    def evaluate_all(self, now: float | None = None) -> dict[str, Verdict]:
        at = self.clock.now() if now is None else now
        out: dict[str, Verdict] = {}
        for rule, state in self.rules():
            verdict = evaluate(rule, self.values(rule, at), state)
            out[rule.name] = verdict
            if verdict.state != state:
                self.cw.set_alarm_state(
                    AlarmName=rule.name,
                    StateValue=verdict.state,
                    StateReason=f"Threshold Crossed: {verdict.reason}"[:1023],
                    StateReasonData=json.dumps(
                        {
                            "version": "1.0",
                            "evaluatedDatapoints": [v for v in verdict.evaluated if v is not None],
                            "threshold": rule.threshold,
                            "statistic": rule.statistic,
                            "period": rule.period,
                        }
                    ),
                )
                self.history.append((at, rule.name, state, verdict.state))
        self.last = out
        return out
