"""Offline alarm evaluation: moto stores alarms and metric data but never evaluates one, so the scenario evaluates
the stack's drift alarm itself, from its definition as moto holds it (metric, dimensions, statistic, period,
evaluation periods, threshold, comparison, missing-data treatment) over the data the drift job published, and
records the outcome with SetAlarmState, as CloudWatch would."""

from __future__ import annotations

import datetime as dt
import operator
from typing import Any

COMPARE = {
    "GreaterThanOrEqualToThreshold": operator.ge,
    "GreaterThanThreshold": operator.gt,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


def evaluate(cloudwatch: Any, alarm_name: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """Evaluate one alarm now; sets its state in the emulator and returns what was decided and why."""
    now = now or dt.datetime.now(dt.UTC)
    alarms = cloudwatch.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"]
    if not alarms:
        raise LookupError(f"alarm {alarm_name!r} does not exist in the emulator")
    a = alarms[0]
    period, periods = int(a["Period"]), int(a["EvaluationPeriods"])
    stat = a.get("Statistic") or a.get("ExtendedStatistic")
    resp = cloudwatch.get_metric_statistics(
        Namespace=a["Namespace"],
        MetricName=a["MetricName"],
        Dimensions=a.get("Dimensions", []),
        StartTime=now - dt.timedelta(seconds=period * periods),
        EndTime=now + dt.timedelta(seconds=60),
        Period=period,
        Statistics=[stat],
    )
    values = [p[stat] for p in sorted(resp["Datapoints"], key=lambda p: p["Timestamp"])]
    compare = COMPARE[a["ComparisonOperator"]]
    if not values:
        missing = a.get("TreatMissingData", "missing")
        state = "ALARM" if missing == "breaching" else "OK"
        reason = f"no datapoints in {periods} x {period}s (treat missing data: {missing})"
    else:
        breaching = [v for v in values if compare(v, a["Threshold"])]
        state = "ALARM" if len(breaching) >= min(periods, len(values)) and breaching else "OK"
        reason = f"{stat} {values} vs threshold {a['Threshold']} ({a['ComparisonOperator']})"
    cloudwatch.set_alarm_state(AlarmName=alarm_name, StateValue=state, StateReason=reason[:1023])
    return {"alarm": alarm_name, "state": state, "reason": reason, "actions": a.get("AlarmActions", [])}


def rule_matches(events: Any, rule_name: str, alarm_name: str, state: str = "ALARM") -> bool:
    """Whether the stack's EventBridge rule would match CloudWatch's state-change event for this alarm."""
    import json

    rule = events.describe_rule(Name=rule_name)
    pattern = json.loads(rule["EventPattern"])
    detail = pattern.get("detail", {})
    return (
        "aws.cloudwatch" in pattern.get("source", [])
        and "CloudWatch Alarm State Change" in pattern.get("detail-type", [])
        and alarm_name in detail.get("alarmName", [])
        and state in detail.get("state", {}).get("value", [])
    )
