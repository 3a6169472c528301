"""CloudWatch alarm evaluation offline (tricloud/emulate/cloudwatch.py): known answers worked out by hand from
CloudWatch's documented rules ("Configuring how CloudWatch alarms treat missing data"), then the same rule run
against moto's stored metrics and alarms."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tricloud.emulate.cloudwatch import (
    ALARM,
    INSUFFICIENT,
    OK,
    AlarmEvaluator,
    AlarmRule,
    Clock,
    EndpointMetrics,
    evaluate,
    percentile,
    period_slots,
    time_factor,
)

X, G = 5.0, 0.0  # a breaching and a good datapoint for `>= 1`


def rule(n: int = 3, m: int | None = None, missing: str = "missing", **kw: object) -> AlarmRule:
    fields: dict = dict(
        name="a",
        namespace="AWS/SageMaker",
        metric="Invocation5XXErrors",
        dimensions=(("EndpointName", "ep"), ("VariantName", "primary")),
        statistic="Sum",
        period=60,
        evaluation_periods=n,
        datapoints_to_alarm=m if m is not None else n,
        threshold=1.0,
        comparison="GreaterThanOrEqualToThreshold",
        treat_missing=missing,
    )
    fields.update(kw)
    return AlarmRule(**fields)


@pytest.mark.parametrize(
    ("values", "m", "missing", "current", "expected"),
    [
        # 3 periods of 60 s, 2 of 3 to alarm: two breaching of three -> ALARM; one of three -> OK.
        ([X, G, X], 2, "missing", OK, ALARM),
        ([G, G, X], 2, "missing", OK, OK),
        # 3 of 3 (DatapointsToAlarm absent): one good point among them keeps it OK.
        ([X, X, G], 3, "notBreaching", OK, OK),
        ([X, X, X], 3, "notBreaching", OK, ALARM),
        # No datapoint at all: each treatment as documented.
        ([None] * 5, 3, "notBreaching", ALARM, OK),
        ([None] * 5, 3, "breaching", OK, ALARM),
        ([None] * 5, 3, "missing", OK, INSUFFICIENT),
        ([None] * 5, 3, "ignore", ALARM, ALARM),
        ([None] * 5, 3, "ignore", OK, OK),
        # At least N real points in the range: the newest N real ones decide, missing ones are skipped.
        ([X, X, None, G, G], 2, "breaching", OK, OK),  # newest real three: X, G, G -> one breach
        ([G, X, None, X, None], 2, "notBreaching", OK, ALARM),  # G, X, X -> two
        # Fewer real points than N: the gaps are filled as TreatMissingData says.
        ([None, None, None, X, None], 2, "breaching", OK, ALARM),  # 1 real breach + 2 filled breaches
        ([None, None, None, X, None], 2, "notBreaching", OK, OK),  # 1 breach, 2 filled good
        ([None, None, X, X, None], 2, "notBreaching", OK, ALARM),  # two real breaches are enough
    ],
)
def test_known_answers(values: list, m: int, missing: str, current: str, expected: str) -> None:
    assert evaluate(rule(3, m, missing), values, current).state == expected


def test_comparison_at_the_threshold() -> None:
    at = [1.0, 1.0, 1.0]
    assert evaluate(rule(comparison="GreaterThanOrEqualToThreshold"), at).state == ALARM
    assert evaluate(rule(comparison="GreaterThanThreshold"), at).state == OK
    assert evaluate(rule(comparison="LessThanThreshold", threshold=2.0), at).state == ALARM
    assert evaluate(rule(comparison="LessThanOrEqualToThreshold", threshold=0.5), at).state == OK


def test_datapoints_to_alarm_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="DatapointsToAlarm 4"):
        rule(3, 4)


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 99) == 99.0
    assert percentile(values, 50) == 50.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0


def test_period_slots() -> None:
    # now = 1000 s, 60 s periods: the last complete one is [900, 960); [960, 1000) is still open.
    assert period_slots(1000, 60, 3) == [780, 840, 900]
    assert period_slots(960, 60, 2) == [840, 900]


def test_clock_compresses_time() -> None:
    real = [1000.0]
    clock = Clock(60, real=lambda: real[0])
    real[0] += 2.5  # 2.5 real seconds = 150 emulated seconds
    assert clock.now() == 1150.0
    assert clock.real_seconds(300) == 5.0


def test_time_factor_env() -> None:
    assert time_factor({}) == 60.0
    assert time_factor({"TRICLOUD_TIME_FACTOR": "1"}) == 1.0
    from components.errors import InvalidArgs

    for bad in ("0", "abc", "nan", "5000"):
        with pytest.raises(InvalidArgs, match="TRICLOUD_TIME_FACTOR"):
            time_factor({"TRICLOUD_TIME_FACTOR": bad})


# --- against moto ----------------------------------------------------------------------------------------------------


@pytest.fixture()
def cloudwatch(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from moto import mock_aws, settings

    # unauthenticated in-process moto, as its default: an emulator test's session moto turns enforcement on
    # process-wide while it lives
    monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", float("inf"))
    with mock_aws():
        import boto3

        yield boto3.client("cloudwatch", region_name="ap-south-1")


def _alarm(cw, name: str, **kw: object) -> None:  # type: ignore[no-untyped-def]
    args: dict = dict(
        AlarmName=name,
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Dimensions=[{"Name": "EndpointName", "Value": "ep"}, {"Name": "VariantName", "Value": "primary"}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=3,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )
    args.update(kw)
    if "ExtendedStatistic" in args:
        args.pop("Statistic")
    cw.put_metric_alarm(**args)


T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC).timestamp()  # a minute boundary


class FixedClock(Clock):
    def __init__(self, t: float) -> None:
        super().__init__(1, real=lambda: t)
        self.t = t

    def now(self) -> float:
        return self.t


def test_published_errors_set_the_alarm_in_moto(cloudwatch) -> None:  # type: ignore[no-untyped-def]
    _alarm(cloudwatch, "ep-5xx")
    _alarm(cloudwatch, "ep-5xx-2of3", DatapointsToAlarm=2)
    clock = FixedClock(T0)
    metrics = EndpointMetrics(cloudwatch.put_metric_data, clock)
    # Three minutes: 10 invocations each; the 5xx count per minute is 1, 0, 2 (Sum per period).
    for minute, errors in enumerate((1, 0, 2)):
        clock.t = T0 + 60 * minute + 5
        for i in range(10):
            metrics.record("ep", "primary", 500 if i < errors else 200, 2000.0)
    metrics.flush(before=T0 + 180)
    evaluator = AlarmEvaluator(cloudwatch, clock, ["ep-5xx", "ep-5xx-2of3"])
    verdicts = evaluator.evaluate_all(now=T0 + 180)
    assert verdicts["ep-5xx"].evaluated == [1.0, 0.0, 2.0]
    assert verdicts["ep-5xx"].state == OK  # 2 of 3 breaching, 3 needed
    assert verdicts["ep-5xx-2of3"].state == ALARM  # 2 of 3 breaching, 2 needed
    states = {a["AlarmName"]: a["StateValue"] for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    assert states["ep-5xx-2of3"] == ALARM
    assert states["ep-5xx"] == OK


def test_latency_p99_from_published_values(cloudwatch) -> None:  # type: ignore[no-untyped-def]
    # ModelLatency in microseconds, p99 >= 1,000,000 (1 s). One minute of 100 answers: 98 at 2 ms, 2 at 1.5 s:
    # p99 of 100 sorted values is the 99th, 1.5 s -> breaching. The next minute 100 at 2 ms -> not breaching.
    _alarm(
        cloudwatch,
        "ep-p99",
        MetricName="ModelLatency",
        ExtendedStatistic="p99",
        Threshold=1_000_000.0,
        EvaluationPeriods=1,
    )
    clock = FixedClock(T0 + 10)
    metrics = EndpointMetrics(cloudwatch.put_metric_data, clock)
    for i in range(100):
        metrics.record("ep", "primary", 200, 1_500_000.0 if i < 2 else 2_000.0)
    metrics.flush(before=T0 + 60)
    evaluator = AlarmEvaluator(cloudwatch, clock, ["ep-p99"], samples=metrics.latency_values)
    assert evaluator.evaluate_all(now=T0 + 60)["ep-p99"].state == ALARM
    clock.t = T0 + 70
    for _ in range(100):
        metrics.record("ep", "primary", 200, 2_000.0)
    metrics.flush(before=T0 + 120)
    verdict = evaluator.evaluate_all(now=T0 + 120)["ep-p99"]
    assert verdict.state == OK
    assert verdict.evaluated[-1] == pytest.approx(2000.0)


def test_unknown_alarm_is_an_error(cloudwatch) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LookupError, match="nope"):
        AlarmEvaluator(cloudwatch, FixedClock(T0), ["nope"]).evaluate_all()
