"""CloudWatch log groups, metric alarms and dashboards; SNS topics and subscriptions."""

from __future__ import annotations

from typing import Any

from tricloud.engine.handlers.base import (
    Ctx,
    Handler,
    PutHandler,
    Replace,
    Resource,
    as_json,
    found,
    ignore_gone,
    register,
    tag_list,
)
from tricloud.engine.state import Entry


@register("aws:cloudwatch/logGroup:LogGroup", "logs")
class LogGroup(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        name = r.physical()
        logs = ctx.client("logs")
        kwargs: dict[str, Any] = {"logGroupName": name, "tags": dict(r.get("tags", {}))}
        if r.get("kmsKeyId"):
            kwargs["kmsKeyId"] = r.get("kmsKeyId")
        logs.create_log_group(**kwargs)
        self._retention(logs, name, r)
        return name, {"name": name, "arn": ctx.arn("logs", f"log-group:{name}"), "tagsAll": r.get("tags", {})}

    @staticmethod
    def _retention(logs: Any, name: str, r: Resource) -> None:
        if r.get("retentionInDays"):
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(r.get("retentionInDays")))
        else:
            logs.delete_retention_policy(logGroupName=name)

    def update(self, ctx: Ctx, r: Resource, old: Entry) -> tuple[str, dict[str, Any]]:
        if r.physical() != old.id:
            raise Replace
        self._retention(ctx.client("logs"), old.id, r)
        return old.id, {**old.outputs, "tagsAll": r.get("tags", {})}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("logs").delete_log_group(logGroupName=e.id))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        groups = ctx.client("logs").describe_log_groups(logGroupNamePrefix=e.id)["logGroups"]
        return any(g["logGroupName"] == e.id for g in groups)


@register("aws:cloudwatch/metricAlarm:MetricAlarm", "cloudwatch")
class MetricAlarm(PutHandler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        name = r.physical()
        kwargs: dict[str, Any] = {
            "AlarmName": name,
            "AlarmDescription": r.get("alarmDescription", ""),
            "Namespace": r.get("namespace"),
            "MetricName": r.get("metricName"),
            "Dimensions": [{"Name": k, "Value": str(v)} for k, v in sorted(r.get("dimensions", {}).items())],
            "Period": int(r.get("period")),
            "EvaluationPeriods": int(r.get("evaluationPeriods")),
            "Threshold": float(r.get("threshold")),
            "ComparisonOperator": r.get("comparisonOperator"),
            "TreatMissingData": r.get("treatMissingData", "missing"),
            "AlarmActions": list(r.get("alarmActions", [])),
            "OKActions": list(r.get("okActions", [])),
            "ActionsEnabled": bool(r.get("actionsEnabled", True)),
            "Tags": tag_list(r.get("tags")),
        }
        if r.get("statistic"):
            kwargs["Statistic"] = r.get("statistic")
        if r.get("extendedStatistic"):
            kwargs["ExtendedStatistic"] = r.get("extendedStatistic")
        if r.get("datapointsToAlarm"):
            kwargs["DatapointsToAlarm"] = int(r.get("datapointsToAlarm"))
        ctx.client("cloudwatch").put_metric_alarm(**kwargs)
        return name, {"arn": ctx.arn("cloudwatch", f"alarm:{name}"), "tagsAll": r.get("tags", {})}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("cloudwatch").delete_alarms(AlarmNames=[e.id]))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return bool(ctx.client("cloudwatch").describe_alarms(AlarmNames=[e.id])["MetricAlarms"])


@register("aws:cloudwatch/dashboard:Dashboard", "cloudwatch")
class Dashboard(PutHandler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        name = r.physical("dashboardName")
        ctx.client("cloudwatch").put_dashboard(
            DashboardName=name, DashboardBody=as_json(r.get("dashboardBody"))
        )
        return name, {"dashboardArn": f"arn:aws:cloudwatch::{ctx.account}:dashboard/{name}"}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("cloudwatch").delete_dashboards(DashboardNames=[e.id]))


@register("aws:sns/topic:Topic", "sns")
class Topic(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        attrs: dict[str, str] = {}
        if r.get("kmsMasterKeyId"):
            attrs["KmsMasterKeyId"] = str(r.get("kmsMasterKeyId"))
        if r.get("policy"):
            attrs["Policy"] = as_json(r.get("policy"))
        arn = ctx.client("sns").create_topic(
            Name=r.physical(), Attributes=attrs, Tags=tag_list(r.get("tags"))
        )["TopicArn"]
        return arn, {"arn": arn, "name": r.physical(), "tagsAll": r.get("tags", {})}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("sns").delete_topic(TopicArn=e.id))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("sns").get_topic_attributes(TopicArn=e.id))

    def locate(self, ctx: Ctx, r: Resource) -> list[Entry]:
        e = Entry(self.type, r.name, ctx.arn("sns", r.physical()), {}, "")
        return [e] if self.exists(ctx, e) else []


@register("aws:sns/topicSubscription:TopicSubscription", "sns")
class TopicSubscription(Handler):
    idempotent = True  # subscribing the same endpoint again returns the same subscription

    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        out = ctx.client("sns").subscribe(
            TopicArn=r.get("topic"),
            Protocol=r.get("protocol"),
            Endpoint=r.get("endpoint"),
            ReturnSubscriptionArn=True,
        )
        r.deviate("the e-mail subscription is recorded but no message is ever delivered offline")
        return out["SubscriptionArn"], {"arn": out["SubscriptionArn"]}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("sns").unsubscribe(SubscriptionArn=e.id))
